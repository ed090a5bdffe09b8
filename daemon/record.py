"""`--record out.mid`: the player's input and drumd's output on separate tracks, with a tempo map
and a 4/4 meter (live play has no other: the MIDI clock carries none), written by the one MIDI
writer (mappings.midifile.write_midi).

Events are kept with their wall-clock times (cheap appends from the MIDI threads) and turned
into ticks only when the file is written: on transport stop and when drumd exits (normally, by
signal or after a crash). Each write replaces the file atomically, so it is always readable.
"""
from __future__ import annotations

import threading
from pathlib import Path

import mido

from drumd.mappings.grid import PPQN
from drumd.mappings.midifile import Track, write_midi


class Recorder:
    """A take being recorded. `maps`: the drum map of each track's notes ("drumd out": the
    output map, "player in": the input map), named in the file (mappings.midifile.MAP_TEXT)."""

    def __init__(self, path: str | Path, start_time: float, bpm: float = 120.0,
                 maps: dict[str, str] | None = None):
        self.path = Path(path)
        self.maps = dict(maps or {})
        self.t0 = start_time
        self.lock = threading.Lock()
        self.tempi: list[tuple[float, float]] = [(start_time, bpm)]
        self.tracks: dict[str, list[tuple[float, list[int]]]] = {"drumd out": [], "player in": []}

    def add(self, track: str, t: float, msg) -> None:
        if msg[0] >= 0xF0:  # clock and transport bytes: the tempo map carries the timing
            return
        with self.lock:
            self.tracks[track].append((t, list(msg)))

    def tempo(self, t: float, bpm: float) -> None:
        """Note the tempo at `t`; changes under 0.5% are left out of the map."""
        with self.lock:
            if abs(bpm / self.tempi[-1][1] - 1) >= 0.005:
                self.tempi.append((max(t, self.tempi[-1][0]), bpm))

    @staticmethod
    def _ticks(tempi, t: float) -> int:
        ticks, (seg_t, seg_bpm) = 0.0, tempi[0]
        for nt, nbpm in tempi[1:]:
            if nt >= t:
                break
            ticks += (nt - seg_t) * seg_bpm / 60 * PPQN
            seg_t, seg_bpm = nt, nbpm
        return round(ticks + max(t - seg_t, 0.0) * seg_bpm / 60 * PPQN)

    def tracks_and_tempos(self) -> tuple[list[Track], list[tuple[int, float]]]:
        """The take as write_midi's tracks (ticks at grid.PPQN through the tempo map) and
        that tempo map as (tick, BPM)."""
        with self.lock:
            tempi = list(self.tempi)
            tracks = {name: sorted(evs, key=lambda e: e[0]) for name, evs in self.tracks.items()}
        tempos = [(self._ticks(tempi, t), b) for t, b in tempi]
        return [Track(name, [(self._ticks(tempi, t), mido.Message.from_bytes(m)) for t, m in events],
                      self.maps.get(name))
                for name, events in tracks.items()], tempos

    def write(self) -> None:
        """Write the take so far (atomic: an earlier take is replaced only by a whole one).
        Raises MidiFileError naming the file if it cannot be written."""
        tracks, tempos = self.tracks_and_tempos()
        write_midi(self.path, tracks, tempos=tempos)
