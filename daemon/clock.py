"""Musical time: follows incoming MIDI clock (or runs its own) and predicts when any 16th falls.

Pure logic: every method takes the time it concerns as an argument, so tests drive it with
synthetic tick times and the daemon with `time.perf_counter()` values. Not thread-safe; the
session serialises access.

Positions are in 16th steps (float); ticks are MIDI clock ticks, 24 per quarter = 6 per step.
Conventions (MIDI 1.0): after Start the next tick is position 0; Song Position Pointer sets the
position (in 16ths) of the tick that follows Continue.

If the external clock stops ticking while the transport runs (no tick for `vanish_beats`
beats, e.g. the DAW crashed or the cable was pulled), the clock falls back to running
internally at the last measured tempo, continuing the same grid; when ticks come back it
locks onto them again at the nearest tick. An explicit Stop always stops.
"""
from __future__ import annotations

from collections import deque

import numpy as np

TICKS_PER_STEP = 6
STEPS_PER_BEAT = 4
STEPS_PER_BAR = 16  # 4/4 only: MIDI clock carries no metre

TICK, START, CONTINUE, STOP, SPP = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2


def tick_period(bpm: float) -> float:
    return 60.0 / (bpm * 24)


class TempoEstimator:
    """Robust straight line `time = a + b * tick_index` through recent tick arrival times.

    Ticks arrive quantised to the audio period and jittered; a least-squares line over up to
    `window` ticks averages that out, and a second pass without outliers (an xrun can delay a
    single tick by tens of ms) keeps one bad tick from bending it. The newest `recent` ticks are
    also checked against the line fitted to the older ones: if all sit about k periods late the
    source dropped k ticks (they are re-indexed); if all drift off to one side the tempo
    changed and the older history is forgotten, so a change is followed within a beat.
    Drops among the first ticks after a start cannot be told from a different tempo.
    """

    def __init__(self, window: int = 96, recent: int = 4, min_fit: int = 4):
        self.window, self.recent, self.min_fit = window, recent, min_fit
        self.idx: deque[int] = deque(maxlen=window)
        self.times: deque[float] = deque(maxlen=window)
        self.next_index = 0
        self.a, self.b = 0.0, tick_period(120.0)
        self.spread = 0.001  # robust residual scale (s), floor 1 ms
        # The arrival jitter seen over a long fit (at least a beat). Ticks reach us quantised to
        # the audio period (5.3 ms with 256 frames); a fit over the few ticks left after a
        # tempo change sees less of it, and judging the next period step against that small
        # spread took it for another tempo change, over and over: the line then locked onto
        # whole periods per tick (117.2 BPM for 120 BPM ticks).
        self.jitter = 0.0015

    def restart(self, next_index: int, t: float, period: float) -> None:
        """Forget history; the next tick is `next_index`, expected at about `t`."""
        self.idx.clear()
        self.times.clear()
        self.next_index = next_index
        self.b = period
        self.a = t - period * next_index

    def add(self, t: float) -> int:
        """Record a tick arriving at `t`; returns the tick index it was assigned."""
        self.idx.append(self.next_index)
        self.times.append(t)
        self.next_index += 1
        if len(self.idx) >= self.recent + self.min_fit:
            self._check_recent()
        self._fit()
        return self.idx[-1]

    def _check_recent(self) -> None:
        i = np.asarray(self.idx, float)
        t = np.asarray(self.times)
        n = len(i) - self.recent
        a, b, spread = _robust_line(i[:n], t[:n])
        r = t[n:] - (a + b * i[n:])
        k = np.round(r / b).astype(int)
        # A quarter period apart tells drops from a slowing tempo (whose residuals grow);
        # at fast tempi with heavy jitter a drop can be taken for a change (one-tick slip).
        if np.all(k >= 1) and np.all(np.diff(k) >= 0) and np.all(np.abs(r - k * b) < 0.25 * b):
            for j in range(n, len(self.idx)):  # dropped ticks: same line, later indices
                self.idx[j] += int(k[j - n])
            self.next_index += int(k[-1])
        elif (np.all(r > 0) or np.all(r < 0)) and \
                np.min(np.abs(r)) > max(4 * max(spread, self.jitter), 0.002):
            for _ in range(n):  # tempo changed: only the newest ticks describe it
                self.idx.popleft()
                self.times.popleft()

    def _fit(self) -> None:
        if not self.idx:
            return
        i = np.asarray(self.idx, float)
        t = np.asarray(self.times)
        if len(i) < self.min_fit:  # too few for a slope: keep the last tempo, re-anchor
            self.a = float(np.mean(t - self.b * i))
            return
        self.a, self.b, self.spread = _robust_line(i, t)
        if len(i) >= 24:
            self.jitter = self.spread

    def time_of_tick(self, tick: float) -> float:
        return self.a + self.b * tick

    @property
    def last_time(self) -> float | None:
        return self.times[-1] if self.times else None


