"""Training, readable top to bottom. Same script on one process or N under torchrun (DDP).

    drumd train --config train.yaml --set max_minutes=20
    drumd train --data ~/loops --map ezdrummer2 --finetune --out runs/mine
    torchrun --nproc_per_node 2 -m drumd.engine.training.train --config train.yaml

Fine-tuning (`finetune`: a checkpoint, or "shipped") starts from that model: its styles are
kept, the data's new ones added (their style-embedding rows start as the mean of the known
rows), every other weight is copied. `freeze` leaves named parts as they are, `anchor` pulls
every weight toward its start, a fine-tune may set its own dropout. Its defaults
(FINETUNE_DEFAULTS, for the options the config and --set leave unset) were chosen by
measurement, see there.

Stopping: after max_iters, after max_minutes (counted from the command's start, loading
included: the last iteration is the one after which the closing evaluation and save still fit),
after `patience` evaluations without a better best.pt (select_on: of the events, of the events
with their velocity and timing, or auto: selection.py), or on Ctrl-C (SIGINT:
the run stops after the current iteration and raises Interrupted; best.pt and last.pt stay as
the last evaluation left them, never half-written).
"""
from __future__ import annotations

import csv
import math
import os
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml

from drumd.engine.data.encoding import METER_INPUTS, METERS, bar_steps, meter_name, parse_meter
from drumd.engine.data.gmd import DATA_MAP, load_dataset
from drumd.engine.data.library import holds_gmd, load_library
from drumd.engine.model.checkpoint import load_checkpoint, save_checkpoint
from drumd.engine.model.features import HITS_PER_EVENT, sequence_features
from drumd.engine.model.lstm import DrumLSTM, ModelConfig, StepInputs, losses
from drumd.engine.model.spec import lstm_input_width
from drumd.engine.progress import on_terminal
from drumd.engine.sampling.warmup import bank_from_meta, bank_to_meta, build_bank
from drumd.engine.training.selection import Selection
from drumd.mappings.basics.files import atomic_open
from drumd.mappings.basics.settingsfile import read_entries

INPUT_KEYS = [f.name for f in fields(StepInputs)]


@dataclass
class TrainConfig:
    """Every option of a training run (`drumd train`, YAML `--config`, `--set key=value`), with
    its default; load() reads and validates them (errors name the file's line)."""
    data: str | None = None          # Groove MIDI Dataset folder (default: ../shared/data/gmd),
                                     # or any folder of drum MIDI files (engine/data/library.py)
    map: str | None = None           # a folder's drum map (default gm); GMD is read as roland-td
    channel: int = 10                # a folder's drum channel (a file with none there: its busiest)
    style: str | None = None         # style of the files at a folder's top (default: its name)
    val_share: float = 0.1           # a folder's share of files held out for validation
    out: str = "runs/default"        # run folder: log.csv, best.pt, last.pt
    model: dict = field(default_factory=dict)  # ModelConfig overrides
    batch_size: int = 64
    seq_len: int = 128
    lr: float = 3e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    max_iters: int = 6000
    max_minutes: float = 20.0        # wall-clock budget; training stops cleanly at it
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    expr_weight: float = 0.5         # velocity/timing loss weight relative to the event NLL
    eval_interval: int = 200
    patience: int = 6                # evals without validation improvement before stopping
    seed: int = 1234
    threads: int = 2
    limit_files: int = 0             # >0: use only this many files per split (tests, smoke runs)
    resume: str | None = None        # a last.pt to continue from
    finetune: str | None = None      # a checkpoint to start from ("shipped": the shipped model)
    freeze: list = field(default_factory=list)  # weights left as they are: module names (lstm,
                                     # event_emb, style_emb, tempo_emb, event_head, expr_head) or
                                     # weight-name prefixes (lstm.weight_hh_l1)
    anchor: float = 0.0              # fine-tuning: L2 pull of every weight toward its starting
                                     # value (L2-SP, Li et al. 2018), per step of the loss
    select_on: str = "events"        # what best.pt and early stopping judge the held-out files
                                     # by: "events" (which drums hit: event NLL a 16th), "all"
                                     # (with the hits' velocity and timing: event NLL + hits a
                                     # 16th x velocity and timing NLL a hit) or "auto" ("all" once
                                     # it beats the start, else "events": selection.py)
    expr_lr: float = 1.0             # the expression head's (velocity, timing) learning rate
                                     # as a multiple of lr
    new_meter_lr: float = 1.0        # fine-tuning: the learning rate of the first layer's input
                                     # weights for meters the checkpoint never learnt, as a
                                     # multiple of lr (they start at zero in the shipped model);
                                     # measured no gain, so 1 (FINETUNE_DEFAULTS)
    progress: bool | None = None     # tqdm bars; None: only when stderr is a terminal

    @classmethod
    def load(cls, path: str | None, overrides: dict) -> "TrainConfig":
        """Options from a YAML file (path, or None), then `overrides` (--set, --data, ...).
        Raises ValueError in one line naming FILE:LINE (SettingsFileError: unreadable, bad
        YAML, not a mapping, an option set twice) or the option: unknown, or not a number."""
        entries = read_entries(path, "a mapping of training options") if path else []
        where = {e.key: f"{path}:{e.line}" for e in entries}  # an option's place in the file
        raw = {e.key: e.value for e in entries}
        for k in overrides:
            where[k] = "options"
        raw.update(overrides)
        if raw.get("finetune") is not None:  # its defaults, for what the user left unset
            raw = {**FINETUNE_DEFAULTS, **raw}
        known = {f.name for f in fields(cls)}
        unknown = [k for k in raw if k not in known]
        if unknown:
            raise ValueError(f"{where.get(unknown[0], 'options')}: unknown training option(s) "
                             f"{sorted(unknown)}; known: {sorted(known)}")
        for f in fields(cls):  # numbers as numbers (YAML reads 1e-3, without a dot, as text)
            if f.name in raw and type(f.default) in (int, float):
                raw[f.name] = _number(raw[f.name], type(f.default), f"{where.get(f.name, 'options')}: {f.name}")
        return cls(**raw)


