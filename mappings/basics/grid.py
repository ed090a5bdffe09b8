"""The 16th-note grid: the one home of PPQN, 16ths per beat and per bar, and step <-> time.

drumd thinks in 16th-note steps: the model plays one step at a time, a MIDI clock beat is 4
of them, a 4/4 bar 16. Files drumd writes count PPQN ticks per quarter note; files it reads
keep their own ticks per beat, so the conversions take one.

Pure functions, no I/O. A "beat" is a quarter note, as in a MIDI file's ticks per beat and
set_tempo (microseconds per quarter note) and in BPM; a time signature's denominator only
says how long its bar is.
"""
from __future__ import annotations

import math
from fractions import Fraction

PPQN = 480            # ticks per quarter note in the files drumd writes (a common DAW default)
STEPS_PER_BEAT = 4    # 16ths per quarter note
STEP_TICKS = PPQN // STEPS_PER_BEAT  # 120 ticks per 16th at PPQN
STEPS_PER_BAR = 16    # a 4/4 bar: the MIDI clock carries no meter, so live play assumes 4/4


def steps_per_bar(numerator: int, denominator: int) -> int:
    """16ths in one bar of a numerator/denominator meter: 16 for 4/4, 12 for 3/4 and 6/8,
    7 for 7/16. Raises ValueError for a meter whose bar is not a whole number of 16ths
    (5/32) or that is not a meter at all (a numerator or denominator below 1)."""
    if numerator < 1 or denominator < 1:
        raise ValueError(f"time signature {numerator}/{denominator}: not a meter")
    per_bar = Fraction(16 * numerator, denominator)
    if per_bar.denominator != 1:
        raise ValueError(f"time signature {numerator}/{denominator}: a bar is not a whole "
                         "number of 16th notes")
    return int(per_bar)


def seconds_per_step(bpm: float) -> float:
    """Length of one 16th in seconds at `bpm` quarter notes per minute (0.125 at 120).
    Raises ValueError for a tempo that is not above 0."""
    if not bpm > 0:
        raise ValueError(f"tempo {bpm} BPM: expected more than 0")
    return 60.0 / bpm / STEPS_PER_BEAT


def ticks_to_steps(ticks: float, ticks_per_beat: int = PPQN) -> float:
    """A time in file ticks as 16ths (fractional: 60 ticks at 480 PPQN is 0.5)."""
    return ticks * STEPS_PER_BEAT / ticks_per_beat


def steps_to_ticks(steps: float, ticks_per_beat: int = PPQN) -> int:
    """A time in 16ths as whole file ticks (the nearest tick; half a tick rounds up)."""
    return math.floor(steps * ticks_per_beat / STEPS_PER_BEAT + 0.5)


def nearest_step(steps: float) -> int:
    """The 16th a time in (fractional) 16ths is played on. Exactly halfway goes to the later
    step: an early hit belongs to the step it anticipates, as drummers play ahead of a beat."""
    return math.floor(steps + 0.5)


def nearest_step_at_tick(tick: float, ticks_per_beat: int = PPQN) -> int:
    """The 16th a file tick is played on (see nearest_step): 59 ticks at 480 PPQN is step 0,
    60 is step 1."""
    return nearest_step(ticks_to_steps(tick, ticks_per_beat))


def nearest_step_at_seconds(seconds: float, bpm: float) -> int:
    """The 16th a time in seconds from step 0 is played on at a constant `bpm` (see
    nearest_step). Raises ValueError for a tempo that is not above 0."""
    return nearest_step(seconds / seconds_per_step(bpm))
