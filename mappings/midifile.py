"""Standard MIDI files: the one reader of drum hits, the one writer, and remapping drum notes
tick for tick.

Reading (`read_midi`, `read_drum_notes`) is shared by every command that reads MIDI: training
data and primers (engine), `render` and `audition` (daemon), `remap` (here). A file that cannot
be read is a MidiFileError naming the file and the reason, never a traceback.

Writing (`write_midi`, `save_midi`) is shared by every command that writes MIDI: `generate`
(engine), `serve --record` (daemon), `remap` (here). Files are written at grid.PPQN ticks per
beat with a tempo map and a meter, and each track names the drum map of its notes in a text
meta event "drumd map: NAME" (MAP_TEXT), which read_drum_notes gives back as `map_name`. The
save is atomic (mappings.files): a file appears whole or not at all.

Remapping: only note numbers change: messages keep their type, velocity, channel and absolute
tick; meta events, sysex, controllers and other channels pass through untouched, except that
a MAP_TEXT naming the source map now names the destination (none is added). Dropped notes
give their delta time to the next message so nothing else moves.
"""
from __future__ import annotations

import heapq
import io
import logging
import struct
from collections import Counter, defaultdict, deque
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mido

from drumd.mappings.files import OutputPathError, atomic_open
from drumd.mappings.grid import PPQN, STEP_TICKS, STEPS_PER_BEAT
from drumd.mappings.translate import DROP, Translator

MIDI_SUFFIXES = (".mid", ".midi")
log = logging.getLogger(__name__)


MAX_STEPS = 100_000  # 16ths (about 3.5 hours at 120 BPM): longer files are refused, not read
NOTE_MESSAGES = frozenset({"note_on", "note_off", "polytouch"})
# A text meta event naming the drum map of its track's notes. Plain text, so any MIDI tool
# shows it and DAWs ignore it; the map's name is what `--map` takes (`drumd maps list`).
MAP_TEXT = "drumd map: "


class MidiFileError(Exception):
    """A MIDI file that cannot be read or written; the message names the file."""


def _header_problem(data: bytes) -> str | None:
    """Why `data` is not a Standard MIDI File we can parse, from its header alone (None: fine)."""
    if not data:
        return "the file is empty (0 bytes)"
    if not data.startswith(b"MThd"):
        head = data[:16]
        looks_text = all(32 <= b < 127 or b in b"\t\r\n" for b in head)
        what = "text" if looks_text else "other data"
        return (f"it starts with {what} ({head[:8]!r}), not the 'MThd' header of a Standard "
                "MIDI File")
    if len(data) < 14:
        return f"cut short: {len(data)} bytes, less than a MIDI file header (truncated?)"
    fmt, n_tracks, division = struct.unpack(">HHH", data[8:14])
    if fmt > 2:
        return f"MIDI file type {fmt} (the standard has types 0, 1 and 2)"
    if n_tracks == 0:
        return "its header says it has no tracks"
    if fmt == 0 and n_tracks != 1:
        return f"a type 0 file whose header says it has {n_tracks} tracks (type 0 has one)"
    if division == 0:
        return "0 ticks per quarter note in the header"
    return None


