"""Standard MIDI files: the one reader of drum hits, the one writer, and remapping drum notes
tick for tick.

Reading (`read_midi`, `read_drum_notes`) is shared by every command that reads MIDI: training
data and primers (engine), `render` and `audition` (daemon), `remap` (here). The bytes are
parsed by mappings.smf into plain event tuples (a Message object per event, as mido builds,
was most of a command's time on a 1 MB file). A file that cannot be read is a MidiFileError
naming the file and the reason, never a traceback.

Writing (`write_midi`, `save_midi`) is shared by every command that writes MIDI: `generate`
(engine), `serve --record` (daemon); `remap` (here) writes its events back through smf.encode
and the same atomic save. Files are written at grid.PPQN ticks per
beat with a tempo map and a meter, and each track names the drum map of its notes in a text
meta event "drumd map: NAME" (MAP_TEXT), which read_drum_notes gives back as `map_name`. The
save is atomic (mappings.files): a file appears whole or not at all.

Remapping: only note numbers change: messages keep their type, velocity, channel and absolute
tick; meta events, sysex, controllers and other channels pass through untouched, except that
a MAP_TEXT naming the source map now names the destination (none is added). Dropped notes
give their delta time to the next message so nothing else moves.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict, deque
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mido

from drumd.mappings.basics import smf
from drumd.mappings.basics.errors import DrumdError
from drumd.mappings.basics.files import OutputPathError, atomic_open
from drumd.mappings.basics.grid import PPQN, STEP_TICKS, STEPS_PER_BEAT
from drumd.mappings.basics.smf import Smf
from drumd.mappings.drummaps.translate import DROP, Translator

MIDI_SUFFIXES = (".mid", ".midi")
log = logging.getLogger(__name__)


MAX_STEPS = 100_000  # 16ths (about 3.5 hours at 120 BPM): longer files are refused, not read
# A text meta event naming the drum map of its track's notes. Plain text, so any MIDI tool
# shows it and DAWs ignore it; the map's name is what `--map` takes (`drumd maps list`).
MAP_TEXT = "drumd map: "


class MidiFileError(DrumdError):
    """A MIDI file that cannot be read or written; the message names the file."""


def read_midi(path: str | Path) -> Smf:
    """The events of a Standard MIDI File (mappings.smf: the one parser). Raises MidiFileError
    naming the file and the reason: empty, truncated, not MIDI, running status at a track's
    start, a damaged track, or the file cannot be read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MidiFileError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        return smf.parse(data)
    except smf.SmfError as e:
        raise MidiFileError(f"{path}: not a readable MIDI file: {e}") from None


def _keyed(track: list[smf.Event], offset: int = 0) -> Iterator[tuple[int, int, int, smf.Event]]:
    """(absolute tick, rank, seq, event) of one track. At equal ticks notes (note on, off,
    aftertouch: rank 1) come after everything else (rank 0), so a hi-hat pedal CC4 at a note's
    tick applies to it, even from another track. Within a track the file's order is kept: the
    rank never goes down within one tick, so a CC written after a note at the same tick of the
    same track stays after it."""
    tick, last_tick, rank = offset, None, 0
    for seq, event in enumerate(track):
        tick += event[0]
        if tick != last_tick:
            last_tick, rank = tick, 0
        if rank == 0 and 0x80 <= event[1] < 0xB0:
            rank = 1
        yield tick, rank, seq, event


def _playing_order(tracks: list[list[smf.Event]], offsets: list[int]
                   ) -> Iterator[tuple[int, int, smf.Event]]:
    """(absolute tick, track index, event) of every track, merged by tick (see _keyed);
    `offsets`: the tick each track starts at."""
    if len(tracks) == 1:  # a type 0 file: its own order, without a merge (most files)
        tick = offsets[0]
        for event in tracks[0]:
            tick += event[0]
            yield tick, 0, event
        return
    # all tracks' events in one list sorted in C: 30,000 tracks merged by heapq.merge's
    # generators took 1.4 s, this a tenth of it. (tick, rank, track, seq) is unique, so the
    # sort never compares the events themselves.
    keyed = [(tick, rank, i, seq, event) for i, (track, offset) in enumerate(zip(tracks, offsets))
             for tick, rank, seq, event in _keyed(track, offset)]
    keyed.sort()
    for tick, _, i, _, event in keyed:
        yield tick, i, event