def _robust_line(i: np.ndarray, t: np.ndarray) -> tuple[float, float, float]:
    b, a = np.polyfit(i, t, 1)
    r = t - (a + b * i)
    spread = max(1.4826 * float(np.median(np.abs(r - np.median(r)))), 0.001)
    keep = np.abs(r) <= max(3 * spread, 0.0015)
    if 2 <= keep.sum() < len(i):
        b, a = np.polyfit(i[keep], t[keep], 1)
    return float(a), float(b), spread


class Clock:
    """Transport state and the grid: external MIDI clock, or internal at a set tempo.

    `epoch` increases whenever the position jumps or the transport starts/stops, so the
    scheduler knows to drop what it had planned and re-sync.
    """

    def __init__(self, bpm: float = 120.0, vanish_beats: float = 2.0):
        self.bpm_internal = bpm
        self.vanish_beats = vanish_beats
        self.est = TempoEstimator()
        self.est.b = tick_period(bpm)
        self.running = False
        self.source = "internal"
        self.fallback = False  # running internally because the external clock vanished
        self.epoch = 0
        self.start_step = 0  # first step to play after the latest start/continue
        self.external_seen = False
        # internal grid: time_of(pos) = t0 + (pos - pos0) * step_dur
        self._t0, self._pos0, self._step_dur = 0.0, 0.0, tick_period(bpm) * TICKS_PER_STEP
        self._stopped_tick = 0  # external position while stopped (index of the next tick)

    # --- external MIDI clock -------------------------------------------------------------
    def message(self, data, t: float) -> bool:
        """Feed one realtime/SPP message received at `t`; True if the transport changed."""
        status = data[0]
        if status == TICK:
            return self._tick(t)
        self.external_seen = True
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
            self.running = False
            self.fallback = False
            self.epoch += 1
            return True
        if status == SPP and len(data) >= 3 and not self.running:
            self._stopped_tick = (data[1] | data[2] << 7) * TICKS_PER_STEP
        return False

    def _tick(self, t: float) -> bool:
        self.external_seen = True
        if self.running and self.source == "external":
            self.est.add(t)
            return False
        if self.running and self.fallback:  # clock came back: lock on at the nearest tick
            tick = round(self.position_at(t) * TICKS_PER_STEP)
            self.est.restart(tick, t, self._step_dur / TICKS_PER_STEP)
            self.est.add(t)
            self.source, self.fallback = "external", False
        return False

    def _external_tick_now(self, t: float) -> int:
        """Index of the next tick (the position a Continue resumes from)."""
        if self.source == "external":
            return self.est.next_index
        return int(np.ceil(self.position_at(t) * TICKS_PER_STEP))

    def _run_external(self, tick: int, t: float) -> bool:
        period = self.est.b if self.source == "external" else self._step_dur / TICKS_PER_STEP
        self.est.restart(tick, t, period)
        self.source, self.fallback, self.running = "external", False, True
        self.start_step = -(-tick // TICKS_PER_STEP)
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
        if self.running:
            self._stopped_tick = self._external_tick_now(t)
            self.running = False
            self.epoch += 1

    def poll(self, now: float) -> bool:
        """Fall back to the internal clock if ticks stopped arriving; True if it did."""
        if not (self.running and self.source == "external"):
            return False
        last = self.est.last_time
        beat = self.est.b * 24
        if last is None or now - last <= self.vanish_beats * beat:
            return False
        pos = (self.est.next_index - 1) / TICKS_PER_STEP
        self._t0, self._pos0 = self.est.time_of_tick(self.est.next_index - 1), pos
        self._step_dur = self.est.b * TICKS_PER_STEP
        self.source, self.fallback = "internal", True
        return True

    # --- the grid ------------------------------------------------------------------------
    @property
    def step_duration(self) -> float:
        if self.source == "external":
            return self.est.b * TICKS_PER_STEP
        return self._step_dur

    @property
    def bpm(self) -> float:
        return 60.0 / (self.step_duration * STEPS_PER_BEAT)

    def time_of(self, pos: float) -> float:
        """Predicted time of position `pos` (in steps) on the current grid."""
        if self.source == "external":
            return self.est.time_of_tick(pos * TICKS_PER_STEP)
        return self._t0 + (pos - self._pos0) * self._step_dur

    def position_at(self, t: float) -> float:
        """Position (in steps, fractional) at time `t`."""
        return self._pos0 + (t - self._t0) / self._step_dur if self.source != "external" \
            else (t - self.est.a) / (self.est.b * TICKS_PER_STEP)
