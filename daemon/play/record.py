"""`--record out.mid`: the player's input and drumd's output on separate tracks, with a tempo map
and the session's meter (`--meter`, 4/4 by default: the MIDI clock carries none), written by the
one MIDI writer (mappings.midifile.write_midi).

The file's time is the song's: tick 0 is the song position where the take started (the
position the DAW's Start, Continue + Song Position or JACK transport started drumd from;
drumd's own step 0 on its internal clock), and every event's tick is its song position in
16ths times grid.STEP_TICKS (120 at PPQN 480). drumd's notes are placed at the grid position
they were sent for, so with `--quantize 1` they lie on the file's 16th grid exactly, and a take
dragged into the DAW at the bar it started from lines up with the song (issue #18: takes used to
start at drumd's launch, 0.19 of a 16th before drumd's step 0). The tempo map is the clock's
tempo as it went (a DAW's, measured once a beat; JACK transport's; drumd's own).

Events without a song position (the player while the transport stands, before it first
starts, or with a grid not known yet) are placed by their wall-clock time from the latest
known position at its tempo. Events before the take started would fall before tick 0: the file
then starts as many whole bars earlier as they need, so bar lines still fall where the song's
do. After a jump back (a DAW loop, a relocate), the song position goes back too: each lap is
written over the same bars, as a DAW's loop recording stacks takes.

Events are kept as they happen (cheap appends from the MIDI threads) and turned into ticks only
when the file is written: on transport stop and when drumd exits (normally, by signal or after a
crash). Each write replaces the file atomically, so it is always readable.
"""
from __future__ import annotations

import math
import threading
from pathlib import Path

import mido

from drumd.mappings.basics.grid import STEP_TICKS, STEPS_PER_BEAT
from drumd.mappings.basics.midifile import Track, write_midi

TEMPO_CHANGE = 0.005  # tempo changes below this share (0.5 %) stay out of the tempo map


class Recorder:
    """A take being recorded. `maps`: the drum map of each track's notes ("drumd out": the
    output map, "player in": the input map), named in the file (mappings.midifile.MAP_TEXT).

    `start_time` (seconds, the caller's clock) and `bpm` place events when no song position is
    ever given: at `bpm` from `start_time`, which is then tick 0. `meter`: the time signature
    written (its bars: song position 0 is a bar line).
    """

    def __init__(self, path: str | Path, start_time: float, bpm: float = 120.0,
                 maps: dict[str, str] | None = None, meter: tuple[int, int] = (4, 4)):
        self.path = Path(path)
        self.maps = dict(maps or {})
        self.meter = tuple(meter)
        self.steps_per_bar = 16 * self.meter[0] // self.meter[1]
        self.lock = threading.Lock()
        # (seconds, song position in 16ths, BPM): where the song was when, at what tempo
        self.anchors: list[tuple[float, float, float]] = [(start_time, 0.0, bpm)]
        self.start_step: float | None = None  # song position where the take started
        # (seconds, message bytes, song position in 16ths or None)
        self.tracks: dict[str, list[tuple[float, list[int], float | None]]] = {
            "drumd out": [], "player in": []}

    def started(self, t: float, pos: float, bpm: float) -> None:
        """The transport started (or relocated) so that song position `pos` (16ths) falls at
        `t` (seconds), at `bpm`. The first call sets where the take starts (tick 0)."""
        with self.lock:
            if self.start_step is None:
                self.start_step = pos
                self.anchors = [(t, pos, bpm)]  # the start-up guess is replaced by the song
            else:
                self.anchors.append((t, pos, bpm))

    def add(self, track: str, t: float, msg, pos: float | None = None) -> None:
        """Keep `msg` sent or heard at `t` (seconds); `pos`: its song position in 16ths when
        the caller knows it (the grid position a note was sent for, or the clock's position
        at `t` while the transport runs)."""
        if msg[0] >= 0xF0:  # clock and transport bytes: the tempo map carries the timing
            return
        with self.lock:
            self.tracks[track].append((t, list(msg), pos))

    def tempo(self, t: float, bpm: float, pos: float | None = None) -> None:
        """The tempo is `bpm` from `t` (song position `pos` in 16ths if known, else placed by
        time); changes under TEMPO_CHANGE are left out of the map."""
        with self.lock:
            if abs(bpm / self.anchors[-1][2] - 1) < TEMPO_CHANGE:
                return
            t = max(t, self.anchors[-1][0])
            self.anchors.append((t, self._position(self.anchors, t) if pos is None else pos, bpm))

    @staticmethod
    def _position(anchors, t: float) -> float:
        """Song position (16ths) at `t` by time from the latest anchor at or before it (the
        first one, backwards, for earlier times)."""
        i = len(anchors) - 1
        while i > 0 and anchors[i][0] > t:
            i -= 1
        at, pos, bpm = anchors[i]
        return pos + (t - at) * bpm / 60 * STEPS_PER_BEAT

    def tracks_and_tempos(self) -> tuple[list[Track], list[tuple[int, float]]]:
        """The take as write_midi's tracks (ticks at grid.PPQN from the take's start) and that
        tempo map as (tick, BPM)."""
        with self.lock:
            anchors = list(self.anchors)
            start = self.start_step if self.start_step is not None else 0.0
            placed = {name: [(self._position(anchors, t) if pos is None else pos, t, m)
                             for t, m, pos in events]
                      for name, events in self.tracks.items()}
        first = min((p for evs in placed.values() for p, _, _ in evs), default=start)
        if first < start:  # played before the take started: whole bars of lead-in
            start -= math.ceil((start - first) / self.steps_per_bar - 1e-9) * self.steps_per_bar

        def tick(pos: float) -> int:
            return max(0, math.floor((pos - start) * STEP_TICKS + 0.5))

        tempos: dict[int, float] = {}
        for _, pos, bpm in sorted(anchors, key=lambda a: a[1]):
            tempos[tick(pos)] = bpm  # a lap over the same bars: the latest tempo there
        tempo_map = [(0, anchors[0][2])] if 0 not in tempos else []
        for k in sorted(tempos):
            if not tempo_map or tempo_map[-1][1] != tempos[k]:
                tempo_map.append((k, tempos[k]))
        tracks = [Track(name, [(tick(p), mido.Message.from_bytes(m))
                               for p, _, m in sorted(evs, key=lambda e: (e[0], e[1]))],
                        self.maps.get(name))
                  for name, evs in placed.items()]
        return tracks, tempo_map

    def write(self) -> None:
        """Write the take so far (atomic: an earlier take is replaced only by a whole one).
        Raises MidiFileError naming the file if it cannot be written."""
        tracks, tempos = self.tracks_and_tempos()
        write_midi(self.path, tracks, tempos=tempos, meters=((0, *self.meter),))