def _elsewhere_message(path, wanted: str, elsewhere: Counter, option: str) -> str:
    """A file with no notes on the channel(s) `wanted` (1-16) and `elsewhere` {channel: notes}."""
    found = ", ".join(f"{c} ({n})" for c, n in sorted(elsewhere.items()))
    best = max(elsewhere, key=lambda c: (elsewhere[c], c == 10))
    return f"{path}: no notes on channel {wanted}; notes on channel {found}: use {option} {best}"


@dataclass(frozen=True)
class DrumNote:
    """One note-on: its time in file ticks (the file's ticks per beat), note 0-127, velocity 1-127."""
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
    # every time signature, (tick, numerator, denominator) in playing order (a meter change:
    # one that differs from the first)
    meters: list[tuple[int, int, int]] = field(default_factory=list)
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
    tpb = mid.division
    if mid.smpte:
        fps, per_frame = 256 - (tpb >> 8), tpb & 0xFF
        raise MidiFileError(f"{path}: timed in SMPTE frames ({fps} per second, {per_frame} ticks "
                            "per frame), not in beats; drumd reads files with a beat-based time "
                            "division (save it from your DAW with PPQ timing)")
    offsets, end = [], 0
    for track in mid.tracks:
        offsets.append(end if mid.format == 2 else 0)
        length = sum(e[0] for e in track)
        end = max(end, offsets[-1] + length) if mid.format != 2 else offsets[-1] + length
    if end * STEPS_PER_BEAT > MAX_STEPS * tpb:
        raise MidiFileError(f"{path}: {end * STEPS_PER_BEAT // tpb:,} 16th notes long (over {MAX_STEPS:,}, "
                            "about 3.5 hours at 120 BPM); drumd reads shorter drum files")
    note_on, cc = 0x90 | (channel - 1), 0xB0 | (channel - 1)
    notes, elsewhere, tempos, meter, cc4 = [], Counter(), [], None, None
    meters = []
    maps: dict[int, str] = {}  # track -> the first map it names
    map_name = None
    for tick, track, (_, status, a, b) in _playing_order(mid.tracks, offsets):
        if status == note_on:
            if b > 0:
                if not notes:
                    map_name = maps.get(track)
                notes.append(DrumNote(tick, a, b, cc4))
        elif status == cc:
            if a == 4:
                cc4 = b
        elif 0x90 <= status < 0xA0:
            if b > 0:
                elsewhere[status - 0x8F] += 1
        elif status == 0xFF:
            if a == 0x01:
                text = b.decode("latin-1")
                if text.startswith(MAP_TEXT):
                    maps.setdefault(track, text[len(MAP_TEXT):].strip())
            elif a == 0x51 and len(b) == 3:
                tempo = int.from_bytes(b, "big")
                if tempo > 0:  # a tempo of 0 microseconds per beat is no tempo: ignored
                    tempos.append((tick, tempo))
            elif a == 0x58 and len(b) >= 2:
                meters.append((tick, b[0], 2 ** min(b[1], 31)))
                meter = meter or meters[-1][1:]
    if not notes and elsewhere:
        raise MidiFileError(_elsewhere_message(path, str(channel), elsewhere, channel_option))
    if map_name is None and maps:
        map_name = next(iter(maps.values()))  # the first a track named, in playing order
    log.debug("%s: type %d, %d tracks, %d ticks per beat, %d notes on channel %d, %d elsewhere",
              path, mid.format, len(mid.tracks), tpb, len(notes), channel, sum(elsewhere.values()))
    return DrumNotes(path, channel, tpb, notes, end, tempos, meter or (4, 4), meters, map_name)


@dataclass
class RemapStats:
    """What remap_smf / remap_file did, added up over the files given the same instance."""
    files: int = 0
    notes: int = 0    # note-ons on the remapped channels
    dropped: int = 0  # of those, left out


class _ChannelState:
    """Per-channel memory across a file: last CC4, and the output note chosen for each
    sounding note so its note-off (and aftertouch) follow it even if CC4 moved since."""

    def __init__(self):
        self.cc4: dict[int, int] = {}
        self.sounding: defaultdict[tuple[int, int], deque[int]] = defaultdict(deque)


