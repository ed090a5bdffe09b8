"""Musical time: follows incoming MIDI clock (or runs its own) and predicts when any 16th falls.

Pure logic: every method takes the time it concerns as an argument, so tests drive it with
synthetic tick times and the daemon with `time.perf_counter()` values. Not thread-safe; the
session serialises access.

Positions are in 16th steps (float); ticks are MIDI clock ticks, 24 per quarter = 6 per step.
Conventions (MIDI 1.0): after Start the next tick is position 0; Song Position Pointer sets the
position (in 16ths) of the tick that follows Continue. A Song Position while the clock runs (a
DAW jumping back at its loop end without stopping) sets the position of the next tick: the
grid moves there at that tick (a new epoch, so what was planned is dropped and every sounding
note closed) and keeps its tempo.

Ticks are numbered and filtered by daemon/timing/tickfilter.py (a delay-locked loop; missed ticks
are counted from the filtered period).

If the external clock stops ticking while the transport runs (no tick for `vanish_beats`
beats, e.g. the DAW crashed or the cable was pulled), the clock falls back to running
internally at the last measured tempo, continuing the same grid; when ticks come back it
locks onto them again at the nearest tick. An explicit Stop always stops.

JACK transport (`--clock jack`, source JACK_TRANSPORT): `transport()` is fed the transport's
state about once per JACK period (daemon/timing/jacktransport.py reads it). Its song position and
tempo re-anchor the grid each time: the grid is a straight line through the latest reported
(time, position) at the reported tempo, so steps are placed from the transport's frame count
with no filtering needed. A position off that line by more than JUMP_STEPS is a relocation (a
new epoch, as a Song Position while running); rolling starts the grid, stopping stops it.
Ableton Link (`--clock link`, source "link", daemon/timing/linkclock.py) is fed the same way, its
positions from the session's beat timeline; before its bar 1 they are negative, and the grid
starts at step 0.

Several clocks at once (`--clock auto`: MIDI clock and JACK transport both fed): the one that
started the grid leads until it stops; the others' start, stop and position are ignored
meanwhile (a DAW sending MIDI clock while following JACK transport starts drumd once, not
twice). Only drumd's own clock, internal or a vanished clock's fallback, gives way at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from drumd.daemon.timing.tickfilter import TickFilter
from drumd.mappings.basics.grid import STEPS_PER_BEAT

TICKS_PER_STEP = 6  # MIDI clock: 24 ticks per quarter note

TICK, START, CONTINUE, STOP, SPP = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2

JACK_TRANSPORT = "jack transport"  # Clock.source while following JACK transport
JUMP_STEPS = 0.25  # 16ths between the running grid and a transport position that make a relocation


def tick_period(bpm: float) -> float:
    """Seconds between MIDI clock ticks at `bpm` (24 per quarter)."""
    return 60.0 / (bpm * 24)


@dataclass(frozen=True)
class ClockView:
    """The transport's state at one instant (`Clock.view()`): read once under the session's
    lock, used outside it. `epoch` increases on every start, stop and relocation; `start_step`
    is the first step (16ths from song position 0) after the latest start; `bpm` in quarter
    notes per minute; `source` "internal", "external" (MIDI clock), JACK_TRANSPORT or "link";
    `fallback`: on drumd's own clock because the external one vanished."""
    epoch: int
    running: bool
    start_step: int
    bpm: float
    source: str
    fallback: bool

    @property
    def internal(self) -> bool:
        """On drumd's own clock (internal, or a vanished clock's fallback)."""
        return self.source == "internal"