def _number(v, kind, where: str):
    """`v` as an int or float, or ValueError (one line naming the option)."""
    if isinstance(v, str):
        try:
            v = kind(v.strip())
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not isinstance(v, int)):
        raise ValueError(f"{where} {v!r}: expected {'a whole number' if kind is int else 'a number'}")
    return kind(v)


# Fine-tuning's defaults, chosen by measurement (docs/benchmarks.md, "Fine-tuning on a
# player's library"): bench/finetune_bench.py's library, 60 GMD validation/test beats the
# shipped model never learnt, the closed hi-hat played on the ride, in Studio Drummer's map,
# 48 to train on and 12 held out; each run 4 minutes on 1 thread (two at a time on the shared
# 2-core machine), seed 1234. Held-out NLL (nats/16th) of best.pt [its iteration] and where the
# 4 minutes left it; ride / closed hi-hat hits per bar of best.pt's unprimed grooves of the new
# style (8 x 16 bars; the library plays 5.1 / 2.0, the shipped model as rock 4.1 / 4.4 and
# scores 1.084 on the held-out files, 1.061 on the same files without the ride habit):
#
#   setting                                   best.pt        after 4 min    ride / hh
#   start: the shipped model, new style row   1.0816 [0]          -         6.3 / 3.2
#     at the mean of the others
#   lr 1e-3 (the first default)               1.0816 [0]     1.139 [81]     6.3 / 3.2
#   lr 1e-3, LSTM frozen                      1.0816 [0]     1.123 [82]     6.3 / 3.2
#   lr 3e-4                                   1.0816 [0]     1.097 [96]     6.3 / 3.2
#   lr 1e-3, anchor 1e-3 (L2-SP), no decay    1.0791 [40]    1.099 [91]     5.9 / 1.8
#   lr 1e-4                        (chosen)   1.0777 [80]    1.079 [116]    6.8 / 1.7
#   lr 3e-5                                   1.0778 [117]   1.078 [117]    6.7 / 1.9
#   lr 1e-4, LSTM frozen                      1.0790 [20]    1.088 [117]    7.0 / 2.5
#   style row alone, lr 1e-2                  1.0767 [60]    1.079 [121]    5.6 / 3.4
#
# At 1e-3 and 3e-4 the held-out files get worse from the first evaluation on (48 files are
# overfitted in minutes), so early stopping keeps the start, which has not taken on the habit;
# at 1e-4 every evaluation is at or below the start and the grooves ride as the library does;
# a frozen LSTM, or the style row alone, takes on less of it. No setting gains more than
# 0.005 nats/step on these files: the shipped model already follows a ride it hears (1.061 on
# the unmodified files against 1.084), so 0.3 below it is out of reach here. Every part stays
# trainable, dropout and weight decay as trained (anchor: no gain). On GMD's five 3/4 files
# (3 minutes, one file held out) lr 1e-3 keeps iteration 0 and lr 1e-4 iteration 20, kick on
# one in 68 % and 61 % of generated 3/4 bars (4 seeds x 32 bars x 3 styles; shipped 47 %).
# new_meter_lr, a learning rate of its own for the input weights of the meters the checkpoint
# never learnt (zero in the shipped model; bench/meter_finetune_bench.py, 3 minutes, 1 thread):
# x1 best.pt at iteration 20, 61 % (rock / latin / jazz 98 / 38 / 48); x30 iteration 20, its
# 3/4 weights 29 times as large (mean |w| 0.023 against 0.0008; the other inputs' 0.092), 62 %
# (100 / 45 / 43); x100 the held-out file worse from the first evaluation, iteration 0, 68 %.
# No gain beyond one run's noise (+-2.4 points on 384 bars), so left at 1: the 3/4 warm-up
# grooves do what the start does (68 %), and the five files themselves have a kick on one in
# 57 % of their bars.
#
# expr_lr, the expression head's learning rate: a pack of programmed loops (bench/finetune_bench.py
# --library programmed: the same 60 beats on the 16th grid, 2-3 velocity levels a drum) is far
# from the drummers in its velocity and timing, not in its events, and at lr 1e-4 the head learns
# that too slowly for best.pt (iteration 20, chosen on the events): held-out event NLL / velocity
# and timing NLL a hit / all per 16th, and unprimed hits on the grid / at the levels:
#
#   setting                          events  vel+time  all     grid / levels  ride library (all)
#   shipped (rock)                   1.067   4.72      6.136   14 / 14 %      5.84
#   expr_lr 1 (the first default)    1.061   4.12      5.481   39 / 33 %      -
#   expr_lr 10 (chosen), on events   1.061   1.32      2.476   100 / 95 %     5.83, iteration 80
#   expr_lr 10, select_on all        1.075   0.70      1.826   100 / 98 %     5.81, iteration 0
#   expr_lr 10, select_on auto (now) 1.075   0.70      1.826   100 / 98 %     5.83, iteration 80
#   expr_lr 1, select_on all         1.080   1.12      2.285   100 / 96 %     -
#   from scratch, 4 minutes          1.502   0.76      2.313   100 / 98 %     7.11
#
# select_on all picks the run's best for a programmed pack, but on the ride library (human
# velocity and timing, which 48 files teach nothing the shipped model lacks) it keeps the start:
# no ride habit learnt; events does the opposite. So select_on is auto (selection.py): "all"
# once an evaluation beats the start on it, else "events". Measured 2026-12-01 (1 thread, two
# runs at a time): on the programmed pack it switched to "all" at the first evaluation and kept
# iteration 180 (events 1.075, all 1.826 per 16th, as select_on all); on the ride library no
# evaluation beat the start on "all" (5.79 at the start, 5.80-5.84 after), so it kept iteration
# 80 on the events (1.078, ride / hi-hat 7.5 / 1.7 a bar), as select_on events.
FINETUNE_DEFAULTS = {"lr": 1e-4, "min_lr": 1e-5, "warmup_iters": 10, "max_iters": 600,
                     "eval_interval": 20, "patience": 4, "max_minutes": 4.0, "expr_lr": 10.0,
                     "select_on": "auto"}


