"""`drumd eval CKPT... --data DIR` on a folder of drum MIDI files (no info.csv): how checkpoints
do on files the user points at, such as a player's own loops no model trained on.

    teacher-forced   every file the folder holds (read by engine/library.load_library with
                     nothing held out: the same reader, map translation and skip reasons as
                     `drumd train --data DIR`) scored step by step given the true past
                     (evaluate.score_model): NLL (nats per 16th step), event accuracy, per-class
                     F1, velocity and timing MAE; overall and per style of the folder. A style
                     the checkpoint does not know is played as its default style (the shipped
                     model: rock), and the report says so.
    listener         as run_eval's, with the folder's files as the real beats: per style of the
                     folder that the checkpoint knows and that has at least `min_beats` 4/4
                     files that are not fills (groove_stats counts 16 16ths to the bar), unprimed
                     and primed runs against those files; the drift yardstick is the style's own
                     files (there is no training split).

No baselines (they are fitted on a training split) and no temperature comparison (its primers
and continuations come from the GMD test split's layout); run_eval has both for the dataset.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path

from drumd.engine.model.checkpoint import load_checkpoint
import numpy as np

from drumd.engine.data.encoding import Performance, meter_name
from drumd.engine.data.library import load_library
from drumd.engine.evaluation.evaluate import (LISTEN_BARS, MIN_BEATS, _overall, checkpoint_labels, learning_log,
                                              listener_runs, listener_section, real_beats, real_listener,
                                              real_window_set, score_model, shown, style_templates)
from drumd.engine.evaluation.groove_stats import C2ST_BARS
from drumd.engine.evaluation.report import atomic_write, finite, folder_markdown
from drumd.mappings.basics.grid import STEPS_PER_BAR

TF_STYLE_KEYS = ("nll", "perplexity", "accuracy", "mean_f1", "velocity_mae", "offset_mae_ms", "steps")


def _whole_bars(p: Performance, bars: int) -> Performance:
    """`p` with silent 16ths after its last hit up to the end of its `bars` 4/4 bars."""
    pad = bars * STEPS_PER_BAR - len(p)
    if pad <= 0:
        return p
    return replace(p, events=np.concatenate([p.events, np.zeros(pad, p.events.dtype)]),
                   velocity=np.concatenate([p.velocity, np.zeros((pad, p.velocity.shape[1]), p.velocity.dtype)]),
                   offset=np.concatenate([p.offset, np.zeros((pad, p.offset.shape[1]), p.offset.dtype)]))


def played_as(ckpt, style: str) -> str:
    """The checkpoint style a folder style is scored and played as: itself when the checkpoint
    knows it, else the checkpoint's default style."""
    return style if style in ckpt.styles else ckpt.default_style


