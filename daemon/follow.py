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
"""
from __future__ import annotations

from dataclasses import dataclass

DENSITY_SPAN = (-1.5, 1.5)
VELOCITY_SPAN = (0.6, 1.1)
DENSITY_LIMITS = (-10.0, 10.0)  # the --density flag's range
GATED_MODES = ("generate", "accompany")


@dataclass(frozen=True)
class GuitarEffect:
    density: float    # added to the live density
    velocity: float   # factor on the model's velocities
    play: bool        # the gate: False = no new notes this step
    fill: bool        # ask for a fill now


def effect(state, mode: str, fill: bool = True) -> GuitarEffect:
    """The effect of one GuitarState (a snapshot) on the next step in `mode`."""
    x = min(max(state.intensity, 0.0), 1.0)
    return GuitarEffect(density=_lerp(DENSITY_SPAN, x), velocity=_lerp(VELOCITY_SPAN, x),
                        play=state.accompany or mode not in GATED_MODES,
                        fill=fill and state.phrase_ended)


def biased_density(density: float, bias: float) -> float:
    lo, hi = DENSITY_LIMITS
    return min(max(density + bias, lo), hi)


def scaled_velocity(velocity: int, factor: float) -> int:
    return min(max(round(velocity * factor), 1), 127)


def _lerp(lo_hi, x):
    lo, hi = lo_hi
    return lo + (hi - lo) * x
