"""Statistics of free-running grooves: clips of whole bars (Performances starting on a downbeat).

Beat-keeping, groove-feature distributions after Yang & Lerch (2018), human feel, diversity
and collapse; each computed the same way for generated and for real continuations, so every
generated figure has a real one beside it.

Listener metrics (what issue 12 asks of default play), pure functions of clips of whole 4/4
bars, 16 steps each; a clip's trailing partial bar is ignored:
    hits_per_bar     mean number of hits (class-steps, all 9 classes) per bar
    backbeat_share   share of bars with a snare on steps 4 and 12 (beats 2 and 4, 0-based 16ths)
    bar_lag_r        Pearson r, over every hit whose drum also hit on the same 16th one bar
                     earlier, of the two hits' velocities (or offsets)
    drift            groove similarity to the style of the last quarter of a clip over that of
                     its first quarter (1.0 = no drift; see `drift`)
    windows          4-bar windows (hits, velocity/127, offsets) for the classifier two-sample
                     test, and window_features, what its classifiers see of a window
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from drumd.engine.data.encoding import CLASS_NAMES, NUM_CLASSES, event_bits
from drumd.engine.evaluation.metrics import compare_distributions
from drumd.mappings.basics.grid import STEPS_PER_BAR

KICK, SNARE = CLASS_NAMES.index("kick"), CLASS_NAMES.index("snare")
# Longuet-Higgins & Lee metrical weights of a 4/4 bar's 16 steps (downbeat strongest).
LHL_WEIGHTS = np.array([0, -4, -3, -4, -2, -4, -3, -4, -1, -4, -3, -4, -2, -4, -3, -4])
# Smallest KDE bandwidth per feature, in the feature's units: about half a grid unit, so
# integer-valued features compare as smooth distributions rather than spikes.
MIN_BANDWIDTH = {"hits_per_bar": 0.5, "class_density": 0.3, "ioi": 0.3, "syncopation": 0.5,
                 "velocity": 0.02, "offset": 0.02}


def bars_of(clip) -> np.ndarray:
    """(bars, 16, 9) bool hits of a clip."""
    n = len(clip) // STEPS_PER_BAR * STEPS_PER_BAR
    return event_bits(clip.events[:n]).reshape(-1, STEPS_PER_BAR, NUM_CLASSES) > 0.5


BACKBEAT_STEPS = (4, 12)  # beats 2 and 4 of a 4/4 bar, in 16ths from the downbeat
C2ST_BARS = 4             # bars per window of the classifier two-sample test


def _all_bars(clips) -> np.ndarray:
    """(bars, 16, 9) bool: every whole bar of every clip, stacked."""
    bars = [bars_of(c) for c in clips]
    return np.concatenate(bars) if bars else np.zeros((0, STEPS_PER_BAR, NUM_CLASSES), bool)


def hits_per_bar(clips) -> float | None:
    """Mean hits per bar over all whole bars of the clips: a hit is one class on one step, so
    a bar holds 0-144. None when there is no whole bar."""
    b = _all_bars(clips)
    return float(b.sum((1, 2)).mean()) if len(b) else None


def backbeat_share(clips) -> float | None:
    """Share (0-1) of all whole bars with a snare on both steps 4 and 12 (beats 2 and 4).
    None when there is no whole bar."""
    b = _all_bars(clips)
    if not len(b):
        return None
    return float((b[:, BACKBEAT_STEPS[0], SNARE] & b[:, BACKBEAT_STEPS[1], SNARE]).mean())


def bar_lag_pairs(clip, key: str = "velocity") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(now, one bar earlier, class): `key` ("velocity", MIDI units, or "offset", steps) of
    every hit at step t >= 16 of class c whose class c also hit at step t - 16, and c; three
    arrays (n,), the values float64."""
    n = len(clip) // STEPS_PER_BAR * STEPS_PER_BAR
    hit = clip.velocity[:n] > 0
    values = np.asarray(getattr(clip, key)[:n], np.float64)
    both = hit[STEPS_PER_BAR:] & hit[:-STEPS_PER_BAR]
    return values[STEPS_PER_BAR:][both], values[:-STEPS_PER_BAR][both], np.nonzero(both)[1]