def read_midi(path: str | Path) -> mido.MidiFile:
    """Parse a Standard MIDI File. Raises MidiFileError (naming the file and the reason) for
    anything mido cannot read: empty, truncated, not MIDI, running status at a track's start."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MidiFileError(f"{path}: cannot read ({e.strerror or e})") from None
    problem = _header_problem(data)
    if problem:
        raise MidiFileError(f"{path}: not a readable MIDI file: {problem}")
    try:
        return mido.MidiFile(file=io.BytesIO(data))
    except EOFError:
        raise MidiFileError(f"{path}: not a readable MIDI file: it ends in the middle of a track "
                            "(truncated, or a wrong length in a chunk header)") from None
    except OSError as e:
        why = str(e)
        if "running status" in why:
            why = ("a track starts with running status (data bytes before any status byte), "
                   "which the MIDI file standard does not allow")
        elif "MTrk" in why:
            why = "a track does not start with 'MTrk' (a damaged file, or a wrong chunk length)"
        raise MidiFileError(f"{path}: not a readable MIDI file: {why}") from None
    except Exception as e:  # noqa: BLE001 - mido on untrusted bytes: ValueError, KeyError,
        # IndexError, KeySignatureError (a damaged meta event) and more; all mean the same here
        raise MidiFileError(f"{path}: not a readable MIDI file: {e or type(e).__name__}") from None


def _rank(msg) -> int:
    """Order at equal ticks: notes after everything else (a hi-hat pedal CC4 at the note's tick
    applies to it, even on another track)."""
    return 1 if msg.type in NOTE_MESSAGES else 0


def _keyed(track, offset: int = 0) -> Iterator[tuple[int, int, int, mido.Message]]:
    """(absolute tick, rank, seq, message) of one track. Within a track the file's order is
    kept: the rank never goes down within one tick, so a CC written after a note at the same
    tick of the same track stays after it."""
    tick, last_tick, rank = offset, None, 0
    for seq, msg in enumerate(track):
        tick += msg.time
        if tick != last_tick:
            last_tick, rank = tick, 0
        rank = max(rank, _rank(msg))
        yield tick, rank, seq, msg


def _elsewhere_message(path, wanted: str, elsewhere: Counter, option: str) -> str:
    """A file with no notes on the channel(s) `wanted` (1-16) and `elsewhere` {channel: notes}."""
    found = ", ".join(f"{c} ({n})" for c, n in sorted(elsewhere.items()))
    best = max(elsewhere, key=lambda c: (elsewhere[c], c == 10))
    return f"{path}: no notes on channel {wanted}; notes on channel {found}: use {option} {best}"


@dataclass(frozen=True)
class DrumNote:
    tick: int
    note: int
    velocity: int
    cc4: int | None  # the channel's last hi-hat pedal (CC4) value, None before any


@dataclass
class DrumNotes:
    """The note-ons of one channel of a MIDI file, in playing order (see read_drum_notes)."""
    path: Path
    channel: int                  # 1-16
    ticks_per_beat: int
    notes: list[DrumNote]
    end_tick: int                 # the last end_of_track (max over tracks)
    tempos: list[tuple[int, int]] = field(default_factory=list)  # (tick, microseconds per beat)
    meter: tuple[int, int] = (4, 4)  # the first time signature
    map_name: str | None = None   # the drum map the file names (MAP_TEXT), None if it names none

    @property
    def bpm(self) -> float:
        """The first tempo of the file (120 without one)."""
        return mido.tempo2bpm(self.tempos[0][1]) if self.tempos else 120.0

    def seconds(self, ticks: list[int]) -> list[float]:
        """Times in seconds of ascending ticks, through the file's tempo map."""
        out, tempos = [], self.tempos
        i, seg_tick, seg_s, tempo = 0, 0, 0.0, 500_000
        for tick in ticks:
            while i < len(tempos) and tempos[i][0] <= tick:
                seg_s += (tempos[i][0] - seg_tick) * tempo / 1e6 / self.ticks_per_beat
                seg_tick, tempo = tempos[i][0], tempos[i][1]
                i += 1
            out.append(seg_s + (tick - seg_tick) * tempo / 1e6 / self.ticks_per_beat)
        return out


