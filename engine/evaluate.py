"""`drumd eval`: a checkpoint's test-split scores beside the baselines', and how it plays.

    teacher-forced   every test file scored step by step given the true past (model, baselines)
    free-running     2-bar primers from test files (a seeded subset) continued for 8 bars with
                     the live Sampler, compared with what the drummer really played next

Baselines are fitted on train and tuned on validation (never on test), and cached on disk by
the data checksum: they do not depend on the checkpoint.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from drumd.engine import baselines as bl
from drumd.engine.checkpoint import load_checkpoint, shipped_path
from drumd.engine.data import _cache_dir, default_data_dir, load_dataset
from drumd.engine.encoding import NUM_CLASSES, Performance, performance_of, steps_of
from drumd.engine.groove_stats import (beat_keeping, collapse, compare_grooves, diversity,
                                       groove_features, has_backbeat, human_feel)
from drumd.engine.metrics import TeacherForcedScore, expected_offset, expected_velocity
from drumd.engine.report import atomic_write, finite, markdown
from drumd.engine.sampler import Controls, Sampler
from drumd.engine.train import batch_windows, build_arrays, to_inputs

BASELINES_VERSION = 1  # bump when baseline code changes, to refit cached results
STEPS_PER_BAR = 16
PRIMER_BARS, BARS = 2, 8


def ms_per_step(bpm: float) -> float:
    return 60000.0 / bpm / 4


@torch.no_grad()
def score_model(ckpt, perfs, chunk: int = 16, progress: bool = False) -> dict:
    """Teacher-forced scores over whole files, batched as train.evaluate_nll batches them.
    Velocity and timing are the expected bin centres of the heads given the true hits."""
    arrays, starts = build_arrays(perfs, ckpt.styles, ckpt.config.lookback)
    lengths = np.diff(starts)
    # Ride along through batch_windows: the raw expression and each file's step length in ms.
    arrays["true_velocity"] = np.concatenate([p.velocity for p in perfs]).astype(np.float32)
    arrays["true_offset"] = np.concatenate([p.offset for p in perfs]).astype(np.float32)
    arrays["ms_per_step"] = np.repeat([ms_per_step(p.bpm) for p in perfs], lengths).astype(np.float32)
    score = TeacherForcedScore()
    order = np.argsort(lengths)
    batches = [order[i:i + chunk] for i in range(0, len(order), chunk)]
    if progress:
        from tqdm import tqdm
        batches = tqdm(batches, desc="teacher-forced", unit="batch", leave=False)
    for idx in batches:
        b = batch_windows(arrays, starts, idx, np.zeros(len(idx), np.int64), int(lengths[idx].max()))
        target = b["target_event"]
        bits = (target.unsqueeze(-1) >> torch.arange(NUM_CLASSES)) & 1
        ev, vel, off, _ = ckpt.model(to_inputs(b), bits.float())
        m = b["mask"].bool()
        score.add_events(torch.softmax(ev[m].double(), -1).numpy(), target[m].numpy())
        hit = bits.bool() & m.unsqueeze(-1)
        score.add_expression(expected_velocity(vel[hit].numpy()), b["true_velocity"][hit].numpy(),
                             expected_offset(off[hit].numpy()), b["true_offset"][hit].numpy(),
                             b["ms_per_step"].unsqueeze(-1).expand_as(hit)[hit].numpy())
    return score.result()


def score_baseline(model, perfs) -> dict:
    score = TeacherForcedScore()
    for p in perfs:
        score.add_events(model.probs(p.events), p.events)
        if hasattr(model, "expression"):
            vel, off = model.expression(p)
            hit = p.velocity > 0
            score.add_expression(vel[hit], p.velocity[hit].astype(np.float64), off[hit], p.offset[hit],
                                 np.full(int(hit.sum()), ms_per_step(p.bpm)))
    return score.result()


def baseline_results(data: dict, digest: str, progress: bool = False) -> dict:
    """{name: {param, validation curve, test scores}}, fitted once per dataset and cached."""
    cache = _cache_dir() / f"baselines-{digest}-v{BASELINES_VERSION}.json"
    if cache.is_file():
        try:
            return json.loads(cache.read_text())
        except (OSError, ValueError):
            pass  # damaged: refit
    models = bl.fit_baselines(data["train"])
    if progress:
        from tqdm import tqdm
        models = tqdm(models, desc="baselines", unit="model")
    out = {}
    for m in models:
        curve = bl.tune(m, data["validation"])
        out[m.name] = {"param": m.param, "validation_nll": {f"{k:g}": v for k, v in curve.items()},
                       "test": score_baseline(m, data["test"])}
    atomic_write(cache, json.dumps(out))
    return out


def choose_primers(test, n: int, seed: int) -> list[tuple[Performance, int]]:
    """n (file, start step) pairs with room for the primer and the real continuation, one
    file each while files last, bar-aligned starts drawn at random."""
    need = (PRIMER_BARS + BARS) * STEPS_PER_BAR
    files = [p for p in test if len(p) >= need]
    if not files:
        raise ValueError(f"no test file is {PRIMER_BARS + BARS} bars long: cannot take primers")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(files))
    picks = []
    for j in range(n):
        p = files[order[j % len(files)]]
        picks.append((p, int(rng.integers(0, (len(p) - need) // STEPS_PER_BAR + 1)) * STEPS_PER_BAR))
    return picks


def clip(p: Performance, a: int, b: int) -> Performance:
    return Performance(p.events[a:b], p.velocity[a:b], p.offset[a:b], p.bpm, p.style, p.fill, p.name)


def real_continuations(picks) -> list[Performance]:
    k = PRIMER_BARS * STEPS_PER_BAR
    return [clip(p, s + k, s + k + BARS * STEPS_PER_BAR) for p, s in picks]


def generate_set(ckpt, picks, temperature: float, samples: int, seed: int, progress=False):
    """samples continuations of every primer: [[Performance] per primer]."""
    k = PRIMER_BARS * STEPS_PER_BAR
    sampler = Sampler(ckpt, seed=[seed, round(temperature * 1000)])
    controls = Controls(temperature=temperature)
    it = picks
    if progress:
        from tqdm import tqdm
        it = tqdm(picks, desc=f"generate T={temperature:g}", unit="primer", leave=False)
    groups = []
    for p, s in it:
        primer = steps_of(clip(p, s, s + k))
        style = p.style if p.style in ckpt.styles else None
        group = []
        for _ in range(samples):
            # step_index: the position the primer really ended at, so the bar counter agrees.
            sampler.reset(primer=primer, style=style, bpm=p.bpm, step_index=s + k)
            steps = [sampler.step(controls) for _ in range(BARS * STEPS_PER_BAR)]
            group.append(performance_of(steps, p.bpm, p.style))
        groups.append(group)
    return groups


def real_stats(real, backbeat) -> dict:
    return {**beat_keeping(real, backbeat), **collapse(real), **human_feel(real)}


def free_running_stats(groups, real, backbeat) -> dict:
    flat = [c for g in groups for c in g]
    mask = [m for g, m in zip(groups, backbeat) for _ in g]
    out = {**beat_keeping(flat, mask), **collapse(flat), **human_feel(flat)}
    ref = human_feel(real)
    out["human_feel_ratio"] = {k: (out[k] / ref[k] if out[k] is not None and ref[k] else None)
                               for k in ("offset_std", "velocity_std")}
    out["diversity"] = diversity(groups)
    out["vs_real"] = compare_grooves(groove_features(real), groove_features(flat))
    return out


def checkpoint_labels(paths) -> list[str]:
    """Short unique names: the file stem, with its folder when the stem says nothing (best.pt)."""
    paths = [Path(p) if p else shipped_path() for p in paths]
    stems = [p.stem for p in paths]
    labels = [f"{p.parent.name}/{p.stem}" if stems.count(p.stem) > 1 or p.stem in ("best", "last")
              else p.stem for p in paths]
    return [lab if labels.count(lab) == 1 else f"{lab}#{i}" for i, lab in enumerate(labels)]


def shown(path) -> str:
    """A path as the report shows it: relative to the working folder when under it."""
    p = Path(path).resolve()
    return str(p.relative_to(Path.cwd())) if p.is_relative_to(Path.cwd()) else str(p)


def learning_log(path: Path) -> Path | None:
    """The training log beside a checkpoint: its run folder's log.csv, or <name>.log.csv."""
    for p in (path.with_suffix(".log.csv"), path.parent / "log.csv"):
        if p.is_file():
            return p
    return None


