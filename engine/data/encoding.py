"""The step encoding: one 16th-note step = which of 9 drum classes hit, with velocity and timing.

Pure functions, no I/O (the class table is read once, at import, from the packaged gm map).
The 9 classes are Magenta drums_rnn's. A GM pitch's class is a reduction of its class in
drumd's one GM pitch -> class table (mappings.gm_classes, from maps/gm.yaml): on every pitch
the Groove MIDI Dataset plays (through the roland-td map: 36-38, 40, 42-46, 48, 49, 51, 53,
57, 59) it is drums_rnn's table, so our per-step NLL over the 512-way event is comparable
with drums_rnn's and the shipped checkpoint, trained with that table, reads as it was
trained. Hand percussion and the cowbell (GM 56, 58, 60-81), which the model never heard,
have no class (drums_rnn scattered them over snare, hats, toms and crash); nor has anything
outside GM 35-81 (maps translate a kit's own notes to GM first).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drumd.mappings import gm_classes
from drumd.mappings.basics.grid import nearest_step

ENCODING_VERSION = 1

# The model's classes in drums_rnn's order, each with the GM pitch played for it.
CLASS_NAMES = ("kick", "snare", "closed_hh", "open_hh", "low_tom", "mid_tom", "high_tom",
               "crash", "ride")
CLASS_PITCH = (36, 38, 42, 46, 45, 48, 50, 49, 51)
# drumd's drum classes (mappings.CLASSES) -> the model's class; None: the model has none.
MODEL_CLASS: dict[str, str | None] = {
    "kick": "kick",
    "snare": "snare", "sidestick": "snare", "clap": "snare",
    "closed_hh": "closed_hh", "pedal_hh": "closed_hh", "tambourine": "closed_hh",
    "open_hh": "open_hh",
    "low_tom": "low_tom", "mid_tom": "mid_tom", "high_tom": "high_tom",
    "crash": "crash", "china": "crash", "splash": "crash",
    "ride": "ride", "ride_bell": "ride",
    "cowbell": None, "perc": None, "other": None,
}
NUM_CLASSES = len(CLASS_NAMES)
NUM_EVENTS = 2 ** NUM_CLASSES  # 512: bit i set = class i hits
PITCH_TO_CLASS: dict[int, int] = {p: CLASS_NAMES.index(MODEL_CLASS[c])
                                  for p, c in gm_classes().items() if MODEL_CLASS[c] is not None}
# (name, GM pitches that reduce to it), the played pitch first: stored in checkpoints
DRUM_CLASSES: tuple[tuple[str, tuple[int, ...]], ...] = tuple(
    (name, (CLASS_PITCH[i],) + tuple(p for p, c in PITCH_TO_CLASS.items()
                                     if c == i and p != CLASS_PITCH[i]))
    for i, name in enumerate(CLASS_NAMES))

POSITION_BITS = 6  # binary step counter as in drums_rnn's drum_kit config: period 64 steps

# The meters the model's inputs can tell apart, 4/4 first. In 4/4 the inputs are exactly those
# of the 4/4-only model (checkpoint format 2): the position counter counts 16ths in the bar
# (bits 0-3) and bars (bits 4-5), and the meter inputs (METER_INPUTS columns: "a 16th past the
# bar's first 16 (12/8, 5/4)" and a one-hot of the other meters) are all zero, so a 4/4-only
# checkpoint plays as it did with zero weights for them (engine.checkpoint extends it so).
METERS: tuple[tuple[int, int], ...] = ((4, 4), (3, 4), (6, 8), (12, 8), (5, 4), (7, 8), (5, 8))
METER_INPUTS = 1 + len(METERS) - 1

# Velocity and microtiming are predicted as categorical bins, so sampling keeps the
# spread of real playing (a regression head would collapse to the mean).
VELOCITY_BINS = 16
OFFSET_BINS = 16


@dataclass(frozen=True)
class Hit:
    """One drum hit on a step: GM pitch, MIDI velocity 1-127, offset from the grid in steps."""
    pitch: int
    velocity: int
    offset: float = 0.0  # fraction of a 16th step, in [-0.5, 0.5)


@dataclass(frozen=True)
class Step:
    """All hits of one 16th step (at most one per drum class)."""
    hits: tuple[Hit, ...] = field(default_factory=tuple)

    @property
    def event(self) -> int:
        """The 512-way event index of its hits (event_of)."""
        return event_of(self.hits)


def event_of(hits) -> int:
    """The 512-way event index of a collection of hits (pitches outside the table are ignored)."""
    e = 0
    for h in hits:
        c = PITCH_TO_CLASS.get(h.pitch)
        if c is not None:
            e |= 1 << c
    return e


def event_classes(event: int) -> list[int]:
    """The class indices (0-8, CLASS_NAMES order) whose bit is set in a 512-way event."""
    return [c for c in range(NUM_CLASSES) if event >> c & 1]


def event_bits(event: int | np.ndarray) -> np.ndarray:
    """0/1 vector(s) of which classes hit, shape (..., NUM_CLASSES)."""
    e = np.asarray(event)[..., None]
    return ((e >> np.arange(NUM_CLASSES)) & 1).astype(np.float32)


def position_bits(step_index: int | np.ndarray) -> np.ndarray:
    """drums_rnn's binary counter: bit k of the step index as ±1, shape (..., POSITION_BITS)."""
    s = np.asarray(step_index)[..., None]
    return (((s >> np.arange(POSITION_BITS)) & 1) * 2 - 1).astype(np.float32)