def read_drum_notes(path: str | Path, channel: int = 10,
                    channel_option: str = "--channel") -> DrumNotes:
    """The drum note-ons of one channel (1-16; 10 by default) of a MIDI file.

    All tracks are merged by absolute tick (type 2: its patterns one after another); at equal
    ticks a hi-hat pedal CC4 comes before the notes, even from another track, so each note
    carries the pedal value it is played with. Time and memory depend on the file's size,
    not its length in ticks; a file over MAX_STEPS 16ths long is refused.

    `map_name`: the map named (MAP_TEXT) by the track of the first note read, else the first
    map named anywhere in the file, else None. It is reported, not applied: callers say
    which map to read the notes in.

    Raises MidiFileError naming the file: unreadable (see read_midi), SMPTE time division, too
    long, or no notes on `channel` while other channels have some (the error lists them and
    suggests `channel_option` with the busiest).
    """
    path = Path(path)
    mid = read_midi(path)
    tpb = mid.ticks_per_beat
    if tpb < 0:  # mido reads the division as signed: SMPTE frames
        fps, per_frame = -(tpb >> 8), tpb & 0xFF
        raise MidiFileError(f"{path}: timed in SMPTE frames ({fps} per second, {per_frame} ticks "
                            "per frame), not in beats; drumd reads files with a beat-based time "
                            "division (save it from your DAW with PPQ timing)")
    offsets, end = [], 0
    for track in mid.tracks:
        offsets.append(end if mid.type == 2 else 0)
        length = sum(msg.time for msg in track)
        end = max(end, offsets[-1] + length) if mid.type != 2 else offsets[-1] + length
    if end * STEPS_PER_BEAT > MAX_STEPS * tpb:
        raise MidiFileError(f"{path}: {end * STEPS_PER_BEAT // tpb:,} 16th notes long (over {MAX_STEPS:,}, "
                            "about 3.5 hours at 120 BPM); drumd reads shorter drum files")
    ch = channel - 1
    notes, elsewhere, tempos, meter, cc4 = [], Counter(), [], None, None
    maps: dict[int, str] = {}  # track -> the first map it names
    map_name = None
    def stream(i, track, offset):  # a function, so each stream keeps its own track index i
        for tick, rank, seq, msg in _keyed(track, offset):
            yield (tick, rank, i, seq), msg
    streams = [stream(i, t, off) for i, (t, off) in enumerate(zip(mid.tracks, offsets))]
    for (tick, _, track, _), msg in heapq.merge(*streams, key=lambda e: e[0]):
        kind = msg.type
        if kind == "text" and msg.text.startswith(MAP_TEXT):
            maps.setdefault(track, msg.text[len(MAP_TEXT):].strip())
        elif kind == "set_tempo":
            if msg.tempo > 0:  # a tempo of 0 microseconds per beat is no tempo: ignored
                tempos.append((tick, msg.tempo))
        elif kind == "time_signature" and meter is None:
            meter = (msg.numerator, msg.denominator)
        elif kind == "note_on" and msg.velocity > 0:
            if msg.channel == ch:
                if not notes:
                    map_name = maps.get(track)
                notes.append(DrumNote(tick, msg.note, msg.velocity, cc4))
            else:
                elsewhere[msg.channel + 1] += 1
        elif kind == "control_change" and msg.control == 4 and msg.channel == ch:
            cc4 = msg.value
    if not notes and elsewhere:
        raise MidiFileError(_elsewhere_message(path, str(channel), elsewhere, channel_option))
    if map_name is None and maps:
        map_name = next(iter(maps.values()))  # the first a track named, in playing order
    log.debug("%s: type %d, %d tracks, %d ticks per beat, %d notes on channel %d, %d elsewhere",
              path, mid.type, len(mid.tracks), tpb, len(notes), channel, sum(elsewhere.values()))
    return DrumNotes(path, channel, tpb, notes, end, tempos, meter or (4, 4), map_name)


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


