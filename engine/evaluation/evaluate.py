"""`drumd eval`: a checkpoint's test-split scores beside the baselines', and how it plays.

    teacher-forced   every test file scored step by step given the true past (model, baselines)
    listener         what a listener hears with default controls (T = 1), per style with at
                     least `min_beats` real test beats: unprimed runs (`generate` with no
                     primer, `runs` seeds per style at the median tempo of the style's test
                     beats) and primed runs (2 bars of a real test beat of the style, then the
                     model), each `listen_bars` bars (64) long, next to the style's real test
                     beats (not fills): hits per bar, backbeat, velocity and timing r with one
                     bar earlier, drift, and a classifier two-sample test on 4-bar windows
                     (engine/evaluation/groove_stats.py, engine/metrics.c2st); pass/fail against issue
                     12's targets
    temperature      2-bar primers from test files (a seeded subset) continued for 8 bars with
                     the live Sampler at each temperature, compared with what the drummer
                     really played next

Baselines are fitted on train and tuned on validation (never on test), and cached on disk by
the data checksum: they do not depend on the checkpoint.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from drumd.engine.data.encoding import NUM_CLASSES, Performance, performance_of, steps_of
from drumd.engine.data.gmd import _cache_dir, default_data_dir, load_dataset
from drumd.engine.evaluation import baselines as bl
from drumd.engine.evaluation.follow_eval import following
from drumd.engine.evaluation.groove_stats import (backbeat_share, bar_lag_r, beat_keeping, collapse,
                                                  compare_grooves, diversity, groove_features, groove_template,
                                                  has_backbeat, hits_per_bar, human_feel, listener_stats,
                                                  window_features, windows)
from drumd.engine.evaluation.metrics import TeacherForcedScore, c2st, expected_offset, expected_velocity
from drumd.engine.evaluation.report import atomic_write, finite, markdown
from drumd.engine.model.checkpoint import load_checkpoint, shipped_path
from drumd.engine.sampling.generate import generate
from drumd.engine.sampling.sampler import Controls, Sampler
from drumd.engine.training.train import batch_windows, build_arrays, to_inputs
from drumd.mappings.basics.grid import STEPS_PER_BAR, seconds_per_step

BASELINES_VERSION = 2  # bump when baseline code changes, to refit cached results (2: bar-context)
PRIMER_BARS, BARS = 2, 8  # temperature comparison: primer and continuation, in bars
LISTEN_BARS = 64          # length of the listener runs, in bars
MIN_BEATS = 10            # real test beats a style needs for the listener figures
REAL_DRIFT_MIN_BARS = 16  # real beats this long (quarters of 4+ bars) give a real drift
LISTENER_KEYS = ("hits_per_bar", "backbeat", "velocity_r", "timing_r", "drift",
                 "velocity_r_within", "timing_r_within", "backbeat_first_quarter",
                 "backbeat_last_quarter")
# Issue 12's targets for unprimed play, per style (and c2st_accuracy for unprimed and primed).
TARGET_HITS = 0.20        # hits per bar within +-20 % of real
TARGET_BACKBEAT = 0.85    # backbeat share at least 85 % of real
TARGET_VELOCITY_R = (0.6, 0.8)  # at least 0.6, or 80 % of real where real is lower
TARGET_TIMING_R = (0.3, 0.7)    # at least 0.3, or 70 % of real where real is lower
TARGET_DRIFT = 0.8
TARGET_C2ST = 0.70
TARGET_NLL = 1.108        # teacher-forced event NLL of the checkpoint the issue measured


FOLLOW_STYLES = ("rock", "funk")  # following is scored in these (those the checkpoint knows)
FOLLOW_RUNS, FOLLOW_BARS = 4, 16  # seeds per style (at most --runs), bars per run

def ms_per_step(bpm: float) -> float:
    """Length of one 16th in milliseconds at `bpm` (125.0 at 120); ValueError for a tempo not above 0."""
    return 1000.0 * seconds_per_step(bpm)


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
    """A baseline's teacher-forced scores (TeacherForcedScore.result) over `perfs`: event NLL in
    nats per step, and with expression guesses velocity MAE (MIDI) and offset MAE (ms)."""
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
    """Steps a .. b (16ths, end excluded) of a Performance, its labels kept."""
    return Performance(p.events[a:b], p.velocity[a:b], p.offset[a:b], p.bpm, p.style, p.fill, p.name)


def real_continuations(picks) -> list[Performance]:
    """What the drummers really played after each primer of `picks` ((Performance, start step)):
    BARS bars from the primer's end."""
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


