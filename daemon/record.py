"""`--record out.mid`: the player's input and drumd's output on separate tracks, with a tempo map.

Events are kept with their wall-clock times (cheap appends from the MIDI threads) and turned
into ticks only when the file is written: on transport stop and when drumd exits (normally, by
signal or after a crash). Each write replaces the file atomically, so it is always readable.
"""
from __future__ import annotations

import threading
from pathlib import Path

import mido
from drumd.mappings.files import atomic_open

TICKS_PER_BEAT = 480


class Recorder:
    def __init__(self, path: str | Path, start_time: float, bpm: float = 120.0):
        self.path = Path(path)
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
            ticks += (nt - seg_t) * seg_bpm / 60 * TICKS_PER_BEAT
            seg_t, seg_bpm = nt, nbpm
        return round(ticks + max(t - seg_t, 0.0) * seg_bpm / 60 * TICKS_PER_BEAT)

    def midi_file(self) -> mido.MidiFile:
        with self.lock:
            tempi = list(self.tempi)
            tracks = {name: sorted(evs, key=lambda e: e[0]) for name, evs in self.tracks.items()}
        mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
        meta = [(self._ticks(tempi, t), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(b)))
                for t, b in tempi]
        mid.tracks.append(_track("tempo", meta))
        for name, events in tracks.items():
            mid.tracks.append(_track(name, [(self._ticks(tempi, t), mido.Message.from_bytes(m))
                                            for t, m in events]))
        return mid

    def write(self) -> None:
        with atomic_open(self.path) as f:
            self.midi_file().save(file=f)


def _track(name: str, events) -> mido.MidiTrack:
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
    last = 0
    for tick, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track"))
    return track