def meter_name(meter: tuple[int, int]) -> str:
    """(3, 4) -> '3/4'."""
    return f"{meter[0]}/{meter[1]}"


def parse_meter(text: str) -> tuple[int, int]:
    """'3/4' -> (3, 4); ValueError naming the supported meters for anything else."""
    try:
        num, den = (int(x) for x in str(text).strip().split("/"))
    except ValueError:
        num = den = 0
    if (num, den) not in METERS:
        raise ValueError(f"meter {text!r}: expected one of {', '.join(map(meter_name, METERS))}")
    return num, den


def bar_steps(meter: tuple[int, int]) -> int:
    """16th steps in one bar of `meter` (n/d: n * 16 / d): 16 in 4/4, 12 in 3/4 and 6/8,
    24 in 12/8, 20 in 5/4, 14 in 7/8, 10 in 5/8."""
    num, den = meter
    return 16 * num // den


def meter_lookback(lookback, meter: tuple[int, int]) -> tuple[int, ...]:
    """The lookback lags (in 16ths) of a model whose config gives them in 4/4 bars' 16ths
    (ModelConfig.lookback, (16, 32): one and two bars), in bars of `meter`: (12, 24) in 3/4."""
    per_bar = bar_steps(meter)
    return tuple(max(1, round(k * per_bar / 16)) for k in lookback)


def meter_bits(meter: tuple[int, int], step_in_bar) -> np.ndarray:
    """The meter inputs, shape (..., METER_INPUTS), 0/1: whether the 16th in the bar is past
    the 16th (12/8, 5/4 bars are longer), then a one-hot of the meter among METERS[1:]. All
    zero in 4/4. ValueError for a meter not in METERS."""
    s = np.asarray(step_in_bar)
    out = np.zeros(s.shape + (METER_INPUTS,), np.float32)
    if meter not in METERS:
        raise ValueError(f"meter {meter_name(meter)}: the model knows "
                         f"{', '.join(map(meter_name, METERS))}")
    out[..., 0] = s >= 16
    i = METERS.index(meter)
    if i:
        out[..., i] = 1.0
    return out


def bar_position_bits(step_in_bar, bar_index) -> np.ndarray:
    """The position counter in a bar of any meter, shape (..., POSITION_BITS), ±1: bits 0-3 of
    the 16th in the bar, bits 4-5 of the bar's index. In 4/4 it equals position_bits of the
    16th counted from a bar line (16 * bar + 16th)."""
    s, b = np.asarray(step_in_bar), np.asarray(bar_index)
    v = (s & 15) | ((b & 3) << 4)
    return position_bits(v)