EXIT_S = 2.0  # seconds from the last save to the process's end (closing the log, torch's exit)
FIRST_EVAL = 10  # the iteration of a from-scratch run's first, early evaluation


class Interrupted(Exception):
    """Ctrl-C (SIGINT) stopped training; the message says what is kept and where."""


def build_arrays(perfs, styles, lookback):
    """Concatenate every performance's features; remember where each one starts."""
    feats = [sequence_features(p, styles.index(p.style) if p.style in styles else 0, lookback)
             for p in perfs]
    starts = np.cumsum([0] + [len(p) for p in perfs])
    return {k: np.concatenate([f[k] for f in feats]) for k in feats[0]}, starts


def batch_windows(arrays, starts, idx_perf, idx_start, seq_len):
    """Gather (B, L) windows; steps past a performance's end are masked out."""
    lengths = starts[idx_perf + 1] - starts[idx_perf]
    offs = idx_start[:, None] + np.arange(seq_len)[None]
    mask = offs < lengths[:, None]
    flat = starts[idx_perf][:, None] + np.minimum(offs, lengths[:, None] - 1)
    out = {k: torch.from_numpy(v[flat]) for k, v in arrays.items()}
    out["mask"] = torch.from_numpy(mask.astype(np.float32))
    return out


def to_inputs(b) -> StepInputs:
    """The model's inputs (StepInputs, tensors (B, T, ...)) out of a batch dict of tensors."""
    return StepInputs(**{k: b[k] for k in INPUT_KEYS})