def bar_lag_r(clips, key: str = "velocity", within: bool = False) -> float | None:
    """Pearson correlation of a hit's `key` (velocity or offset) with that of the same drum
    class on the same 16th one bar earlier, over the pairs of all clips pooled (only pairs
    where both hit). 1 = the accents (or push/lay-back) repeat bar to bar exactly; 0 = they are
    drawn independently. Pooled pairs include the level differences between classes and clips;
    within=True removes them first (each value minus its (clip, class) mean over the pairs), a
    stricter figure. None with fewer than 3 pairs or no variance."""
    xs, ys = [np.zeros(0)], [np.zeros(0)]
    for clip in clips:
        x, y, cls = bar_lag_pairs(clip, key)
        if within:
            for c in np.unique(cls):
                m = cls == c
                mu = np.concatenate([x[m], y[m]]).mean()
                x[m] -= mu
                y[m] -= mu
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    if len(x) < 3 or x.std() < 1e-12 or y.std() < 1e-12:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def groove_template(clips) -> np.ndarray:
    """(16, 9) float: the hit rate of every (16th, class) over all whole bars of the clips,
    0-1 (zeros when there is no bar). Of a style's real beats: the style's groove."""
    b = _all_bars(clips)
    return b.mean(0) if len(b) else np.zeros((STEPS_PER_BAR, NUM_CLASSES))


def groove_similarity(a: np.ndarray, b: np.ndarray) -> float | None:
    """Weighted Jaccard (Ruzicka) similarity of two (16, 9) hit-rate patterns:
    sum(min(a, b)) / sum(max(a, b)), 1 = the same pattern and density, 0 = no hit in common.
    Unlike a cosine it falls when one pattern only thins out or fills up. None if both empty."""
    top = np.maximum(a, b).sum()
    return float(np.minimum(a, b).sum() / top) if top > 0 else None


def quarter_similarities(clip, template: np.ndarray) -> tuple[float, float] | None:
    """groove_similarity to `template` of the hit-rate pattern of the first quarter of a clip's
    whole bars and of its last quarter (quarters of bars // 4 bars each); None for a clip of
    fewer than 4 bars or an empty template."""
    b = bars_of(clip)
    q = len(b) // 4
    if q < 1:
        return None
    first = groove_similarity(b[:q].mean(0), template)
    last = groove_similarity(b[-q:].mean(0), template)
    return None if first is None or last is None else (first, last)


