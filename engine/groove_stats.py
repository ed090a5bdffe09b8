"""Statistics of free-running grooves: clips of whole bars (Performances starting on a downbeat).

Beat-keeping, groove-feature distributions after Yang & Lerch (2018), human feel, diversity
and collapse; each computed the same way for generated and for real continuations, so every
generated figure has a real one beside it.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from drumd.engine.encoding import CLASS_NAMES, NUM_CLASSES, event_bits
from drumd.engine.metrics import compare_distributions

STEPS_PER_BAR = 16
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


def syncopation(onsets: np.ndarray) -> float:
    """Longuet-Higgins & Lee syncopation of one bar's onsets (16 bools), the bar repeating:
    each note followed by a rest on a stronger position before the next note adds the
    weight difference."""
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
    """Values whose distributions are compared between generated and real sets."""
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
    """OA and KL(real || generated) of every feature; class densities also averaged."""
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