def sample_batch(rng, arrays, starts, batch_size, seq_len):
    """`batch_size` random windows of `seq_len` 16th steps from the concatenated performances
    `arrays` (performance i spans steps starts[i]..starts[i+1]), each step equally likely."""
    lengths = np.diff(starts)
    # Pick performances in proportion to length, so every step is equally likely to be seen.
    p = rng.choice(len(lengths), batch_size, p=lengths / lengths.sum())
    s = (rng.random(batch_size) * np.maximum(lengths[p] - seq_len // 2, 1)).astype(np.int64)
    return batch_windows(arrays, starts, p, s, seq_len)


@torch.no_grad()
def evaluate_nll(model, arrays, starts, chunk=16):
    """Teacher-forced per-step event NLL (nats) and expression loss over whole performances."""
    model.eval()
    lengths = np.diff(starts)
    order = np.argsort(lengths)
    tot_nll = tot_expr = n = n_hits = 0.0
    for i in range(0, len(order), chunk):
        idx = order[i:i + chunk]
        b = batch_windows(arrays, starts, idx, np.zeros(len(idx), np.int64), int(lengths[idx].max()))
        nll, expr, ns, nh = losses(model, to_inputs(b), b["target_event"], b["target_vbin"],
                                   b["target_obin"], b["mask"])
        tot_nll, tot_expr, n, n_hits = tot_nll + nll.item(), tot_expr + expr.item(), n + ns.item(), n_hits + nh.item()
    model.train()
    return tot_nll / n, tot_expr / max(n_hits, 1)


def lr_at(it, cfg: TrainConfig):
    """The learning rate at iteration `it`: linear warm-up over warmup_iters, then cosine decay
    to min_lr at max_iters (SGDR without restarts: Loshchilov & Hutter 2017)."""
    if it < cfg.warmup_iters:
        return cfg.lr * (it + 1) / cfg.warmup_iters
    frac = min(1.0, (it - cfg.warmup_iters) / max(1, cfg.max_iters - cfg.warmup_iters))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * frac))