def simple_listener(clips) -> dict:
    """Listener figures that need no style template: for the temperature comparison."""
    return {"hits_per_bar": hits_per_bar(clips), "backbeat_all": backbeat_share(clips),
            "velocity_r": bar_lag_r(clips, "velocity"), "timing_r": bar_lag_r(clips, "offset")}


def real_stats(real, backbeat) -> dict:
    """Listener figures of real clips (beat keeping against `backbeat`, one flag per clip, collapse,
    human feel, simple_listener): the reference the generated ones are read against."""
    return {**beat_keeping(real, backbeat), **collapse(real), **human_feel(real), **simple_listener(real)}


def free_running_stats(groups, real, backbeat) -> dict:
    """Listener figures of generated clips, `groups` ([[Performance] per primer], `backbeat` one flag
    per primer) as real_stats gives them, plus the human-feel ratios to `real`'s, the diversity
    within groups and the overlap/KL of each groove feature with `real`'s (compare_grooves)."""
    flat = [c for g in groups for c in g]
    mask = [m for g, m in zip(groups, backbeat) for _ in g]
    out = {**beat_keeping(flat, mask), **collapse(flat), **human_feel(flat), **simple_listener(flat)}
    ref = human_feel(real)
    out["human_feel_ratio"] = {k: (out[k] / ref[k] if out[k] is not None and ref[k] else None)
                               for k in ("offset_std", "velocity_std")}
    out["diversity"] = diversity(groups)
    out["vs_real"] = compare_grooves(groove_features(real), groove_features(flat))
    return out


def real_beats(test, min_beats: int) -> tuple[dict, dict]:
    """({style: [its test beats]} of the styles with at least min_beats beats (not fills),
    most beats first; {style: number of test beats} of every style)."""
    by_style: dict[str, list] = {}
    for p in test:
        if not p.fill:
            by_style.setdefault(p.style, []).append(p)
    counts = dict(sorted(((s, len(v)) for s, v in by_style.items()), key=lambda kv: (-kv[1], kv[0])))
    return {s: by_style[s] for s in counts if counts[s] >= min_beats}, counts