def run_folder_eval(checkpoints, out: Path, data_dir: Path, map_name: str = "gm", channel: int = 10,
                    style: str | None = None, seed: int = 0, progress: bool = True, runs: int = 16,
                    listen_bars: int = LISTEN_BARS, min_beats: int = MIN_BEATS, folds: int = 5) -> dict:
    """Evaluate checkpoints (None: the shipped one) on every file of `data_dir`; write
    report.md, metrics.json and the listener figures to `out`; return the metrics.

    map_name, channel, style: how the folder is read (as `drumd train --data` reads it).
    runs, listen_bars, min_beats, folds: the listener figures' (see engine/evaluation/evaluate.py).
    Raises CheckpointError (a bad checkpoint, before any file is read), DataError (a missing
    or empty folder, no readable drum file), MapError (an unknown map): one line each."""
    from drumd.engine.evaluation import plots  # matplotlib: loaded only when figures are drawn
    t0 = time.time()
    checkpoints = list(checkpoints) or [None]
    ckpts = [load_checkpoint(p) for p in checkpoints]
    lib = load_library(Path(data_dir), map_name, channel, style, progress=progress, split=False)
    perfs = [f.perf for f in lib.read]
    styles = lib.bars_per_style()
    # the listener's real beats: 4/4 files (not fills) padded to the bar their file ends on, of
    # at least C2ST_BARS bars (the classifier's windows; a 1-bar loop has none)
    whole = [_whole_bars(f.perf, f.bars) for f in lib.read if f.meter == (4, 4)]
    beats, counts = real_beats([p for p in whole if len(p) >= C2ST_BARS * STEPS_PER_BAR], min_beats)
    templates = style_templates(perfs, beats)
    real_windows = {s: real_window_set(b) for s, b in beats.items()}
    meters = {}
    for f in lib.read:
        meters[meter_name(f.meter)] = meters.get(meter_name(f.meter), 0) + f.bars
    metrics = {
        "data": {"path": shown(lib.root), "kind": "folder", "map": lib.map_name, "channel": lib.channel,
                 "checksum": lib.digest, "files": len(lib.files), "test_files": len(perfs),
                 "test_steps": int(sum(len(p) for p in perfs)), "bars_per_style": styles,
                 "bars_per_meter": meters,
                 "skipped": {f.rel.as_posix(): f"{f.skipped}: {f.why}" for f in lib.files if f.perf is None},
                 "report": lib.report()},
        "settings": {"seed": seed, "hit_decision": "class marginal > 0.5",
                     "expression": "expected bin centre given the true hits",
                     "listener": {"runs_per_style": runs, "bars": listen_bars, "min_beats": min_beats,
                                  "controls": "defaults (temperature 1)", "c2st_folds": folds,
                                  "c2st_window_bars": C2ST_BARS,
                                  "real": f"the folder's 4/4 files of {C2ST_BARS}+ bars, not fills",
                                  "drift_template": "hit rates of the style's files in the folder"}},
        "real_beats": real_listener(beats, counts, templates, min_beats, seed, folds),
        "checkpoints": {},
    }
    listened = {}
    for ckpt, label in zip(ckpts, checkpoint_labels(checkpoints)):
        as_style = {s: played_as(ckpt, s) for s in styles}
        scored = [replace(p, style=as_style[p.style]) for p in perfs]
        tf = score_model(ckpt, scored, progress=progress)
        tf["styles"] = {s: {**{k: v for k, v in score_model(ckpt, [q for p, q in zip(perfs, scored)
                                                                  if p.style == s]).items()
                               if k in TF_STYLE_KEYS},
                            "files": sum(p.style == s for p in perfs), "played_as": as_style[s]}
                        for s in styles}
        lib_meta = ckpt.meta.get("library") or {}
        entry = {"path": shown(ckpt.path), "data_checksum": ckpt.meta.get("data_checksum"),
                 "iter": ckpt.meta.get("iter"), "val_nll": ckpt.meta.get("val_nll"),
                 # trained on this folder: its scores are on files it learnt from (but the held-out ones)
                 "trained_on_folder": lib_meta.get("root") == str(lib.root.resolve()),
                 "teacher_forced": tf, "free_running": None}
        known = {s: b for s, b in beats.items() if s in ckpt.styles}
        if known:
            played = listener_runs(ckpt, known, runs, listen_bars, seed, progress)
            fr = {cond: {**listener_section(played[cond], real_windows, templates, seed, folds),
                         "bars": listen_bars} for cond in ("unprimed", "primed")}
            fr["unprimed"]["not_in_checkpoint"] = [s for s in beats if s not in ckpt.styles]
            rb = metrics["real_beats"]
            fr["real"] = {**_overall({s: rb["styles"][s] for s in played["unprimed"]}),
                          "c2st_accuracy": rb["c2st_accuracy"]}
            entry["free_running"] = fr
            listened[label] = played
        else:
            entry["free_running_skipped"] = (
                f"the folder's styles with {min_beats}+ 4/4 beats of {C2ST_BARS}+ bars (not fills), "
                f"{', '.join(beats)}, are none it knows ({', '.join(ckpt.styles)})" if beats else
                f"no style of the folder has {min_beats}+ 4/4 beats of {C2ST_BARS}+ bars (not fills)")
        metrics["checkpoints"][label] = entry
    metrics["seconds"] = round(time.time() - t0, 1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for label, played in listened.items():
        f = plots.listener_rolls(played, beats, out / f"listener_{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}.png")
        if f:
            figures.append(f)
    logs = {label: learning_log(Path(c.path)) for c, label in zip(ckpts, checkpoint_labels(checkpoints))}
    if any(logs.values()):
        f = plots.learning_curves(logs, out / "learning_curves.png")
        if f:
            figures.append(f)
    metrics["figures"] = figures
    atomic_write(out / "metrics.json", json.dumps(finite(metrics), indent=1))
    atomic_write(out / "report.md", folder_markdown(metrics))
    return metrics