def train(cfg: TrainConfig, started: float | None = None) -> Path:
    """Train; returns the path of the best checkpoint (selected on validation NLL, as
    cfg.select_on counts it). Raises
    Interrupted on Ctrl-C (after cleaning up), ValueError or CheckpointError for bad options.
    started: time.time() when the command started (default: now), from which max_minutes counts."""
    ddp = int(os.environ.get("RANK", -1)) != -1
    if ddp:
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    master = rank == 0
    torch.set_num_threads(max(1, cfg.threads // world))
    torch.manual_seed(cfg.seed + rank)
    random.seed(cfg.seed + rank)
    rng = np.random.default_rng(cfg.seed + rank)

    t_start = started or time.time()  # max_minutes caps the whole run: data, model, loop, last save
    Selection(cfg.select_on, 0.0)  # a select_on it does not know: before the data loads
    progress = master and (on_terminal() if cfg.progress is None else cfg.progress)
    out = Path(cfg.out)
    base = _finetune_base(cfg) if cfg.finetune else None  # a bad checkpoint: before the data
    data, digest, data_map, library = _load_data(cfg, progress, master, out)
    train_p, val_p = data["train"], data["validation"]
    if cfg.limit_files:
        train_p, val_p = train_p[:cfg.limit_files], val_p[:cfg.limit_files]
    data_styles = sorted({p.style for p in data["train"]})
    if base is not None:
        styles = base.styles + [s for s in data_styles if s not in base.styles]
        model = _grown_model(base, len(styles), cfg.model.get("dropout"))
        mcfg = model.cfg
    else:
        styles = data_styles
        mcfg = ModelConfig(**{"n_styles": len(styles), **cfg.model})
        model = DrumLSTM(mcfg)
    tr_arrays, tr_starts = build_arrays(train_p, styles, mcfg.lookback)
    va_arrays, va_starts = build_arrays(val_p, styles, mcfg.lookback)
    # the held-out files' hits a 16th: "all" counts their velocity and timing NLL per 16th
    selection = Selection(cfg.select_on, float(HITS_PER_EVENT[va_arrays["target_event"]].mean()))

    trained = _trainable(model, cfg.freeze)
    anchor = ({n: p.detach().clone() for n, p in trained.items()} if cfg.anchor > 0 and base is not None
              else {})
    opt = torch.optim.AdamW(_param_groups(trained, cfg.expr_lr), lr=cfg.lr, weight_decay=cfg.weight_decay)
    boost = _new_meter_boost(trained, base, cfg.new_meter_lr) if base is not None else None
    it0 = 0
    if cfg.resume:
        state = torch.load(cfg.resume, map_location="cpu", weights_only=True)
        try:
            model.load_state_dict(state["model"])
        except RuntimeError:
            raise ValueError(f"{cfg.resume}: its model does not match this run's (give --resume "
                             "the options the run was started with, --finetune included)") from None
        try:
            opt.load_state_dict(state["optimizer"])
        except ValueError:  # its parameter groups: another expr_lr (1 is one group, else two)
            raise ValueError(f"{cfg.resume}: its optimizer does not match this run's (give --resume "
                             f"the expr_lr the run was started with; this run's is {cfg.expr_lr:g})") from None
        it0 = state["iter"]
        selection.resume(state)
    net = torch.nn.parallel.DistributedDataParallel(model) if ddp else model

    bank = bank_to_meta(build_bank(train_p, styles, cfg.seed))
    meters = sorted({meter_name(p.meter) for p in train_p}, key=lambda m: METERS.index(parse_meter(m)))
    meta = {"data_checksum": digest, "data_map": data_map, "train_config": asdict(cfg), "meters": meters,
            "train_steps": int(tr_starts[-1]), "world_size": world, **library}
    if base is not None:  # its warm-up grooves for the styles this data has none of
        bank = {**bank_to_meta(bank_from_meta(base.meta.get("warmup"))), **bank}
        meta["meters"] = [m for m in base.meters if m not in meters] + meters
        meta["finetuned_from"] = {"path": str(base.path), "data_checksum": base.meta.get("data_checksum"),
                                  "styles": base.styles, "new_styles": styles[len(base.styles):]}
    meta["warmup"] = bank
    eval_cost = 0.0  # seconds the last evaluation and its saves took: the time cap leaves room for one
    writer = log = bar = tb = None
    before_s = 0.0  # seconds the run had trained before this command (--resume: its log's last)
    if master:
        out.mkdir(parents=True, exist_ok=True)
        log_path = out / "log.csv"
        new_log = not (cfg.resume and log_path.exists())
        # a resumed run's seconds go on from where its log left off
        before_s = 0.0 if new_log else _logged_seconds(log_path)
        log = open(log_path, "w" if new_log else "a", newline="")
        writer = csv.writer(log)
        if new_log:
            writer.writerow(["iter", "seconds", "lr", "train_nll", "train_expr", "val_nll", "val_expr", "steps_per_s"])
        tb = _tensorboard(out)
        if base is not None and not cfg.resume:
            # the starting point: the model as it was (new styles at the mean) is best.pt until
            # fine-tuning beats it on the held-out files, and the log's row 0 says how it played them
            t_eval = time.time()
            val_nll, val_expr = evaluate_nll(model, va_arrays, va_starts)
            writer.writerow([0, 0.0, "", "", "", f"{val_nll:.4f}", f"{val_expr:.4f}", ""])
            log.flush()
            selection.judge(val_nll, val_expr, 0)
            save_checkpoint(out / "best.pt", model, styles,
                            {**meta, "iter": 0, "val_nll": val_nll, "val_expr": val_expr,
                             "selected_on": selection.on, "train_seconds": 0.0})
            eval_cost = time.time() - t_eval
            _say(f"fine-tuning {base.path.name}: held-out NLL {val_nll:.4f} before "
                 f"({len(styles) - len(base.styles)} new style(s))", progress)
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=cfg.max_iters, initial=it0, desc="train", unit="it", dynamic_ncols=True)

    run_nll = run_expr = 0.0
    run_n = run_hits = 0
    seen_steps, t_tput = 0, time.time()
    stop = torch.zeros(2)
    it = it0
    stopped_by = None
    t_iter = time.time()
    with _sigint_flag() as sigint:
        for it in range(it0, cfg.max_iters):
            for g in opt.param_groups:
                g["lr"] = lr_at(it, cfg) * g.get("lr_scale", 1.0)  # a last.pt from before: none
            b = sample_batch(rng, tr_arrays, tr_starts, cfg.batch_size, cfg.seq_len)
            nll, expr, n, nh = losses(net, to_inputs(b), b["target_event"], b["target_vbin"],
                                      b["target_obin"], b["mask"])
            loss = (nll + cfg.expr_weight * expr * (n / nh.clamp(min=1)) / 9) / n
            if anchor:
                loss = loss + cfg.anchor * sum(((p - anchor[k]) ** 2).sum() for k, p in trained.items())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(trained.values()), cfg.grad_clip)
            if boost is None:
                opt.step()
            else:
                boost.step(opt)
            run_nll += nll.item(); run_expr += expr.item(); run_n += int(n); run_hits += int(nh)
            seen_steps += int(n) * world

            last = it + 1 == cfg.max_iters
            # stop while the closing evaluation still fits in the cap after one more iteration
            # (and this iteration's own evaluation, when one is due), with half as much again
            # for a busy machine's ups and downs and EXIT_S for closing up
            now = time.time()
            due = (it + 1) % cfg.eval_interval == 0
            ahead = 1.5 * ((now - t_iter) + eval_cost * (1 + due)) + EXIT_S
            over_time = now - t_start + ahead > cfg.max_minutes * 60
            t_iter = now
            interrupted = sigint.is_set()
            if ddp:  # every rank must agree to stop, or the others hang in all-reduce
                stop[0], stop[1] = float(over_time), float(interrupted)
                dist.all_reduce(stop, op=dist.ReduceOp.MAX)
                over_time, interrupted = bool(stop[0]), bool(stop[1])
            if interrupted:  # best.pt and last.pt stay as the last evaluation left them
                stopped_by = "interrupted"
                break
            if bar is not None:
                bar.update(1)
            # a run with no evaluation timed yet (from scratch) evaluates once early, so the time
            # cap knows what its closing evaluation will cost
            first = it + 1 == FIRST_EVAL and not eval_cost
            if (it + 1) % cfg.eval_interval == 0 or last or over_time or first:
                if master:
                    t_eval = time.time()
                    val_nll, val_expr = evaluate_nll(model, va_arrays, va_starts)
                    now = time.time()
                    tput = seen_steps / (now - t_tput)
                    tr_nll, tr_expr = run_nll / max(run_n, 1), run_expr / max(run_hits, 1)
                    writer.writerow([it + 1, round(before_s + now - t_start, 1), f"{lr_at(it, cfg):.2e}",
                                     f"{tr_nll:.4f}", f"{tr_expr:.4f}", f"{val_nll:.4f}", f"{val_expr:.4f}",
                                     round(tput)])
                    log.flush()
                    if tb:
                        for k, v in (("nll/train", tr_nll), ("nll/val", val_nll), ("expr/val", val_expr)):
                            tb.add_scalar(k, v, it + 1)
                    if selection.judge(val_nll, val_expr, it + 1):
                        save_checkpoint(out / "best.pt", model, styles,
                                        {**meta, "iter": it + 1, "val_nll": val_nll, "val_expr": val_expr,
                                         "selected_on": selection.on,
                                         "train_seconds": round(before_s + now - t_start, 1)})
                    _save_resume(out / "last.pt", model, opt, it + 1, selection, asdict(cfg))
                    eval_cost = time.time() - t_eval
                    t_iter += eval_cost  # an iteration's time, not the evaluation's, is measured next
                    left = max(0.0, cfg.max_minutes - (now - t_start) / 60)
                    # the run's end (the bar's, and so its ETA): max_iters, or where the time cap stops it
                    rate = (it + 1 - it0) / max(now - t_start, 1e-9)
                    end = int(min(cfg.max_iters, it0 + rate * cfg.max_minutes * 60))
                    if bar is not None:
                        bar.total = end
                        bar.set_postfix(train=f"{tr_nll:.3f}", val=f"{val_nll:.3f}",
                                        **({"val_all": f"{selection.score(val_nll, val_expr):.3f}"}
                                           if selection.on == "all" else {}),
                                        best=f"{selection.best:.3f}",
                                        steps_s=f"{tput:.0f}")
                    else:  # a redirected log: one line per evaluation
                        _say(f"iter {it + 1}/{'' if end == cfg.max_iters else '~'}{end}  {(now - t_start) / 60:.1f} min "
                             f"({left:.1f} left of {cfg.max_minutes:g})  train {tr_nll:.4f}  val {val_nll:.4f}"
                             + (f" (all {selection.score(val_nll, val_expr):.4f})" if selection.on == "all" else "")
                             + f"  best {selection.best:.4f} ({selection.on})", progress)
                    run_nll = run_expr = 0.0
                    run_n = run_hits = 0
                    seen_steps, t_tput = 0, time.time()
                if ddp:
                    flag = torch.tensor([float(selection.bad_evals > cfg.patience)])
                    dist.broadcast(flag, 0)
                    early = bool(flag[0])
                else:
                    early = selection.bad_evals > cfg.patience
                if early or over_time:
                    stopped_by = "early" if early else "minutes"
                    break
    if master:
        if bar is not None:
            bar.close()
        log.close()
        if tb:
            tb.close()
        if stopped_by == "minutes":
            _say(f"stopped at iteration {it + 1}: {cfg.max_minutes:g} minute"
                 f"{' is' if cfg.max_minutes == 1 else 's are'} up", progress)
        elif stopped_by == "early":
            _say(f"stopped at iteration {it + 1}: validation NLL has not improved for "
                 f"{cfg.patience + 1} evaluations", progress)
        if stopped_by != "interrupted" and selection.kept is not None:
            if selection.kept == 0 and base is not None:
                _say("kept the starting model: no evaluation beat it on the held-out files, so "
                     "best.pt is it as it was (new styles added)", progress)
            else:
                _say(f"kept iteration {selection.kept}: held-out NLL {selection.best:.4f} ({selection.what})"
                     + (f"; its velocity and timing are worse than the start's ({selection.kept_expr:.3f} "
                        f"against {selection.start_expr:.3f} nats a hit)" if selection.expression_worse else ""),
                     progress)
    if ddp:
        dist.barrier()
        dist.destroy_process_group()
    if stopped_by == "interrupted":
        best_pt = out / "best.pt"
        if master and best_pt.exists() and math.isfinite(selection.best):
            raise Interrupted(f"interrupted at iteration {it + 1}: the best checkpoint so far is "
                              f"{best_pt} (validation NLL{'' if selection.on == 'events' else ' ' + selection.what} "
                              f"{selection.best:.4f}); --resume {out / 'last.pt'} continues")
        raise Interrupted(f"interrupted at iteration {it + 1}, before the first evaluation: "
                          "no checkpoint written")
    return out / "best.pt"


