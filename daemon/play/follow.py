"""What the guitar does to the drums (`drumd serve --audio-in`), decided once per step.

The engine thread reads `GuitarFollower.snapshot()` before computing each step and applies:
  intensity 0..1  density += lerp(-1.5, +1.5, intensity): a soft guitar thins the groove,
                  a loud one fills it; velocity x (0.6 + 0.5 intensity): 0.6 when barely
                  heard, 1.1 when loud (clipped to 1..127 when the note is voiced)
  accompany       the gate (generate and accompany modes; call mode answers the MIDI player
                  and ignores it): drumd plays while the guitar plays or has rested for less
                  than `--guitar-silence-bars`, and starts no new notes otherwise
  phrase_ended    once per phrase, after those bars of silence: a fill to the next bar line
                  (with --guitar-fill), through which the gate stays open, then silence
  onsets          riff lock (--riff-lock, generate and accompany modes): the accents of the
                  last RIFF_BARS bars, each on the 16th (song position) it fell nearest to, are
                  told to the sampler as taps (Sampler.tap, tap mode's bias, at --follow's
                  strength): players repeat riffs, so a 16th accented one or two bars ago gets
                  a kick (a snare where drumd's backbeat is), and drumd's kicks elsewhere give
                  way. An accent is an onset clearly stronger than the riff's quiet notes
                  (accents()): an evenly strummed guitar has none and leaves the groove alone
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DENSITY_SPAN = (-1.5, 1.5)
VELOCITY_SPAN = (0.6, 1.1)
DENSITY_LIMITS = (-10.0, 10.0)  # the --density flag's range
GATED_MODES = ("generate", "accompany")
RIFF_MODES = ("generate", "accompany")  # tap mode's taps are the player's; call answers the player
RIFF_BARS = 2          # a riff's accents steer the drums this many bars on (Sampler.tap's memory)
# Accents (accents()): among the notes (onsets of at least NOTE_OF_LOUDEST of the loudest: the
# ring of a low string also makes weak flux peaks), those at least ACCENT_OVER_QUIET times the
# quiet notes' strength (their lower quartile) and ACCENT_OF_LOUDEST of the loudest. On the test
# guitar an accent (plucked at 0.8) peaks at 1.6-2.0 times a ghost note (0.3).
NOTE_OF_LOUDEST = 0.25
ACCENT_OVER_QUIET = 1.3
ACCENT_OF_LOUDEST = 0.6
MIN_NOTES = 3          # fewer notes in the window: nothing to tell accents from
# A riff played at one loudness has no dynamic accent; its rhythm still has (Povel & Essens,
# "Perception of temporal patterns", 1985: a tone after a longer silence, an isolated tone, is
# heard accented). Unless it is an even strum (every gap within EVEN_SPREAD of the others: no
# accents, the groove is drumd's own), a sparse figure of at most FIGURE_NOTES a bar (stabs, a
# 3-3-2) is all accents, and a busier one (a chug with rests) is accented where a group starts:
# after a gap at least GROUP_GAP times its shortest.
EVEN_SPREAD = 1.25
FIGURE_NOTES = 6
GROUP_GAP = 1.5
# The analysis reports an onset about this late (its 21 ms frame's flux peaks once the pluck is
# well inside it; measured 5-11 ms on the test guitar, tests/test_guitar.py allows 15)
ONSET_LAG_S = 0.008


@dataclass(frozen=True)
class GuitarEffect:
    """What one GuitarState does to the next step (effect(); the module says how)."""
    density: float    # added to the live density
    velocity: float   # factor on the model's velocities
    play: bool        # the gate: False = no new notes this step
    fill: bool        # ask for a fill now
    taps: tuple = ()  # riff lock: ((song position in 16ths, velocity 1..127), ...) for Sampler.tap


def effect(state, mode: str, fill: bool = True, riff=None) -> GuitarEffect:
    """The effect of one GuitarState (a snapshot) on the next step in `mode`. `riff`: None
    (riff lock off) or (bar length in s, position_at: perf_counter time -> song position in
    16ths, float), which turns the recent accents into taps."""
    x = min(max(state.intensity, 0.0), 1.0)
    taps = riff_taps(state, *riff) if riff is not None and mode in RIFF_MODES else ()
    return GuitarEffect(density=_lerp(DENSITY_SPAN, x), velocity=_lerp(VELOCITY_SPAN, x),
                        play=state.accompany or mode not in GATED_MODES,
                        fill=fill and state.phrase_ended, taps=taps)


def accents(onsets, since: float, bars: float | None = None) -> list[tuple[float, int]]:
    """The accents among `onsets` ((time s, strength), as GuitarState.onsets, in time order) at
    or after `since`: [(time, velocity 1..127)], velocity 127 for the loudest. A dynamic accent:
    a note played harder than the riff's quiet notes (Lerdahl & Jackendoff's phenomenal accent;
    the strength is the onset's spectral-flux peak). With all notes alike, none; unless `bars`
    (the length from `since` to now, in bars) is given: then, and when fewer than one note a
    bar stands out, the rhythm's accents (see FIGURE_NOTES: none for an even strum)."""
    recent = [(t, s) for t, s in onsets if t >= since]
    if not recent:
        return []
    loudest = max(s for _, s in recent)
    notes = [(t, s) for t, s in recent if s >= NOTE_OF_LOUDEST * loudest]
    if len(notes) < MIN_NOTES or loudest <= 0:
        return []
    quiet = float(np.percentile([s for _, s in notes], 25))
    least = max(ACCENT_OVER_QUIET * quiet, ACCENT_OF_LOUDEST * loudest)
    found = [(t, s) for t, s in notes if s >= least]
    if bars and len(found) < bars:
        # all alike, or one stray loud note (a riff's accent recurs every bar): its rhythm's
        before = [t for t, s in onsets if t < since and s >= NOTE_OF_LOUDEST * loudest][-1:]
        found = _rhythm_accents(before, notes, bars)
    return [(t, min(max(round(127 * s / loudest), 1), 127)) for t, s in found]


