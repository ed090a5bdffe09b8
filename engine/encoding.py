"""The step encoding: one 16th-note step = which of 9 drum classes hit, with velocity and timing.

Pure functions, no I/O. The class table is Magenta drums_rnn's 9-class reduction, so our
per-step NLL over the 512-way event is comparable with drums_rnn's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drumd.mappings.grid import nearest_step

ENCODING_VERSION = 1

# (name, GM pitches that reduce to it); the first pitch is the one we play for the class.
DRUM_CLASSES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("kick", (36, 35)),
    ("snare", (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85)),
    ("closed_hh", (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22)),
    ("open_hh", (46, 67, 72, 74, 79, 81, 26)),
    ("low_tom", (45, 29, 41, 43, 61, 64, 84)),
    ("mid_tom", (48, 47, 60, 63, 77, 86, 87)),
    ("high_tom", (50, 30, 62, 76, 83)),
    ("crash", (49, 52, 55, 57, 58)),
    ("ride", (51, 53, 59, 82)),
)
NUM_CLASSES = len(DRUM_CLASSES)
NUM_EVENTS = 2 ** NUM_CLASSES  # 512: bit i set = class i hits
CLASS_NAMES = tuple(name for name, _ in DRUM_CLASSES)
CLASS_PITCH = tuple(pitches[0] for _, pitches in DRUM_CLASSES)
PITCH_TO_CLASS: dict[int, int] = {p: i for i, (_, ps) in enumerate(DRUM_CLASSES) for p in ps}

POSITION_BITS = 6  # binary step counter as in drums_rnn's drum_kit config: period 64 steps

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
    return [c for c in range(NUM_CLASSES) if event >> c & 1]


def event_bits(event: int | np.ndarray) -> np.ndarray:
    """0/1 vector(s) of which classes hit, shape (..., NUM_CLASSES)."""
    e = np.asarray(event)[..., None]
    return ((e >> np.arange(NUM_CLASSES)) & 1).astype(np.float32)


def position_bits(step_index: int | np.ndarray) -> np.ndarray:
    """drums_rnn's binary counter: bit k of the step index as ±1, shape (..., POSITION_BITS)."""
    s = np.asarray(step_index)[..., None]
    return (((s >> np.arange(POSITION_BITS)) & 1) * 2 - 1).astype(np.float32)


def velocity_to_bin(velocity):
    v = np.clip(np.asarray(velocity, dtype=np.int64), 1, 127)  # int64: uint8 input would wrap
    return np.minimum((v - 1) * VELOCITY_BINS // 127, VELOCITY_BINS - 1)


def bin_to_velocity(b, jitter=0.5):
    """Centre of a velocity bin (jitter in [0, 1) picks a point inside it)."""
    lo = 1 + np.asarray(b) * 127 / VELOCITY_BINS
    return np.clip(np.round(lo + np.asarray(jitter) * 127 / VELOCITY_BINS), 1, 127).astype(int)


def offset_to_bin(offset):
    o = np.clip(np.asarray(offset, dtype=np.float64), -0.5, 0.5 - 1e-9)
    return np.floor((o + 0.5) * OFFSET_BINS).astype(int)


def bin_to_offset(b, jitter=0.5):
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