def _say(line: str, progress: bool) -> None:
    """One line of news: through tqdm when bars are drawn (so they stay whole), else printed."""
    if progress:
        from tqdm import tqdm
        tqdm.write(line)
    else:
        print(line, flush=True)


class _sigint_flag:
    """While open, Ctrl-C (SIGINT) sets an event the training loop checks after each iteration
    instead of raising KeyboardInterrupt wherever it lands (mid-write of a checkpoint); a second
    Ctrl-C raises as usual. Off the main thread (signals cannot be caught there), a plain event."""

    def __enter__(self):
        self.event, self.old = threading.Event(), None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGINT, self._handle)
        return self.event

    def _handle(self, signum, frame):
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
        return False


def _trainable(model, freeze) -> dict:
    """{name: parameter} of the weights training changes: all but those `freeze` names (module
    names or weight-name prefixes; ValueError, one line, for a name that matches none)."""
    freeze = [freeze] if isinstance(freeze, str) else list(freeze or [])
    names = [n for n, _ in model.named_parameters()]
    for f in freeze:
        if not isinstance(f, str) or not any(n.startswith(f) for n in names):
            modules = sorted({n.split(".")[0] for n in names})
            raise ValueError(f"freeze: {f!r} names no weight of the model (its parts: {', '.join(modules)})")
    out = {}
    for n, p in model.named_parameters():
        frozen = any(n.startswith(f) for f in freeze)
        p.requires_grad_(not frozen)
        if not frozen:
            out[n] = p
    if not out:
        raise ValueError(f"freeze: {', '.join(freeze)} leaves nothing to train")
    return out


