"""What the engine thread does next, decided without threads or clocks.

The engine thread (session.py) waits on the clock, runs the mode and the sampler, and hands
the hits to the sender; `StepPlanner` makes its decisions from what it is told, so they are
tested with plain values (tests/test_planner.py):

  resync   the clock's epoch moved (a start, stop or relocation): what was planned is dropped.
           While the transport runs, the mode restarts at the clock's start step, primed with
           the two bars drumd played just before it, and with --send-clock on drumd's own clock
           a START is sent at song position 0, a CONTINUE anywhere else. A fill under way
           ends there.
  when     step k is computed at position k - 1.5 in generate mode (nobody to wait for: a
           whole step of slack for a busy machine), k - 0.75 in the others (a quarter step
           after step k-1 sounds, so the player's hits on it are in), and must be ready by
           k - 0.5, the earliest a hit of step k may sound (microtiming is within half a
           step). The epoch's first step is not judged late: its grid point is the start.
  step k   another mode asked by the controls starts at k; a fill request makes the steps
           up to this bar's end fills (up to the next bar's end when under a beat of this one
           is left); with a guitar (--audio-in) step k plays while the guitar plays or in a
           fill, and when it plays after a gap the groove starts afresh.

Positions are 16th steps from song position 0; bars are of the session's meter counted from
there (`Bars`: MIDI clock carries no meter).
"""
from __future__ import annotations

from dataclasses import dataclass

from drumd.daemon.timing.clock import CONTINUE, START, ClockView
from drumd.mappings.basics.grid import STEPS_PER_BEAT, steps_per_bar

COMPUTE_AT = {"generate": 1.5}  # steps before the grid point; other modes:
COMPUTE_AT_LISTENING = 0.75     # ... wait for the player's hits on the step before
DEADLINE = 0.5                  # steps before the grid point: the earliest a hit may sound
PRIMER_BARS = 2                 # bars drumd played before a resync that prime the model


@dataclass(frozen=True)
class BarPosition:
    """Where a step falls: `bar` counts from 1 at song position 0 (0 or less before it),
    `beat` from 1 within the bar (quarters; 8ths in x/8, 16ths in x/16), `sixteenth` from 1
    within the beat."""
    bar: int
    beat: int
    sixteenth: int