def _merged(tracks: list[mido.MidiTrack]) -> Iterator[tuple[int, int, int, mido.Message]]:
    """(absolute tick, track index, index in its track, message) of several tracks in playing
    order: by tick, then CCs and other messages before notes (as read_drum_notes)."""
    def timed(i, track):
        for tick, rank, seq, msg in _keyed(track):
            yield tick, rank, i, seq, msg
    for tick, _, i, seq, msg in heapq.merge(*(timed(i, t) for i, t in enumerate(tracks)),
                                            key=lambda e: e[:4]):
        yield tick, i, seq, msg


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
    # per track: (tick, message, its new note number or None), in the track's own order (the
    # merge keeps each track's order)
    timed_out: list[list[tuple[int, mido.BaseMessage, int | None]]] = [[] for _ in mid.tracks]
    for group in groups:
        state = _ChannelState()
        for tick, j, _, msg in _merged([mid.tracks[i] for i in group]):
            kind, note = msg.type, None
            if kind == "text" and msg.text.startswith(MAP_TEXT):
                msg = msg.copy(text=MAP_TEXT + tr.dst.name)  # the notes are in dst's map now
            elif not msg.is_meta and kind != "sysex" and (channels is None or msg.channel in channels):
                if kind == "control_change" and msg.control == 4:
                    state.cc4[msg.channel] = msg.value
                elif kind in NOTE_MESSAGES:
                    note = _remap_message(msg, tr, state, stats)
                    if note is None:
                        continue
            timed_out[group[j]].append((tick, msg, note))
    out = mido.MidiFile(type=mid.type, ticks_per_beat=mid.ticks_per_beat, charset=mid.charset)
    for events in timed_out:
        track, last = mido.MidiTrack(), 0
        for tick, msg, note in events:
            # One copy per message, without mido's checks (they were two thirds of a 1 MB
            # file's time): a read message with a delta time >= 0 and a table's note 0-127.
            if note is not None:
                track.append(msg.copy(skip_checks=True, time=tick - last, note=note))
            elif isinstance(msg, mido.Message):
                track.append(msg.copy(skip_checks=True, time=tick - last))
            else:
                track.append(msg.copy(time=tick - last))
            last = tick
        out.tracks.append(track)
    return out


@dataclass
class Track:
    """One track for write_midi: its name, its events as (absolute tick, message) in playing
    order (sorted by tick here, stably: events at one tick keep their order), and the drum
    map of its notes (None: it names none)."""
    name: str
    events: list[tuple[int, mido.Message]]
    map_name: str | None = None