def _param_groups(trained: dict, expr_lr: float) -> list[dict]:
    """AdamW's parameter groups: the expression head (expr_head.*) at expr_lr x the learning
    rate, every other weight at it (each group's "lr_scale"); one group when expr_lr is 1."""
    expr = [p for n, p in trained.items() if n.startswith("expr_head.")]
    if expr_lr == 1.0 or not expr:
        return [{"params": list(trained.values()), "lr_scale": 1.0}]
    rest = [p for n, p in trained.items() if not n.startswith("expr_head.")]
    return [g for g in ({"params": rest, "lr_scale": 1.0}, {"params": expr, "lr_scale": expr_lr}) if g["params"]]


class _ColumnBoost:
    """A learning rate `scale` times the optimizer's for some input columns of one weight: an
    optimizer step whose change to those columns is scaled by `scale`. AdamW's step is
    elementwise (its moments are kept per weight), so this is exactly a parameter group with lr
    x scale for those columns, which torch cannot make of part of a tensor."""

    def __init__(self, weight: torch.Tensor, columns: list[int], scale: float):
        self.weight, self.columns, self.scale = weight, torch.tensor(columns), scale

    def step(self, opt) -> None:
        before = self.weight.detach()[:, self.columns].clone()
        opt.step()
        with torch.no_grad():
            after = self.weight[:, self.columns]
            self.weight[:, self.columns] = before + self.scale * (after - before)


def new_meter_columns(base) -> list[int]:
    """The first LSTM layer's input columns (indices into lstm.weight_ih_l0's last axis) of the
    meter inputs (encoding.meter_bits) that `base` never learnt: its data never set them, so they
    hold their start (zero in the shipped model, whose format-2 checkpoint engine.checkpoint
    extends with zero columns; a model trained from scratch, its random start). Column 0 of the
    meter inputs ("past the 16th") is learnt with 12/8 or 5/4, column i with METERS[i]."""
    width = lstm_input_width(base.config)
    first = width - METER_INPUTS
    learnt = {parse_meter(m) for m in base.meters}
    cols = [] if any(bar_steps(m) > 16 for m in learnt) else [first]
    return cols + [first + i for i, m in enumerate(METERS) if i and m not in learnt]


def _new_meter_boost(trained: dict, base, scale: float) -> "_ColumnBoost | None":
    """new_meter_lr's step for a fine-tune of `base`: None when it is 1, or when the first
    layer's input weights are frozen, or `base` learnt every meter."""
    w = trained.get("lstm.weight_ih_l0")
    cols = new_meter_columns(base)
    if scale == 1.0 or w is None or not cols:
        return None
    return _ColumnBoost(w, cols, scale)