def style_templates(train, styles) -> dict:
    """{style: (16, 9) hit rates of the style's training beats}: the yardstick of drift."""
    out = {}
    for s in styles:
        beats = [p for p in train if p.style == s and not p.fill]
        out[s] = groove_template(beats or [p for p in train if not p.fill] or train)
    return out


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def listener_runs(ckpt, beats: dict, runs: int, bars: int, seed: int, progress=False) -> dict:
    """Default-controls play of every style the checkpoint knows:
    {"unprimed": {style: [Performance]}, "primed": {style: [Performance]},
     "primers": {style: [Performance]}} (runs of `bars` bars; primers: the 2 real bars each
    primed run continued, a bar-aligned clip of a test beat, files in seeded random order)."""
    styles = [s for s in beats if s in ckpt.styles]
    out = {"unprimed": {}, "primed": {}, "primers": {}}
    jobs = [(k, s, i) for k, s in enumerate(styles) for i in range(runs)]
    if progress:
        from tqdm import tqdm
        jobs = tqdm(jobs, desc="listener runs", unit="style-seed", leave=False)
    rng = np.random.default_rng([seed, 12])
    files = {s: [p for p in beats[s] if len(p) >= PRIMER_BARS * STEPS_PER_BAR] for s in styles}
    order = {s: rng.permutation(len(files[s])) for s in styles}
    k_primer = PRIMER_BARS * STEPS_PER_BAR
    for k, s, i in jobs:
        bpm = float(np.median([p.bpm for p in beats[s]]))
        steps = generate(ckpt, bars, style=s, primer=(), bpm=bpm, seed=_seed(seed, k, i, 0))
        out["unprimed"].setdefault(s, []).append(performance_of(steps, bpm, s))
        if not files[s]:
            continue
        p = files[s][order[s][i % len(files[s])]]
        start = int(rng.integers(0, len(p) // STEPS_PER_BAR - PRIMER_BARS + 1)) * STEPS_PER_BAR
        primer = clip(p, start, start + k_primer)
        steps = generate(ckpt, bars, style=s, primer=steps_of(primer), bpm=p.bpm, seed=_seed(seed, k, i, 1))
        out["primed"].setdefault(s, []).append(performance_of(steps, p.bpm, s))
        out["primers"].setdefault(s, []).append(primer)
    return out


def source_group(name: str) -> str:
    """What a real file shares its groove with, for grouping the C2ST's folds: the GMD's
    eval_session has each composed groove ("funk-groove1") played by several drummers, so those
    files group by the groove; other files by their drummer's session (takes of one song)."""
    parts = Path(name).parts
    if len(parts) >= 3 and parts[1] == "eval_session" and "_" in parts[-1]:
        return "eval:" + parts[-1].split("_")[1]
    return "/".join(parts[:2]) if len(parts) >= 3 else name


def window_set(clips, groups=None) -> tuple[np.ndarray, np.ndarray]:
    """The C2ST classifiers' features (window_features) of the 4-bar windows of every clip (hop
    1 bar), and the group of each window: groups[i] of the clip it comes from (default: i)."""
    w = [windows(c) for c in clips]
    ids = {g: k for k, g in enumerate(dict.fromkeys(groups))} if groups is not None else None
    g = [ids[groups[i]] if ids else i for i in range(len(w))]
    out = np.concatenate([np.full(len(x), gi) for gi, x in zip(g, w)]) if w else np.zeros(0, int)
    return window_features(np.concatenate(w)) if w else np.zeros((0, 1)), out


def real_window_set(beats) -> tuple[np.ndarray, np.ndarray]:
    """window_set of real beats, grouped by source (source_group), so the C2ST never splits takes of
    one song between fitting and testing."""
    return window_set(beats, [source_group(p.name) for p in beats])


def real_null_c2st(beats: dict, seed: int, folds: int, splits: int = 3) -> dict:
    """C2ST of real beats against other real beats: each style's source groups (source_group)
    dealt at random into two halves, `splits` times (styles of fewer than 4 sources left out).
    What "cannot tell" reads as at this sample size: the test's own noise. accuracy: the mean
    of the splits; splits: each one's."""
    rng = np.random.default_rng([seed, 7])
    accs = []
    for k in range(splits):
        halves = ({}, {})
        for s, b in beats.items():
            groups = [source_group(p.name) for p in b]
            ids = list(dict.fromkeys(groups))
            if len(ids) < 4:
                continue
            first = set(rng.permutation(len(ids))[:len(ids) // 2].tolist())
            for h in (0, 1):
                keep = [i for i, g in enumerate(groups) if (ids.index(g) in first) == (h == 0)]
                halves[h][s] = window_set([b[i] for i in keep], [groups[i] for i in keep])
        accs.append(balanced_c2st(*halves, seed + k, folds)["accuracy"])
    accs = [a for a in accs if a is not None]
    return {"accuracy": float(np.mean(accs)) if accs else None, "splits": accs}


def balanced_c2st(real: dict, generated: dict, seed: int, folds: int) -> dict:
    """C2ST over several styles at once, each style's windows subsampled to the same number on
    both sides (so the style mix cannot tell them apart). real/generated: {style: (windows,
    groups)}; groups are made unique across styles."""
    rng = np.random.default_rng([seed, 99])
    parts = {0: ([], []), 1: ([], [])}
    offset = 0
    for s in real:
        if s not in generated:
            continue
        k = min(len(real[s][0]), len(generated[s][0]))
        for side, (w, g) in ((0, real[s]), (1, generated[s])):
            idx = np.sort(rng.choice(len(w), k, replace=False))
            parts[side][0].append(w[idx])
            parts[side][1].append(g[idx] + offset)
        offset += 1 + int(max([0, *real[s][1], *generated[s][1]]))
    if not parts[0][0]:
        return c2st(np.zeros((0, 1)), np.zeros((0, 1)))
    cat = lambda side, j: np.concatenate(parts[side][j])
    return c2st(cat(0, 0), cat(1, 0), cat(0, 1), cat(1, 1), folds=folds, seed=seed)


def _overall(per_style: dict) -> dict:
    """Unweighted mean over styles of every listener figure (styles where it is defined)."""
    out = {}
    for k in LISTENER_KEYS:
        v = [st[k] for st in per_style.values() if st.get(k) is not None]
        out[k] = float(np.mean(v)) if v else None
    return out


def real_listener(beats: dict, counts: dict, templates: dict, min_beats: int, seed: int, folds: int) -> dict:
    """The real test beats' listener figures; c2st_accuracy: real against real (real_null_c2st)."""
    styles = {s: {**listener_stats(b, templates[s], REAL_DRIFT_MIN_BARS), "files": len(b),
                  "bpm": float(np.median([p.bpm for p in b]))} for s, b in beats.items()}
    null = real_null_c2st(beats, seed, folds)
    return {**_overall(styles), "c2st_accuracy": null["accuracy"], "c2st": null, "styles": styles,
            "test_beats": counts, "qualifying": list(beats), "min_beats": min_beats}


def listener_section(runs: dict, real_windows: dict, templates: dict, seed: int, folds: int) -> dict:
    """Per style and overall listener figures and C2ST of one condition's runs."""
    styles, gen_windows = {}, {}
    for s, clips in runs.items():
        st = listener_stats(clips, templates[s])
        gen_windows[s] = window_set(clips)
        (rw, rg), (gw, gg) = real_windows[s], gen_windows[s]
        test = c2st(rw, gw, rg, gg, folds=folds, seed=seed)
        styles[s] = {**st, "c2st_accuracy": test["accuracy"], "c2st": test}
    overall = balanced_c2st(real_windows, gen_windows, seed, folds)
    return {**_overall(styles), "c2st_accuracy": overall["accuracy"], "c2st": overall,
            "runs_per_style": max((len(c) for c in runs.values()), default=0), "styles": styles}


def _target(what, metric, style, value, low=None, high=None, need=""):
    ok = None if value is None or (low is None and high is None) else \
        bool((low is None or value >= low - 1e-12) and (high is None or value <= high + 1e-12))
    return {"target": what, "metric": metric, "style": style, "value": value, "need": need, "pass": ok}


def targets(entry: dict, real: dict, baselines: dict) -> list[dict]:
    """Issue 12's targets, pass/fail (None: not measurable here)."""
    out = []
    fr = entry["free_running"]
    for s, u in fr["unprimed"]["styles"].items():
        r = real["styles"][s]
        rh = r["hits_per_bar"]
        out.append(_target("hits per bar within ±20 % of real", "hits_per_bar", s, u["hits_per_bar"],
                           *((rh * (1 - TARGET_HITS), rh * (1 + TARGET_HITS)) if rh else (None, None)),
                           need=f"{rh * (1 - TARGET_HITS):.1f}–{rh * (1 + TARGET_HITS):.1f}" if rh else "n/a"))
        rb = r["backbeat"]
        out.append(_target("backbeat ≥ 85 % of real", "backbeat", s, u["backbeat"],
                           TARGET_BACKBEAT * rb if rb is not None else None,
                           need=f"≥ {TARGET_BACKBEAT * rb * 100:.0f} %" if rb is not None else "n/a"))
        for key, (floor, share), label in (("velocity_r", TARGET_VELOCITY_R, "velocity r"),
                                           ("timing_r", TARGET_TIMING_R, "timing r")):
            rv = r[key]
            low = None if rv is None else (floor if rv >= floor else share * rv)
            out.append(_target(f"{label} ≥ {floor:g} (or {share * 100:.0f} % of real if real is lower)",
                               key, s, u[key], low, need=f"≥ {low:.2f}" if low is not None else "n/a"))
        out.append(_target(f"drift ≥ {TARGET_DRIFT:g} over {fr['unprimed']['bars']} bars", "drift", s,
                           u["drift"], TARGET_DRIFT, need=f"≥ {TARGET_DRIFT:g}"))
    for cond in ("unprimed", "primed"):
        out.append(_target(f"C2ST accuracy ≤ {TARGET_C2ST:g} ({cond})", "c2st_accuracy", "all",
                           fr[cond]["c2st_accuracy"], high=TARGET_C2ST, need=f"≤ {TARGET_C2ST:g}"))
    tf = entry["teacher_forced"]
    rep = baselines.get("repeat-1-bar", {}).get("test", {}).get("velocity_mae")
    out.append(_target("teacher-forced velocity MAE ≤ repeat-last-bar's", "velocity_mae", "all",
                       tf.get("velocity_mae"), high=rep, need=f"≤ {rep:.1f}" if rep is not None else "n/a"))
    out.append(_target(f"teacher-forced event NLL ≤ {TARGET_NLL}", "nll", "all", tf["nll"], high=TARGET_NLL,
                       need=f"≤ {TARGET_NLL}"))
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
             samples: int = 3, seed: int = 0, progress: bool = True, runs: int = 16,
             listen_bars: int = LISTEN_BARS, min_beats: int = MIN_BEATS, folds: int = 5) -> dict:
    """Evaluate checkpoints (None: the shipped one); write report.md, metrics.json and PNGs to out.

    primers, samples, temperatures: the temperature comparison (8-bar continuations).
    runs: unprimed seeds and primed primers per style; listen_bars: their length in bars;
    min_beats: real test beats a style needs to be judged; folds: of the C2ST.
    """
    from drumd.engine.evaluation import plots  # matplotlib: loaded only when figures are drawn
    t0 = time.time()
    checkpoints = list(checkpoints) or [None]
    ckpts = [load_checkpoint(p) for p in checkpoints]  # a bad file fails before any work
    data, digest = load_dataset(data_dir, progress=progress)
    test = data["test"]
    baselines = baseline_results(data, digest, progress)
    picks = choose_primers(test, primers, seed)
    real = real_continuations(picks)
    backbeat = [has_backbeat(c) for c in real]
    beats, counts = real_beats(test, min_beats)
    templates = style_templates(data["train"], beats)
    real_windows = {s: real_window_set(b) for s, b in beats.items()}
    metrics = {
        "data": {"path": shown(data_dir or default_data_dir()), "checksum": digest, "test_files": len(test),
                 "test_steps": int(sum(len(p) for p in test))},
        "settings": {"primers": len(picks), "primer_bars": PRIMER_BARS, "bars": BARS,
                     "samples_per_primer": samples, "temperatures": list(temperatures), "seed": seed,
                     "hit_decision": "class marginal > 0.5",
                     "expression": "expected bin centre given the true hits",
                     "kl": "KL(real || generated) of Gaussian KDEs, nats",
                     "listener": {"runs_per_style": runs, "bars": listen_bars, "min_beats": min_beats,
                                  "controls": "defaults (temperature 1)", "c2st_folds": folds,
                                  "c2st_window_bars": 4, "real_drift_min_bars": REAL_DRIFT_MIN_BARS,
                                  "drift_template": "hit rates of the style's training-split beats",
                                  "overall": "unweighted mean over the judged styles; C2ST pooled, "
                                             "each style balanced"},
                     "following": {"runs_per_style": min(runs, FOLLOW_RUNS), "bars": FOLLOW_BARS,
                                   "judged_from_bar": 3, "bpm": 100}},
        "baselines": baselines,
        "real": {**real_stats(real, backbeat), "backbeat_primers": int(sum(backbeat)),
                 "test_split": human_feel(test)},
        "real_beats": real_listener(beats, counts, templates, min_beats, seed, folds),
        "checkpoints": {},
    }
    generated, logs, listened = {}, {}, {}
    for ckpt, label in zip(ckpts, checkpoint_labels(checkpoints)):
        entry = {"path": shown(ckpt.path), "data_checksum": ckpt.meta.get("data_checksum"),
                 "iter": ckpt.meta.get("iter"), "val_nll": ckpt.meta.get("val_nll"),
                 "teacher_forced": score_model(ckpt, test, progress=progress), "free_running": {}}
        played = listener_runs(ckpt, beats, runs, listen_bars, seed, progress)
        for cond in ("unprimed", "primed"):
            entry["free_running"][cond] = {**listener_section(played[cond], real_windows, templates, seed, folds),
                                           "bars": listen_bars}
        entry["free_running"]["unprimed"]["not_in_checkpoint"] = [s for s in beats if s not in ckpt.styles]
        rb = metrics["real_beats"]  # the real figures over the styles played, for the overall row
        entry["free_running"]["real"] = {**_overall({s: rb["styles"][s] for s in played["unprimed"]}),
                                         "c2st_accuracy": rb["c2st_accuracy"]}
        entry["free_running"]["temperature"] = {}
        for t in temperatures:
            groups = generate_set(ckpt, picks, t, samples, seed, progress)
            entry["free_running"]["temperature"][f"{t:g}"] = free_running_stats(groups, real, backbeat)
            generated[f"{label} T={t:g}"] = groups
        entry["targets"] = targets(entry, metrics["real_beats"], baselines)
        # following a player (issue 17): the benches' scenarios, a few seeds
        entry["following"] = following(ckpt, [s for s in FOLLOW_STYLES if s in ckpt.styles]
                                       or [ckpt.default_style], min(runs, FOLLOW_RUNS), FOLLOW_BARS, seed)
        metrics["checkpoints"][label] = entry
        logs[label] = learning_log(Path(ckpt.path))
        listened[label] = played
    metrics["seconds"] = round(time.time() - t0, 1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics["figures"] = plots.write_all(out, metrics, picks, real, generated, logs, listened, beats)
    atomic_write(out / "metrics.json", json.dumps(finite(metrics), indent=1))
    atomic_write(out / "report.md", markdown(metrics))
    return metrics