def velocity_to_bin(velocity):
    """MIDI velocity (clipped to 1-127) -> its bin, 0 .. VELOCITY_BINS - 1, shape kept (int64)."""
    v = np.clip(np.asarray(velocity, dtype=np.int64), 1, 127)  # int64: uint8 input would wrap
    return np.minimum((v - 1) * VELOCITY_BINS // 127, VELOCITY_BINS - 1)


def bin_to_velocity(b, jitter=0.5):
    """Centre of a velocity bin (jitter in [0, 1) picks a point inside it)."""
    lo = 1 + np.asarray(b) * 127 / VELOCITY_BINS
    return np.clip(np.round(lo + np.asarray(jitter) * 127 / VELOCITY_BINS), 1, 127).astype(int)


def offset_to_bin(offset):
    """Offset from the grid in 16th steps (clipped to [-0.5, 0.5)) -> its bin, 0 .. OFFSET_BINS - 1,
    shape kept."""
    o = np.clip(np.asarray(offset, dtype=np.float64), -0.5, 0.5 - 1e-9)
    return np.floor((o + 0.5) * OFFSET_BINS).astype(int)


def bin_to_offset(b, jitter=0.5):
    """Offset bin -> offset in 16th steps in [-0.5, 0.5): the bin's centre, or with jitter in [0, 1)
    a point inside it; shape kept (float64)."""
    return (np.asarray(b) + np.asarray(jitter)) / OFFSET_BINS - 0.5


@dataclass
class Performance:
    """A whole performance as arrays over steps: the model's view of one MIDI file.

    events[t]     512-way event of step t
    velocity[t,c] MIDI velocity of class c at step t (0 where it does not hit)
    offset[t,c]   microtiming of class c at step t in steps, [-0.5, 0.5)
    """
    events: np.ndarray   # (T,) int16
    velocity: np.ndarray  # (T, 9) uint8
    offset: np.ndarray   # (T, 9) float32
    bpm: float = 120.0
    style: str = ""
    fill: bool = False
    name: str = ""
    meter: tuple[int, int] = (4, 4)  # its time signature; step 0 is a bar line

    def __len__(self) -> int:
        return len(self.events)


def quantize_hits(onsets, steps_per_second: float | None = None) -> Performance:
    """Quantize (time_in_steps, gm_pitch, velocity) onsets to a Performance.

    time_in_steps is a float position in 16th steps. Hits of the same class on the same step
    merge to the loudest, keeping its timing (one event bit per class).
    """
    onsets = [(t, p, v) for t, p, v in onsets if p in PITCH_TO_CLASS and v > 0]
    if not onsets:
        return Performance(np.zeros(0, np.int16), np.zeros((0, NUM_CLASSES), np.uint8),
                           np.zeros((0, NUM_CLASSES), np.float32))
    n = nearest_step(max(t for t, _, _ in onsets)) + 1
    events = np.zeros(n, np.int16)
    velocity = np.zeros((n, NUM_CLASSES), np.uint8)
    offset = np.zeros((n, NUM_CLASSES), np.float32)
    for t, p, v in onsets:
        step = nearest_step(t)
        if step < 0:
            continue
        c = PITCH_TO_CLASS[p]
        if v > velocity[step, c]:
            velocity[step, c] = min(int(v), 127)
            offset[step, c] = float(np.clip(t - step, -0.5, 0.5 - 1e-6))
        events[step] |= 1 << c
    return Performance(events, velocity, offset)


def steps_of(perf: Performance) -> list[Step]:
    """Decode a Performance back to Steps of GM hits (each class played on its first pitch)."""
    out = []
    for t in range(len(perf)):
        hits = tuple(Hit(CLASS_PITCH[c], int(perf.velocity[t, c]), float(perf.offset[t, c]))
                     for c in event_classes(int(perf.events[t])))
        out.append(Step(hits))
    return out


def performance_of(steps: list[Step], bpm: float = 120.0, style: str = "") -> Performance:
    """Encode Steps back to a Performance (inverse of steps_of for in-table pitches)."""
    onsets = [(t + h.offset, h.pitch, h.velocity) for t, s in enumerate(steps) for h in s.hits]
    perf = quantize_hits(onsets)
    # Keep trailing silence: quantize_hits ends at the last hit.
    pad = len(steps) - len(perf)
    if pad > 0:
        perf.events = np.concatenate([perf.events, np.zeros(pad, np.int16)])
        perf.velocity = np.concatenate([perf.velocity, np.zeros((pad, NUM_CLASSES), np.uint8)])
        perf.offset = np.concatenate([perf.offset, np.zeros((pad, NUM_CLASSES), np.float32)])
    perf.bpm, perf.style = bpm, style
    return perf