def _finetune_base(cfg: TrainConfig):
    """The checkpoint fine-tuning starts from; ValueError (one line) when cfg.model asks for
    another model than it is, CheckpointError when it cannot be read."""
    path = None if cfg.finetune in ("shipped", "", True) else cfg.finetune
    base = load_checkpoint(path)
    ours = base.config.to_dict()
    asked = ModelConfig.from_dict({**ours, **cfg.model}).to_dict() if cfg.model else ours
    # dropout changes no weight: a fine-tune may take its own
    differ = sorted(k for k in asked if k not in ("n_styles", "dropout") and asked[k] != ours[k])
    if differ:
        raise ValueError(f"{base.path}: fine-tuning keeps its model ("
                         + ", ".join(f"{k} {ours[k]}" for k in differ) + "); the config asks for "
                         + ", ".join(f"{k} {asked[k]}" for k in differ)
                         + " (drop the model settings, or train from scratch without --finetune)")
    return base


def _grown_model(base, n_styles: int, dropout: float | None = None) -> DrumLSTM:
    """DrumLSTM with `base`'s weights and `n_styles` style rows: the known rows copied, the new
    ones the mean of the known (a style between them, not noise the LSTM never saw)."""
    from dataclasses import replace
    model = DrumLSTM(replace(base.config, n_styles=n_styles,
                             dropout=base.config.dropout if dropout is None else dropout))
    weights = {k: torch.from_numpy(np.array(v, np.float32)) for k, v in base.weights.items()}
    emb = weights["style_emb.weight"]
    grown = emb.mean(0, keepdim=True).repeat(n_styles, 1)
    grown[:len(emb)] = emb
    weights["style_emb.weight"] = grown
    model.load_state_dict(weights)
    return model


def _load_data(cfg: TrainConfig, progress: bool, master: bool, out: Path):
    """({split: [Performance]}, checksum, drum map read, extra checkpoint meta): the Groove MIDI
    Dataset through its info.csv (engine/data/gmd.py) as always, or a folder of drum MIDI files
    (engine/data/library.py), whose report is printed and kept, with the held-out files, in `out`."""
    if cfg.data is None or holds_gmd(Path(cfg.data)):
        folder_only = [k for k, v in (("map", cfg.map), ("style", cfg.style)) if v is not None]
        folder_only += [k for k, d in (("channel", 10), ("val_share", 0.1)) if getattr(cfg, k) != d]
        if folder_only:
            raise ValueError(f"{cfg.data or 'the default data'}: the Groove MIDI Dataset (it holds "
                             f"info.csv) is read with its own map, channel, styles and split; "
                             f"{', '.join(folder_only)} apply to folders of MIDI files")
        data, digest = load_dataset(Path(cfg.data) if cfg.data else None, progress=progress)
        return data, digest, DATA_MAP, {}
    lib = load_library(Path(cfg.data), cfg.map or "gm", cfg.channel, cfg.style, cfg.val_share,
                       cfg.seed, progress=progress)
    if master:
        report = lib.report()
        print(report, flush=True)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_open(out / "data_report.txt") as f:
            f.write((report + "\n").encode())
        with atomic_open(out / "validation.txt") as f:
            f.write("".join(f"{r.as_posix()}\n" for r in lib.validation_files).encode())
    # styles: most bars first, so the checkpoint plays the library's main style by default
    meta = {"library": {"root": str(lib.root.resolve()), "channel": lib.channel,
                        "styles": list(lib.bars_per_style()),
                        "train_files": len(lib.train),
                        "validation_files": [r.as_posix() for r in lib.validation_files]}}
    return {"train": lib.train, "validation": lib.validation}, lib.digest, lib.map_name, meta


def _tensorboard(out: Path):
    """A TensorBoard writer when tensorboard is installed; the CSV log is always written."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tb"))


def _logged_seconds(log_path: Path) -> float:
    """The seconds of a log.csv's last row (0 if it has none that reads as a number)."""
    rows = list(csv.reader(open(log_path, newline="")))
    try:
        return float(rows[-1][1]) if len(rows) > 1 else 0.0
    except (IndexError, ValueError):
        return 0.0


def _save_resume(path: Path, model, opt, it, selection: Selection, options: dict):
    with atomic_open(path) as f:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "iter": it,
                    "selection": selection.state(), "train_config": options}, f)


def resume_options(path: str | Path) -> dict:
    """The options a run was started with, as its last.pt keeps them (`drumd train --resume`
    takes them, under the options given again): {} for a last.pt from before they were kept,
    or a file that is not one (train() says what is wrong with it)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 (train() loads it again and names the problem)
        return {}
    options = state.get("train_config") if isinstance(state, dict) else None
    return {k: v for k, v in options.items() if k != "resume"} if isinstance(options, dict) else {}


def main(argv=None):
    """`python -m drumd.engine.training.train --config FILE --set key=value ...`, the entry for
    torchrun (several processes, DDP); `drumd train` is the command for people."""
    import argparse
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config")
    ap.add_argument("--set", nargs="*", default=[], help="key=value overrides (YAML values)")
    a = ap.parse_args(argv)
    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in a.set)}
    train(TrainConfig.load(a.config, overrides))


if __name__ == "__main__":
    main()