def _rhythm_accents(before: list[float], notes: list[tuple[float, float]], bars: float):
    """The accented ones of `notes` ((time, strength), all about as loud) by their rhythm alone
    (see FIGURE_NOTES); `before`: the time of the note before them, if one was heard."""
    gaps = np.diff(np.array(before + [t for t, _ in notes]))
    within = gaps[len(before):]  # the gaps between the notes themselves
    if within.max() <= EVEN_SPREAD * within.min():
        return []  # an even strum
    if len(notes) <= FIGURE_NOTES * bars:
        return list(notes)
    lead = gaps if before else np.concatenate([[np.inf], gaps])  # the gap before each note
    return [n for n, g in zip(notes, lead) if g >= GROUP_GAP * gaps.min()]


def riff_taps(state, bar_s: float, position_at) -> tuple[tuple[int, int], ...]:
    """The accents of the last RIFF_BARS bars (of bar_s seconds) as taps: ((16th, velocity),
    ...), each on the song position nearest to when it was played (position_at maps a
    perf_counter time to a song position; the state's `wall` dates its audio, offline its own
    time is used)."""
    wall = state.t if state.wall is None else state.wall
    out = []
    for t, v in accents(state.onsets, state.t - RIFF_BARS * bar_s, RIFF_BARS):
        pos = position_at(wall - (state.t - t) - ONSET_LAG_S)
        if pos is not None:
            out.append((math.floor(pos + 0.5), v))
    return tuple(out)


def biased_density(density: float, bias: float) -> float:
    """The live density (logit bias per hit) plus the guitar's `bias`, within
    DENSITY_LIMITS (-10..10, the --density flag's range)."""
    lo, hi = DENSITY_LIMITS
    return min(max(density + bias, lo), hi)


def scaled_velocity(velocity: int, factor: float) -> int:
    """A MIDI velocity times the guitar's `factor` (VELOCITY_SPAN), rounded, within 1..127:
    a scaled hit stays a hit."""
    return min(max(round(velocity * factor), 1), 127)


def _lerp(lo_hi, x):
    lo, hi = lo_hi
    return lo + (hi - lo) * x
