"""Steps <-> MIDI files in any vendor drum map (through drumd.mappings)."""
from __future__ import annotations

from pathlib import Path

import mido

from drumd.engine.data import read_onsets
from drumd.mappings.atomicfile import atomic_open
from drumd.engine.encoding import Step, quantize_hits, steps_of

TICKS_PER_BEAT = 480
STEP_TICKS = TICKS_PER_BEAT // 4


def read_steps(path: Path, map_name: str = "gm") -> tuple[list[Step], float]:
    """A drum MIDI file in `map_name` as GM Steps (quantized, keeping velocity and timing)."""
    from drumd.mappings import load_map
    m = load_map(map_name)
    onsets, bpm = read_onsets(Path(path), lambda n, cc4: m.to_gm(n, cc4=cc4))
    return steps_of(quantize_hits(onsets)), bpm


def write_steps(path: Path, steps: list[Step], bpm: float, map_name: str = "gm",
                channel: int = 10, gate_steps: float = 0.5) -> int:
    """Write Steps as a type-0 MIDI file in a vendor map; returns the number of notes written.

    Atomic: the file appears complete or not at all. Hits the map cannot play are skipped.
    """
    from drumd.mappings import load_map
    m = load_map(map_name)
    events = []  # (tick, order, message); note-offs sort before note-ons at the same tick
    n_notes = 0
    for t, step in enumerate(steps):
        for h in step.hits:
            note = m.from_gm(h.pitch)
            if note is None:
                continue
            on = max(0, round((t + h.offset) * STEP_TICKS))
            off = on + max(1, round(gate_steps * STEP_TICKS))
            events.append((on, 1, mido.Message("note_on", channel=channel - 1, note=note, velocity=h.velocity)))
            events.append((off, 0, mido.Message("note_off", channel=channel - 1, note=note, velocity=0)))
            n_notes += 1
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack([
        mido.MetaMessage("track_name", name="drumd", time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
        mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
    ])
    last = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    end = max(last, len(steps) * STEP_TICKS)
    track.append(mido.MetaMessage("end_of_track", time=end - last))
    mid = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT, tracks=[track])
    with atomic_open(path) as f:
        mid.save(file=f)
    return n_notes