def note_events(hits: Iterable[tuple[int, int, int]], channel: int = 10,
                gate_ticks: int = STEP_TICKS // 2) -> list[tuple[int, mido.Message]]:
    """A note_on and a note_off `gate_ticks` later (at least 1) for each (tick, note,
    velocity 1-127) hit, on `channel` (1-16), in playing order. At one tick the note-offs
    come first, so a note struck again as the previous one ends is heard again.
    Raises ValueError (mido's) for a note or velocity outside 0-127 or a channel outside 1-16."""
    events = []
    for tick, note, velocity in hits:
        events.append((tick, 1, mido.Message("note_on", channel=channel - 1, note=note,
                                              velocity=velocity)))
        events.append((tick + max(1, gate_ticks), 0,
                       mido.Message("note_off", channel=channel - 1, note=note, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    return [(tick, msg) for tick, _, msg in events]


def midi_file(tracks: Sequence[Track], tempos: Sequence[tuple[int, float]] = ((0, 120.0),),
              meters: Sequence[tuple[int, int, int]] = ((0, 4, 4),),
              end_tick: int = 0, ticks_per_beat: int = PPQN) -> mido.MidiFile:
    """A Standard MIDI File of `tracks`, with its tempo map (tick, BPM) and meters (tick,
    numerator, denominator). One track: type 0, the tempo map and meters in that track;
    several: type 1, with a first track "tempo" holding them. Every track starts with its
    name and MAP_TEXT naming its map, and ends at its last event or `end_tick`, the later.
    At one tick, tempo and meter changes come before the tracks' events.
    Raises ValueError (mido's) for what a MIDI file cannot hold (a tempo under 3.6 BPM, a
    note number over 127, a negative tick...)."""
    conductor = sorted([(tick, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
                        for tick, bpm in tempos]
                       + [(tick, mido.MetaMessage("time_signature", numerator=num,
                                                  denominator=den))
                          for tick, num, den in meters], key=lambda e: e[0])
    mid = mido.MidiFile(type=0 if len(tracks) == 1 else 1, ticks_per_beat=ticks_per_beat)
    if len(tracks) != 1:
        mid.tracks.append(_track_of("tempo", None, conductor, end_tick))
        conductor = []
    for t in tracks:
        events = sorted(conductor + list(t.events), key=lambda e: e[0])  # stable: metas first
        mid.tracks.append(_track_of(t.name, t.map_name, events, end_tick))
    return mid


def _track_of(name: str, map_name: str | None, events, end_tick: int) -> mido.MidiTrack:
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
    if map_name:
        track.append(mido.MetaMessage("text", text=MAP_TEXT + map_name))
    last = 0
    for tick, msg in events:
        if tick < 0:
            raise ValueError(f"an event at tick {tick}, before the start")
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - last)))
    return track


def write_midi(path: str | Path, tracks: Sequence[Track],
               tempos: Sequence[tuple[int, float]] = ((0, 120.0),),
               meters: Sequence[tuple[int, int, int]] = ((0, 4, 4),),
               end_tick: int = 0, ticks_per_beat: int = PPQN) -> None:
    """Write `tracks` as a MIDI file at `path` (see midi_file for the layout), atomically.
    Raises MidiFileError naming the file: what a MIDI file cannot hold, or the write
    failed (see save_midi); an existing file is then left as it was."""
    try:
        mid = midi_file(tracks, tempos, meters, end_tick, ticks_per_beat)
    except (ValueError, TypeError) as e:
        raise MidiFileError(f"{Path(path)}: cannot write this as a MIDI file ({e})") from None
    save_midi(mid, Path(path))


def save_midi(mid: mido.MidiFile, path: str | Path) -> None:
    """Save `mid` at `path` through a temporary file in the same folder and os.replace
    (mappings.files.atomic_open), so readers never see a half-written file and a failed
    write leaves the old one intact. Keeps an existing file's permissions.
    Raises MidiFileError naming the file: a folder or a missing folder (OutputPathError's
    line), something mido will not write, or the write failed."""
    path = Path(path)
    try:
        with atomic_open(path) as f:
            mid.save(file=f)
    except OutputPathError as e:
        raise MidiFileError(str(e)) from None
    except ValueError as e:  # mido refuses to write what it read (nothing is written)
        raise MidiFileError(f"{path}: cannot write this file back ({e})") from None
    except OSError as e:
        raise MidiFileError(f"{path}: cannot write ({e.strerror or e})") from e


def remap_file(src: Path, dst: Path, tr: Translator, channels: Collection[int] | None = (9,),
               stats: RemapStats | None = None, require_notes: bool = False) -> None:
    """Remap the MIDI file src into dst (which may be src itself: the write is atomic).
    require_notes: a file with no notes on `channels` but notes on others is a MidiFileError
    naming the channels it has (as read_drum_notes), instead of a copy with nothing remapped."""
    stats = stats if stats is not None else RemapStats()
    notes_before = stats.notes
    mid = read_midi(src)
    out = remap_midi(mid, tr, channels, stats)
    if require_notes and channels is not None and stats.notes == notes_before:
        _no_notes_on(src, mid, channels)
    save_midi(out, dst)
    stats.files += 1


def _no_notes_on(path: Path, mid: mido.MidiFile, channels: Collection[int]) -> None:
    """Raise the read_drum_notes error if other channels than `channels` (0-based) have notes."""
    elsewhere = Counter(msg.channel + 1 for t in mid.tracks for msg in t
                        if msg.type == "note_on" and msg.velocity > 0 and msg.channel not in channels)
    if elsewhere:
        wanted = ", ".join(str(c + 1) for c in sorted(channels))
        raise MidiFileError(_elsewhere_message(path, wanted, elsewhere, "--channel"))
