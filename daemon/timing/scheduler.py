"""The sender: one thread that sends each MIDI message at its time, and owns note bookkeeping.

Two queues, both heaps woken through one Condition (never a polling sleep):
  on-grid  note-ons (and clock-out ticks) keyed by musical position in steps; the time is asked
           of the clock only when the message is next due, so tick arrivals after the step was
           computed still move it onto the grid;
  at       everything keyed by wall time: note-offs (gate after their note-on), thru hits.
Every note-on gets exactly one note-off: a retriggered note is closed first, and a note-off
whose note-on was already closed (retrigger, all-notes-off) is skipped.
"""
from __future__ import annotations

import heapq
import itertools
import math
import os
import threading
import time
from dataclasses import dataclass, field

NOTE_ON, NOTE_OFF, CC, ALL_NOTES_OFF = 0x90, 0x80, 0xB0, 123


def try_realtime(priority: int = 5) -> bool:
    """SCHED_FIFO for the calling thread (realtime.md: p99 wake lateness 3 ms -> 0.2 ms);
    needs root or an rtprio limit, so failing is normal and quiet. The priority stays below
    JACK's (10 by default): if JACK stalls, rtmidi's send spins while its ring buffer is full,
    and a sender above JACK's own threads would keep JACK from ever draining it."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return True
    except (AttributeError, OSError):
        return False


@dataclass
class SenderStats:
    """What the sender has done, for the status line and serve's stats: `sent` messages, and
    `late_ms` the lateness (ms, send time minus due time) of the latest 1024 to 2048. Written
    on the sender thread under Sender.cond; a reader copies the list (it may miss the newest)."""
    sent: int = 0
    late_ms: list = field(default_factory=list)  # send time minus due time, recent messages

    def add_lateness(self, late: float) -> None:
        """Keep one message's lateness `late` (s; kept in ms); past 2048, the oldest 1024 go."""
        self.late_ms.append(late * 1000)
        if len(self.late_ms) > 2048:
            del self.late_ms[:1024]


class Sender:
    """`send(msg)` is the output port; `timeline(pos)` the clock's predicted time of a position
    (None while the transport is stopped); `on_sent(t, msg, pos)` sees every message as it is
    sent at `t` (recording): `pos` is the grid position (16ths) an on-grid message was queued
    for, None for the rest.

    `gate`: seconds from a note-on to its note-off; `now`: the clock of all times (seconds,
    time.perf_counter). Messages are lists of ints (status, data bytes). `send`, `timeline` and
    `on_sent` run with `cond` held (see session.py's lock order), on the sender thread (on the
    caller's for silence() and close()); an exception from them ends the sender thread."""

    def __init__(self, send, timeline, gate: float = 0.06, now=time.perf_counter, on_sent=None):
        self._send, self.timeline, self.gate, self.now = send, timeline, gate, now
        self.on_sent = on_sent
        self.cond = threading.Condition()
        self._grid: list = []   # (pos, seq, msg)
        self._at: list = []     # (t, seq, msg, token)  token: the note-on a note-off belongs to
        self._seq = itertools.count()
        self.sounding: dict[tuple[int, int], int] = {}  # (status channel byte, note) -> token
        self.channels: set[int] = set()
        self.stats = SenderStats()
        self.realtime = False
        self._closed = False
        self._thread: threading.Thread | None = None

    # --- called from other threads -------------------------------------------------------
    def on_grid(self, pos: float, msg) -> None:
        """Send `msg` when the clock reaches song position `pos`, in 16ths (fractional: a
        hit's offset; a clock-out tick at k + i/6, 24 PPQN). Its time is asked of `timeline`
        when it is next due, so ticks that arrive meanwhile still move it; messages at one
        position go in the order queued, and a note-on gets its note-off `gate` s after it is
        sent. Any thread (the engine's); waits only for `cond`."""
        with self.cond:
            heapq.heappush(self._grid, (pos, next(self._seq), msg))
            self.cond.notify()

    def at(self, t: float, msg) -> None:
        """Send `msg` at time `t` (seconds of `now`; a time past: at once), e.g. a thru hit
        from the input thread; a note-on gets its note-off `gate` s later. Any thread."""
        with self.cond:
            heapq.heappush(self._at, (t, next(self._seq), msg, None))
            self.cond.notify()

    def wake(self) -> None:
        """The clock changed: re-evaluate due times."""
        with self.cond:
            self.cond.notify()

    def silence(self) -> None:
        """Drop everything planned and close every sounding note (explicit note-offs, then
        CC123 on every channel used): transport stop, port loss, shutdown."""
        with self.cond:
            self._grid.clear()
            self._at = [e for e in self._at if e[3] is not None]  # keep note-offs: skipped as stale
            heapq.heapify(self._at)
            now = self.now()
            for (ch, note) in sorted(self.sounding):
                self._emit(now, [NOTE_OFF | ch, note, 0])
            self.sounding.clear()
            for ch in sorted(self.channels):
                self._emit(now, [CC | ch, ALL_NOTES_OFF, 0])

    # --- the sending thread --------------------------------------------------------------
    def run_due(self, now: float) -> float:
        """Send everything due at `now`; returns when the next message is due (inf: nothing).
        Call with `cond` held."""
        while True:
            t_at = self._at[0][0] if self._at else math.inf
            t_grid = math.inf
            if self._grid:
                t = self.timeline(self._grid[0][0])
                t_grid = math.inf if t is None else t
            t_next = min(t_at, t_grid)
            if t_next > now:
                return t_next
            if t_at <= t_grid:
                _, _, msg, token = heapq.heappop(self._at)
            else:
                pos, _, msg = heapq.heappop(self._grid)
                token = None
            self.stats.add_lateness(now - t_next)
            self._play(now, msg, token, None if t_at <= t_grid else pos)

    def _play(self, now: float, msg, token, pos: float | None = None) -> None:
        kind = msg[0] & 0xF0
        if kind == NOTE_ON and msg[2] > 0:
            key = (msg[0] & 0x0F, msg[1])
            if key in self.sounding:  # retrigger: close the previous one first
                self._emit(now, [NOTE_OFF | key[0], key[1], 0])
            tok = next(self._seq)
            self.sounding[key] = tok
            self.channels.add(key[0])
            heapq.heappush(self._at, (now + self.gate, tok, [NOTE_OFF | key[0], key[1], 0], tok))
        elif kind == NOTE_OFF and token is not None:
            key = (msg[0] & 0x0F, msg[1])
            if self.sounding.get(key) != token:
                return  # its note-on was already closed
            del self.sounding[key]
        self._emit(now, msg, pos)

    def _emit(self, now: float, msg, pos: float | None = None) -> None:
        self._send(msg)
        self.stats.sent += 1
        if self.on_sent is not None:
            self.on_sent(now, msg, pos)

    def start(self) -> None:
        """Start the sender thread ("drumd-sender"; SCHED_FIFO where allowed: `realtime` says
        once it runs). Call once."""
        self._thread = threading.Thread(target=self._loop, name="drumd-sender", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        self.realtime = try_realtime()
        with self.cond:
            while not self._closed:
                now = self.now()
                t_next = self.run_due(now)
                if not self._closed:
                    self.cond.wait(None if t_next == math.inf else t_next - now)

    def close(self) -> None:
        """Silence, then stop the thread."""
        self.silence()
        with self.cond:
            self._closed = True
            self.cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=2)