def run_eval(checkpoints, out: Path, data_dir=None, primers: int = 48, temperatures=(0.8, 1.0),
             samples: int = 3, seed: int = 0, progress: bool = True) -> dict:
    """Evaluate checkpoints (None: the shipped one); write report.md, metrics.json and PNGs to out."""
    from drumd.engine import plots  # matplotlib: loaded only when figures are drawn
    t0 = time.time()
    checkpoints = list(checkpoints) or [None]
    ckpts = [load_checkpoint(p) for p in checkpoints]  # a bad file fails before any work
    data, digest = load_dataset(data_dir, progress=progress)
    test = data["test"]
    baselines = baseline_results(data, digest, progress)
    picks = choose_primers(test, primers, seed)
    real = real_continuations(picks)
    backbeat = [has_backbeat(c) for c in real]
    metrics = {
        "data": {"path": shown(data_dir or default_data_dir()), "checksum": digest, "test_files": len(test),
                 "test_steps": int(sum(len(p) for p in test))},
        "settings": {"primers": len(picks), "primer_bars": PRIMER_BARS, "bars": BARS,
                     "samples_per_primer": samples, "temperatures": list(temperatures), "seed": seed,
                     "hit_decision": "class marginal > 0.5",
                     "expression": "expected bin centre given the true hits",
                     "kl": "KL(real || generated) of Gaussian KDEs, nats"},
        "baselines": baselines,
        "real": {**real_stats(real, backbeat), "backbeat_primers": int(sum(backbeat)),
                 "test_split": human_feel(test)},
        "checkpoints": {},
    }
    generated, logs = {}, {}
    for ckpt, label in zip(ckpts, checkpoint_labels(checkpoints)):
        entry = {"path": shown(ckpt.path), "data_checksum": ckpt.meta.get("data_checksum"),
                 "iter": ckpt.meta.get("iter"), "val_nll": ckpt.meta.get("val_nll"),
                 "teacher_forced": score_model(ckpt, test, progress=progress), "free_running": {}}
        for t in temperatures:
            groups = generate_set(ckpt, picks, t, samples, seed, progress)
            entry["free_running"][f"{t:g}"] = free_running_stats(groups, real, backbeat)
            generated[f"{label} T={t:g}"] = groups
        metrics["checkpoints"][label] = entry
        logs[label] = learning_log(Path(ckpt.path))
    metrics["seconds"] = round(time.time() - t0, 1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics["figures"] = plots.write_all(out, metrics, picks, real, generated, logs)
    atomic_write(out / "metrics.json", json.dumps(finite(metrics), indent=1))
    atomic_write(out / "report.md", markdown(metrics))
    return metrics