def _remap_note(status: int, note: int, velocity: int, tr: Translator, state: _ChannelState,
                stats: RemapStats) -> int | None:
    """The output note for a note on, off or aftertouch (None: drop the event)."""
    ch = status & 0x0F
    cc4 = state.cc4.get(ch)
    sounding = state.sounding[(ch, note)]
    kind = status & 0xF0
    if kind == 0x90 and velocity > 0:
        out = tr.note(note, cc4)
        stats.notes += 1
        if out is None:
            stats.dropped += 1
        sounding.append(DROP if out is None else out)
    elif kind == 0xA0:  # polyphonic aftertouch, e-drum cymbal chokes: the newest sounding note
        out = sounding[-1] if sounding else tr.table_for(cc4)[note]
    else:  # note-off: pairs with the oldest sounding note-on of that number
        out = sounding.popleft() if sounding else tr.table_for(cc4)[note]
    return None if out == DROP else out


def remap_smf(mid: Smf, tr: Translator, channels: Collection[int] | None = (9,),
              stats: RemapStats | None = None) -> Smf:
    """A copy of mid with the notes on `channels` (0-based; None: all) translated by tr."""
    stats = stats if stats is not None else RemapStats()
    chans = frozenset(range(16) if channels is None else channels)
    map_text = MAP_TEXT.encode("latin-1")
    # Tracks of type 0/1 files play together, so they share channel state and are walked
    # in time order; type 2 tracks are independent patterns.
    groups = ([[i] for i in range(len(mid.tracks))] if mid.format == 2
              else [list(range(len(mid.tracks)))])
    # per track: (tick, event), in the track's own order (the merge keeps each track's order)
    timed_out: list[list[tuple[int, smf.Event]]] = [[] for _ in mid.tracks]
    for group in groups:
        state = _ChannelState()
        for tick, j, event in _playing_order([mid.tracks[i] for i in group], [0] * len(group)):
            _, status, a, b = event
            if status < 0xF0 and status & 0x0F in chans:
                kind = status & 0xF0
                if kind == 0xB0 and a == 4:
                    state.cc4[status & 0x0F] = b
                elif kind < 0xB0:  # note on, off, aftertouch
                    note = _remap_note(status, a, b, tr, state, stats)
                    if note is None:
                        continue
                    event = (0, status, note, b)
            elif status == 0xFF and a == 0x01 and b.startswith(map_text):
                event = (0, status, a, map_text + tr.dst.name.encode("latin-1", "replace"))
            timed_out[group[j]].append((tick, event))
    tracks = []
    for events in timed_out:
        track, last = [], 0
        for tick, (_, status, a, b) in events:
            track.append((tick - last, status, a, b))  # a dropped note's time goes to the next
            last = tick
        tracks.append(track)
    return Smf(mid.format, mid.division, tracks)


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
    _save(path, lambda f: mid.save(file=f))


def save_bytes(data: bytes, path: str | Path) -> None:
    """Save a MIDI file's bytes (smf.encode: remap's output) at `path`, as save_midi does."""
    _save(path, lambda f: f.write(data))


def _save(path: str | Path, write) -> None:
    path = Path(path)
    try:
        with atomic_open(path) as f:
            write(f)
    except OutputPathError as e:
        raise MidiFileError(str(e)) from None
    except ValueError as e:  # mido refuses to write a message (nothing is written)
        raise MidiFileError(f"{path}: cannot write this as a MIDI file ({e})") from None
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
    out = remap_smf(mid, tr, channels, stats)
    if require_notes and channels is not None and stats.notes == notes_before:
        _no_notes_on(src, mid, channels)
    save_bytes(smf.encode(out), dst)
    stats.files += 1


def _no_notes_on(path: Path, mid: Smf, channels: Collection[int]) -> None:
    """Raise the read_drum_notes error if other channels than `channels` (0-based) have notes."""
    elsewhere = Counter((status & 0x0F) + 1 for t in mid.tracks for _, status, _, b in t
                        if 0x90 <= status < 0xA0 and b > 0 and status & 0x0F not in channels)
    if elsewhere:
        wanted = ", ".join(str(c + 1) for c in sorted(channels))
        raise MidiFileError(_elsewhere_message(path, wanted, elsewhere, "--channel"))
