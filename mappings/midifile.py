"""Remapping the drum notes of standard MIDI files, tick for tick.

Only note numbers change: messages keep their type, velocity, channel and absolute tick;
meta events, sysex, controllers and other channels pass through untouched. Dropped notes
give their delta time to the next message so nothing else moves.
"""
from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import mido

from drumd.mappings.translate import DROP, Translator
from drumd.mappings.atomicfile import atomic_open

MIDI_SUFFIXES = (".mid", ".midi")


class MidiFileError(Exception):
    """A MIDI file that cannot be read or written; the message names the file."""


@dataclass
class RemapStats:
    files: int = 0
    notes: int = 0    # note-ons on the remapped channels
    dropped: int = 0  # of those, left out


class _ChannelState:
    """Per-channel memory across a file: last CC4, and the output note chosen for each
    sounding note so its note-off (and aftertouch) follow it even if CC4 moved since."""

    def __init__(self):
        self.cc4: dict[int, int] = {}
        self.sounding: defaultdict[tuple[int, int], deque[int]] = defaultdict(deque)


def _merged(tracks: list[mido.MidiTrack]) -> Iterator[tuple[int, int, mido.Message]]:
    """(absolute tick, track index, message) of several tracks in playing order."""
    def timed(i, track):
        tick = 0
        for seq, msg in enumerate(track):
            tick += msg.time
            yield tick, i, seq, msg
    for tick, i, _, msg in heapq.merge(*(timed(i, t) for i, t in enumerate(tracks))):
        yield tick, i, msg


def _remap_message(msg, tr: Translator, state: _ChannelState, stats: RemapStats) -> int | None:
    """The output note for a note message (None: drop the message)."""
    ch, note = msg.channel, msg.note
    cc4 = state.cc4.get(ch)
    sounding = state.sounding[(ch, note)]
    if msg.type == "note_on" and msg.velocity > 0:
        out = tr.note(note, cc4)
        stats.notes += 1
        if out is None:
            stats.dropped += 1
        sounding.append(DROP if out is None else out)
    elif msg.type == "polytouch":  # e-drum cymbal chokes: follow the newest sounding note
        out = sounding[-1] if sounding else tr.table_for(cc4)[note]
    else:  # note-off: pairs with the oldest sounding note-on of that number
        out = sounding.popleft() if sounding else tr.table_for(cc4)[note]
    return None if out == DROP else out


def remap_midi(mid: mido.MidiFile, tr: Translator, channels: Collection[int] | None = (9,),
               stats: RemapStats | None = None) -> mido.MidiFile:
    """A copy of mid with the notes on `channels` (0-based; None: all) translated by tr."""
    stats = stats if stats is not None else RemapStats()
    # Tracks of type 0/1 files play together, so they share channel state and are walked
    # in time order; type 2 tracks are independent patterns.
    groups = ([[i] for i in range(len(mid.tracks))] if mid.type == 2
              else [list(range(len(mid.tracks)))])
    timed_out: list[list[tuple[int, mido.Message]]] = [[] for _ in mid.tracks]
    for group in groups:
        state = _ChannelState()
        for tick, j, msg in _merged([mid.tracks[i] for i in group]):
            i = group[j]
            ch = None if msg.is_meta else getattr(msg, "channel", None)  # sysex has none
            if ch is not None and (channels is None or ch in channels):
                if msg.type == "control_change" and msg.control == 4:
                    state.cc4[ch] = msg.value
                elif msg.type in ("note_on", "note_off", "polytouch"):
                    out = _remap_message(msg, tr, state, stats)
                    if out is None:
                        continue
                    msg = msg.copy(note=out)
            timed_out[i].append((tick, msg))
    out = mido.MidiFile(type=mid.type, ticks_per_beat=mid.ticks_per_beat, charset=mid.charset)
    for events in timed_out:
        track, last = mido.MidiTrack(), 0
        for tick, msg in events:
            track.append(msg.copy(time=tick - last))
            last = tick
        out.tracks.append(track)
    return out


def read_midi(path: Path) -> mido.MidiFile:
    try:
        return mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as e:
        raise MidiFileError(f"{path}: not a readable MIDI file ({e or type(e).__name__})") from e


def write_atomic(mid: mido.MidiFile, path: Path) -> None:
    """Write via a temporary file in the same folder and os.replace, so readers never see a
    half-written file and a failed write leaves the old one intact. Keeps an existing
    file's permissions."""
    try:
        with atomic_open(path) as f:
            mid.save(file=f)
    except OSError as e:
        raise MidiFileError(f"{path}: cannot write ({e.strerror or e})") from e


def remap_file(src: Path, dst: Path, tr: Translator, channels: Collection[int] | None = (9,),
               stats: RemapStats | None = None) -> None:
    """Remap the MIDI file src into dst (which may be src itself: the write is atomic)."""
    stats = stats if stats is not None else RemapStats()
    mid = remap_midi(read_midi(src), tr, channels, stats)
    write_atomic(mid, dst)
    stats.files += 1