class Bars:
    """Bar and beat lines of `meter` (numerator, denominator), counted from song position 0.
    ValueError for a meter whose bar is not whole 16ths (grid.steps_per_bar)."""

    def __init__(self, meter: tuple[int, int] = (4, 4)):
        self.meter = tuple(meter)
        self.steps_per_bar = steps_per_bar(*self.meter)
        self.steps_per_beat = max(1, 16 // self.meter[1])  # the meter's beat, in 16ths

    def position(self, step: int) -> BarPosition:
        """The bar, beat and 16th of song step `step` (16ths from position 0)."""
        bar, in_bar = divmod(step, self.steps_per_bar)
        beat, sixteenth = divmod(in_bar, self.steps_per_beat)
        return BarPosition(bar + 1, beat + 1, sixteenth + 1)

    def next_bar_line(self, step: int) -> int:
        """The first bar line after step `step` (a bar line itself gives the next one)."""
        return (step // self.steps_per_bar + 1) * self.steps_per_bar


@dataclass(frozen=True)
class Resync:
    """The clock's epoch moved: drop the plan (close what sounds) and, while the transport
    runs, restart at `start`.

    `start`: the first song step to play; None when the transport stopped (nothing to start).
    `mode`: the mode to start there (the controls' mode at the resync). `bpm`: the clock's
    tempo then. `primer_steps`: the steps whose played Steps prime the model, used only if
    drumd played every one of them (else no primer). `clock_message`: START or CONTINUE to
    send at `start` (--send-clock on drumd's own clock), else None."""
    epoch: int
    start: int | None
    mode: str | None = None
    bpm: float = 0.0
    primer_steps: range = range(0)
    clock_message: int | None = None


@dataclass(frozen=True)
class StepPlan:
    """What to do for step `k`: `fill` (compute it as a fill), `play` (compute and play it;
    False while the guitar gate is closed), `fresh` (restart the mode first, without primer:
    the guitar came back after a gap), `judged` (count it late if it is computed after its
    deadline; False for the epoch's first step)."""
    k: int
    fill: bool
    play: bool
    fresh: bool
    judged: bool


class StepPlanner:
    """The engine thread's decisions, one step at a time. Not thread-safe: one thread (the
    engine's) calls it. Per iteration: `resync(clock, mode)`; when that is None and the clock
    runs, wait until the clock reaches `compute_at()`, then `switch_mode(wanted)` and
    `plan_step(...)`, which moves on to the next step.

    `meter`: the session's (numerator, denominator). `send_clock`: drumd sends MIDI clock
    while it runs on its own clock (--send-clock)."""

    def __init__(self, meter: tuple[int, int] = (4, 4), send_clock: bool = False):
        self.bars = Bars(meter)
        self.send_clock = send_clock
        self.epoch: int | None = None   # the clock epoch the plan belongs to
        self.k = 0                      # the next step to compute (16ths from position 0)
        self.first_step: int | None = None  # the epoch's first step
        self.mode: str | None = None    # the mode playing
        self.fill_until = -1            # steps before this one are fills
        self.gate_open = True           # --audio-in: was the previous step played?

    def resync(self, clock: ClockView, mode: str) -> Resync | None:
        """None while `clock.epoch` is the epoch planned in; else the new plan's start, with
        `mode` (the controls' mode) as the mode to start."""
        if clock.epoch == self.epoch:
            return None
        self.epoch = clock.epoch
        if not clock.running:
            return Resync(clock.epoch, None)
        self.k = self.first_step = clock.start_step
        self.mode = mode
        # A fill ends at a bar line of the old position: on the new one it could span whole
        # bars (a DAW looping back from bar 4 to bar 1). The mode starts afresh here, so the
        # guitar gate counts as open: its first played step keeps the primer.
        self.fill_until, self.gate_open = -1, True
        message = None
        if self.send_clock and clock.internal:
            message = START if self.k == 0 else CONTINUE
        primer = range(self.k - PRIMER_BARS * self.bars.steps_per_bar, self.k)
        return Resync(clock.epoch, self.k, mode, clock.bpm, primer, message)

    def compute_at(self) -> float:
        """The position (16ths) at which step k is computed."""
        return self.k - COMPUTE_AT.get(self.mode, COMPUTE_AT_LISTENING)

    def deadline(self) -> float:
        """The position (16ths) by which step k must be computed; later is a late step."""
        return self.k - DEADLINE

    def switch_mode(self, wanted: str) -> bool:
        """True when the controls ask for a mode other than the one playing: it starts at
        step k, without primer, and is the one playing from now on."""
        if wanted == self.mode:
            return False
        self.mode = wanted
        return True

    def fill_end(self, k: int) -> int:
        """The step a fill asked for at step k ends before: this bar's end, or the next
        bar's when less than a beat (a quarter) of this one is left."""
        bar_end = self.bars.next_bar_line(k)
        return bar_end + (self.bars.steps_per_bar if bar_end - k < STEPS_PER_BEAT else 0)

    def plan_step(self, fill_requested: bool = False, guitar_plays: bool | None = None) -> StepPlan:
        """Step k's plan; then k moves on to k + 1. `fill_requested`: a fill was asked since
        the last step (a CC, or the guitar's phrase end); `guitar_plays`: the guitar gate
        (None without --audio-in: every step plays)."""
        k = self.k
        if fill_requested:
            self.fill_until = self.fill_end(k)
        fill = k < self.fill_until
        play = guitar_plays is None or guitar_plays or fill
        fresh = play and not self.gate_open
        self.gate_open = play
        self.k += 1
        return StepPlan(k, fill, play, fresh, judged=k != self.first_step)