def drift(clips, template: np.ndarray, min_bars: int = 4) -> float | None:
    """How much of its style a groove keeps from its first quarter to its last:

        drift = mean over clips of S(last quarter) / mean over clips of S(first quarter)

    where S(quarter) = groove_similarity(hit-rate pattern of the quarter's bars, template)
    and template is the style's groove (groove_template of its real beats). 1.0 = no drift,
    < 1 = the groove wandered away from its style (thinned out, filled up, lost its backbeat
    or its hi-hat pattern), > 1 = it moved closer. For a 64-bar run: bars 49-64 over bars 1-16.
    Clips shorter than min_bars whole bars are left out; None when none is left or the first
    quarters share nothing with the template."""
    pairs = [quarter_similarities(c, template) for c in clips if len(c) // STEPS_PER_BAR >= min_bars]
    pairs = [p for p in pairs if p is not None]
    if not pairs:
        return None
    first, last = np.mean(pairs, axis=0)
    return float(last / first) if first > 0 else None


def listener_stats(clips, template: np.ndarray, drift_min_bars: int = 4) -> dict:
    """The listener metrics of a set of clips (one style), with the backbeat of the first and
    last quarters behind drift, and the stricter within-class correlations."""
    quarters = [bars_of(c) for c in clips if len(c) // STEPS_PER_BAR >= max(drift_min_bars, 4)]
    bb = [(b[:, BACKBEAT_STEPS[0], SNARE] & b[:, BACKBEAT_STEPS[1], SNARE]) for b in quarters]
    return {
        "clips": len(clips), "bars": int(sum(len(c) // STEPS_PER_BAR for c in clips)),
        "hits_per_bar": hits_per_bar(clips), "backbeat": backbeat_share(clips),
        "velocity_r": bar_lag_r(clips, "velocity"), "timing_r": bar_lag_r(clips, "offset"),
        "velocity_r_within": bar_lag_r(clips, "velocity", within=True),
        "timing_r_within": bar_lag_r(clips, "offset", within=True),
        "drift": drift(clips, template, drift_min_bars), "drift_clips": len(quarters),
        "backbeat_first_quarter": _mean_or_none([float(x[:len(x) // 4].mean()) for x in bb]),
        "backbeat_last_quarter": _mean_or_none([float(x[-(len(x) // 4):].mean()) for x in bb]),
    }


def windows(clip, bars: int = C2ST_BARS, hop_bars: int = 1) -> np.ndarray:
    """(n, bars * 16, 27) float32 windows of a clip starting on every hop_bars-th bar line:
    per step the 9 classes' hits (0/1), velocities / 127 and offsets (steps, 0 where no hit),
    for the classifier two-sample test. n = 0 when the clip is shorter than `bars` bars."""
    n_bars = len(clip) // STEPS_PER_BAR
    starts = range(0, n_bars - bars + 1, hop_bars)
    span = bars * STEPS_PER_BAR
    feats = np.concatenate([event_bits(clip.events[:n_bars * STEPS_PER_BAR]),
                            clip.velocity[:n_bars * STEPS_PER_BAR] / 127.0,
                            clip.offset[:n_bars * STEPS_PER_BAR]], axis=1).astype(np.float32)
    out = [feats[s * STEPS_PER_BAR:s * STEPS_PER_BAR + span] for s in starts]
    return np.stack(out) if out else np.zeros((0, span, 3 * NUM_CLASSES), np.float32)


def window_features(w: np.ndarray) -> np.ndarray:
    """What the two-sample test's classifiers see of each window: (n, bars*16, 27) windows
    (as `windows` makes them) -> (n, 869) float32, the window folded over its bars:

        432  mean over the bars of every (16th, class) hit, velocity/127 and offset
        144  mean over consecutive bar pairs of |hit - hit one bar earlier| per (16th, class)
        144  the same of |velocity change|/127, counted where both bars hit (else 0)
        144  the same of |offset change| (steps)
          5  hits per bar; mean |velocity change|/127 and mean |offset change| over the hits
             whose drum hit the same 16th a bar earlier; backbeat share; changed hits per bar

    Folding keeps what a listener hears (the groove's pattern, its accents and feel, and how
    they repeat bar to bar) with a quarter of the dimensions of the flat window: on the GMD
    test beats it told free-running play from real beats far better than the flat window did
    at the same sample size, and real beats from other real beats no better than chance.
    """
    n = len(w)
    b = np.asarray(w, np.float32).reshape(n, -1, STEPS_PER_BAR, 3 * NUM_CLASSES)
    hit, vel, off = b[..., :NUM_CLASSES], b[..., NUM_CLASSES:2 * NUM_CLASSES], b[..., 2 * NUM_CLASSES:]
    both = hit[:, 1:] * hit[:, :-1]
    dh = np.abs(hit[:, 1:] - hit[:, :-1])
    dv = np.abs(vel[:, 1:] - vel[:, :-1]) * both
    do = np.abs(off[:, 1:] - off[:, :-1]) * both
    pairs = both.sum((1, 2, 3)) + 1e-6
    summary = np.stack([hit.sum((1, 2, 3)) / b.shape[1], dv.sum((1, 2, 3)) / pairs, do.sum((1, 2, 3)) / pairs,
                        (hit[:, :, BACKBEAT_STEPS[0], SNARE] * hit[:, :, BACKBEAT_STEPS[1], SNARE]).mean(1),
                        dh.sum((1, 2, 3)) / max(b.shape[1] - 1, 1)], axis=1)
    return np.concatenate([b.mean(1).reshape(n, -1), dh.mean(1).reshape(n, -1), dv.mean(1).reshape(n, -1),
                           do.mean(1).reshape(n, -1), summary], axis=1).astype(np.float32)


def syncopation(onsets: np.ndarray) -> float:
    """Longuet-Higgins & Lee (1984) syncopation of one 4/4 bar's onsets (16 bools, one per 16th),
    the bar repeating: each note followed by a rest on a stronger position before the next
    note adds the weight difference (LHL_WEIGHTS). 0 = none; larger = more syncopated."""
    pos = np.flatnonzero(onsets)
    if not len(pos):
        return 0.0
    total = 0
    for a, b in zip(pos, np.append(pos[1:], pos[0] + STEPS_PER_BAR)):
        rests = np.arange(a + 1, b) % STEPS_PER_BAR
        if len(rests):
            strongest = LHL_WEIGHTS[rests].max()
            total += max(strongest - LHL_WEIGHTS[a], 0)
    return float(total)


def has_backbeat(clip) -> bool:
    """Snare on beats 2 and 4 in at least half the bars."""
    b = bars_of(clip)
    return bool(len(b)) and float((b[:, 4, SNARE] & b[:, 12, SNARE]).mean()) >= 0.5


def _share(positions: np.ndarray, every: int) -> float | None:
    return float((positions % every == 0).mean()) if len(positions) else None


def beat_keeping(clips, backbeat_mask) -> dict:
    """Grid alignment of kick and snare, backbeat kept (only where the real continuation of
    the same primer has one: backbeat_mask), density stability, one-bar periodicity, empty bars."""
    bars = [bars_of(c) for c in clips]
    steps = [np.nonzero(b)[1:] for b in bars]  # (step in bar, class) of every hit
    kick = np.concatenate([s[s_c == KICK] for s, s_c in steps]) if clips else np.zeros(0)
    snare = np.concatenate([s[s_c == SNARE] for s, s_c in steps]) if clips else np.zeros(0)
    backbeat = [float((b[:, 4, SNARE] & b[:, 12, SNARE]).mean()) for b, m in zip(bars, backbeat_mask) if m]
    per_bar = [b.sum((1, 2)) for b in bars]
    cv = [h.std() / h.mean() for h in per_bar if h.mean() > 0]
    return {
        "kick_on_beat": _share(kick, 4), "kick_on_8th": _share(kick, 2),
        "snare_on_beat": _share(snare, 4), "snare_on_8th": _share(snare, 2),
        "backbeat": float(np.mean(backbeat)) if backbeat else None,
        "density_cv": float(np.mean(cv)) if cv else None,
        "periodicity": _mean_or_none([bar_autocorrelation(b.sum(-1).ravel()) for b in bars]),
        "empty_bars": float(np.mean(np.concatenate(per_bar) == 0)),
    }


def bar_autocorrelation(onsets: np.ndarray) -> float | None:
    """Correlation of the per-step onset count with itself one bar later (1: the bar repeats;
    None: no variation to correlate)."""
    a, b = onsets[:-STEPS_PER_BAR].astype(np.float64), onsets[STEPS_PER_BAR:].astype(np.float64)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _mean_or_none(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def groove_features(clips) -> dict[str, np.ndarray]:
    """Values whose distributions are compared between generated and real sets (after Yang &
    Lerch 2018), each a flat float64 array: hits_per_bar and density_<class> (per bar),
    ioi (16ths between consecutive onset steps), syncopation (per bar, kick and snare),
    velocity (/127) and offset (16th steps) of every hit."""
    out = {k: [] for k in ("hits_per_bar", "ioi", "syncopation", "velocity", "offset")}
    for c in range(NUM_CLASSES):
        out[f"density_{CLASS_NAMES[c]}"] = []
    for clip in clips:
        b = bars_of(clip)
        out["hits_per_bar"].append(b.sum((1, 2)))
        for c in range(NUM_CLASSES):
            out[f"density_{CLASS_NAMES[c]}"].append(b[:, :, c].sum(1))
        onset_steps = np.flatnonzero(b.any(-1).ravel())
        out["ioi"].append(np.diff(onset_steps))
        out["syncopation"].append([syncopation(bar[:, KICK] | bar[:, SNARE]) for bar in b])
        hit = clip.velocity > 0
        out["velocity"].append(clip.velocity[hit] / 127.0)
        out["offset"].append(clip.offset[hit])
    return {k: np.concatenate(v).astype(np.float64) if v else np.zeros(0) for k, v in out.items()}


def compare_grooves(real: dict, generated: dict) -> dict:
    """{feature: {"oa": overlapping area 0-1, "kl": KL(real || generated) in nats}} of every
    feature of two groove_features dicts (compare_distributions, MIN_BANDWIDTH per feature);
    "class_density": the classes' densities averaged."""
    out = {}
    for k in real:
        bw = MIN_BANDWIDTH["class_density" if k.startswith("density_") else k]
        out[k] = compare_distributions(real[k], generated[k], bw)
    dens = [out[f"density_{n}"] for n in CLASS_NAMES]
    kls = [d["kl"] for d in dens if d["kl"] is not None]
    out["class_density"] = {"oa": float(np.mean([d["oa"] for d in dens])),
                            "kl": float(np.mean(kls)) if kls else None}
    return out


def human_feel(clips) -> dict:
    """Spread of microtiming (steps) and velocity (/127) over all hits."""
    hits = [c.velocity > 0 for c in clips]
    off = np.concatenate([c.offset[h] for c, h in zip(clips, hits)]) if clips else np.zeros(0)
    vel = np.concatenate([c.velocity[h] / 127.0 for c, h in zip(clips, hits)]) if clips else np.zeros(0)
    return {"offset_std": float(off.std()) if len(off) else None,
            "velocity_std": float(vel.std()) if len(vel) else None}


def diversity(groups) -> float | None:
    """Mean Hamming distance (differing class-steps per bar) between the same bar of two
    samples continuing the same primer."""
    d = [float((bars_of(a) != bars_of(b)).sum((1, 2)).mean())
         for g in groups for a, b in combinations(g, 2)]
    return float(np.mean(d)) if d else None


def collapse(clips, repeats: int = 4, silent: int = 2) -> dict:
    """Share of clips stuck in a loop (>= `repeats` identical bars in a row), gone quiet
    (>= `silent` empty bars in a row), or either."""
    loop, quiet = [], []
    for clip in clips:
        b = bars_of(clip)
        loop.append(_longest_run([bool((b[i] == b[i - 1]).all()) for i in range(1, len(b))]) + 1 >= repeats)
        quiet.append(_longest_run([not bar.any() for bar in b]) >= silent)
    n = max(len(clips), 1)
    return {"loop": sum(loop) / n, "silence": sum(quiet) / n,
            "collapse": sum(a or b for a, b in zip(loop, quiet)) / n}


def _longest_run(flags) -> int:
    best = run = 0
    for f in flags:
        run = run + 1 if f else 0
        best = max(best, run)
    return best