class Clock:
    """Transport state and the grid: external MIDI clock, or internal at a set tempo.

    `epoch` increases whenever the position jumps or the transport starts/stops, so the
    scheduler knows to drop what it had planned and re-sync.
    """

    def __init__(self, bpm: float = 120.0, vanish_beats: float = 2.0):
        self.bpm_internal = bpm
        self.vanish_beats = vanish_beats
        self.est = TickFilter(tick_period(bpm))
        self.running = False
        self.source = "internal"
        self.fallback = False  # running internally because the external clock vanished
        self.epoch = 0
        self.start_step = 0  # first step to play after the latest start/continue
        self.external_seen = False
        # internal grid: time_of(pos) = t0 + (pos - pos0) * step_dur
        self._t0, self._pos0, self._step_dur = 0.0, 0.0, tick_period(bpm) * TICKS_PER_STEP
        self._stopped_tick = 0  # external position while stopped (index of the next tick)
        self._relocate_to: int | None = None  # tick index a Song Position gave the next tick

    # --- external MIDI clock -------------------------------------------------------------
    def message(self, data, t: float) -> bool:
        """Feed one realtime/SPP message received at `t`; True if the transport changed."""
        status = data[0]
        if status == TICK:
            return self._tick(t)
        self.external_seen = True
        if not self._may_lead("external"):
            return False  # another transport leads (--clock auto): its start and stop rule
        if status == START:
            return self._run_external(0, t)
        if status == CONTINUE:
            if self.running and self.source == "external":
                return False  # already playing here: resuming an old stop position would jump back
            return self._run_external(self._stopped_tick, t)
        if status == STOP:
            if not self.running:
                return False
            self._stopped_tick = self._external_tick_now(t)
            self._relocate_to = None
            self.running = False
            self.fallback = False
            self.epoch += 1
            return True
        if status == SPP and len(data) >= 3:
            tick = (data[1] | data[2] << 7) * TICKS_PER_STEP
            if not self.running:
                self._stopped_tick = tick
            elif self.source == "external" or self.fallback:
                self._relocate_to = tick  # a DAW loop: the next tick is there
        return False

    def _tick(self, t: float) -> bool:
        self.external_seen = True
        moved = False
        if self.running and self.source == "external":
            if self._relocate_to is not None:
                moved = self._relocate(self._relocate_to)
            self.est.add(t)
            return moved
        if self.running and self.fallback:  # clock came back: lock on at the nearest tick
            tick = round(self.position_at(t) * TICKS_PER_STEP)
            if self._relocate_to is not None:  # ... or where a Song Position said
                tick, moved = self._relocate_to, True
                self._relocate_to = None
                self.start_step = -(-tick // TICKS_PER_STEP)
                self.epoch += 1
            self.est.restart(tick, t, self._step_dur / TICKS_PER_STEP)
            self.est.add(t)
            self.source, self.fallback = "external", False
        return moved

    def _relocate(self, tick: int) -> bool:
        """Song Position while running: the tick arriving now is `tick`. A new epoch unless
        the grid was there already (a DAW repeating the position it plays)."""
        self._relocate_to = None
        self.est.flush()
        if tick == self.est.n1:
            return False
        self.est.jump(tick)
        self.start_step = -(-tick // TICKS_PER_STEP)
        self.epoch += 1
        return True

    def _external_tick_now(self, t: float) -> int:
        """Index of the next tick (the position a Continue resumes from)."""
        if self._relocate_to is not None:
            return self._relocate_to
        if self.source == "external":
            return self.est.next_index
        return math.ceil(self.position_at(t) * TICKS_PER_STEP)

    def _run_external(self, tick: int, t: float) -> bool:
        period = self.est.period if self.source == "external" else self._step_dur / TICKS_PER_STEP
        self.est.restart(tick, t, period)
        self._relocate_to = None
        self.source, self.fallback, self.running = "external", False, True
        self.start_step = -(-tick // TICKS_PER_STEP)
        self.epoch += 1
        return True

    def _may_lead(self, source: str) -> bool:
        """Whether clock `source` may start, stop or move the grid: it leads already, or
        nothing external does (stopped, or on drumd's own clock)."""
        return not self.running or self.source in (source, "internal")

    # --- JACK transport ------------------------------------------------------------------
    def transport(self, t: float, pos: float, bpm: float, rolling: bool,
                  source: str = JACK_TRANSPORT, master: bool = False) -> bool:
        """An external transport's state (JACK transport, Link: `source` names it): song
        position `pos` (16ths) at time `t` (seconds), tempo `bpm` (quarter notes per minute),
        rolling or not; `master`: a timebase master publishes its position (a DAW is there,
        even while stopped: `external_seen`, so --clock auto waits for it). True if the
        transport started, stopped or relocated (a new epoch); otherwise the grid just
        follows it. A start before bar 1 (pos < 0) plays from step 0. Ignored while another
        external clock leads."""
        self.external_seen |= rolling or master
        step_dur = tick_period(bpm) * TICKS_PER_STEP
        following = self.running and self.source == source
        if not self._may_lead(source):
            return False
        if not rolling:
            if not following:  # drumd's own clock plays on beside a stopped transport
                return False
            self.running = False  # (a master's BBT while stopped can be anything: not kept)
            self.epoch += 1
            return True
        if following and abs(self.position_at(t) - pos) <= JUMP_STEPS:
            self._t0, self._pos0, self._step_dur = t, pos, step_dur
            return False
        self._t0, self._pos0, self._step_dur = t, pos, step_dur
        self.source, self.fallback, self.running = source, False, True
        self.start_step = max(0, math.ceil(pos - 1e-6))
        self.epoch += 1
        return True

    # --- internal clock ------------------------------------------------------------------
    def start_internal(self, t: float, step: int = 0) -> None:
        """Run on our own clock: step `step` falls at `t`."""
        self._step_dur = tick_period(self.bpm_internal) * TICKS_PER_STEP
        self._t0, self._pos0 = t, float(step)
        self.source, self.fallback, self.running = "internal", False, True
        self.start_step = step
        self.epoch += 1

    def set_internal_bpm(self, bpm: float, t: float) -> None:
        """Change the internal tempo from time `t` on; the grid stays continuous (position at
        `t` is kept), so what is planned by position just moves."""
        if self.running and self.source == "internal":
            self._pos0, self._t0 = self.position_at(t), t
            self._step_dur = tick_period(bpm) * TICKS_PER_STEP
        self.bpm_internal = bpm

    def stop(self, t: float) -> None:
        """Transport stopped at time `t` (s): remember the song position, start a new epoch."""
        if self.running:
            self._stopped_tick = self._external_tick_now(t)
            self._relocate_to = None
            self.running = False
            self.epoch += 1

    def poll(self, now: float) -> bool:
        """Fall back to the internal clock if ticks stopped arriving; True if it did."""
        if not (self.running and self.source == "external"):
            return False
        last = self.est.last_time
        beat = self.est.period * 24
        if last is None or now - last <= self.vanish_beats * beat:
            return False
        self.est.flush()  # arrivals held to be numbered: the last ones we will get
        pos = (self.est.next_index - 1) / TICKS_PER_STEP
        self._t0, self._pos0 = self.est.time_of_tick(self.est.next_index - 1), pos
        self._step_dur = self.est.period * TICKS_PER_STEP
        self.source, self.fallback = "internal", True
        return True

    # --- the grid ------------------------------------------------------------------------
    def view(self) -> ClockView:
        """The transport's state now, as one immutable value."""
        return ClockView(self.epoch, self.running, self.start_step, self.bpm, self.source,
                         self.fallback)

    def beat_tick(self) -> bool:
        """True while following MIDI clock when the tick fed last ended a beat (the next
        tick's index is a multiple of 24, a quarter note): lets a caller act once per beat."""
        return self.running and self.source == "external" and self.est.next_index % 24 == 0

    @property
    def step_duration(self) -> float:
        """Seconds per 16th now: the tick filter's period x 6 on MIDI clock, else the tempo's."""
        if self.source == "external":
            return self.est.period * TICKS_PER_STEP
        return self._step_dur

    @property
    def bpm(self) -> float:
        """The tempo now, quarter notes per minute (from step_duration)."""
        return 60.0 / (self.step_duration * STEPS_PER_BEAT)

    def time_of(self, pos: float) -> float:
        """Predicted time of position `pos` (in steps) on the current grid."""
        if self.source == "external":
            return self.est.time_of_tick(pos * TICKS_PER_STEP)
        return self._t0 + (pos - self._pos0) * self._step_dur

    def position_at(self, t: float) -> float:
        """Position (in steps, fractional) at time `t`."""
        if self.source == "external":
            return self.est.tick_at(t) / TICKS_PER_STEP
        return self._pos0 + (t - self._t0) / self._step_dur
