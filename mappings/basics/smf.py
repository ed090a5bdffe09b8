"""Standard MIDI File bytes <-> events: the parser under mappings.midifile's reader and the
encoder under its remap.

Events are plain tuples, not an object each: a 1 MB file holds some 350,000 events, and mido
builds and checks a Message per event (2 s or more for such a file, most of a command's 5 s);
these tuples cost a fraction of that. Every event is `(delta, status, a, b)`:
  channel message (status 0x80-0xEF) and system message (0xF1-0xFE): a, b its data bytes (b is
      -1 for a one-byte message, both -1 for none);
  meta event: status 0xFF, a its type, b its data (bytes);
  sysex event: status 0xF0 or 0xF7, a -1, b its data as the file stores it (bytes).

Anything else is an SmfError whose text says what is wrong, for the caller to put after the
file's name. Lenient where the standard's intent is clear: running status carries over meta and
sysex events, chunks other than MTrk are skipped, a missing end of track is added on writing.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

Event = tuple[int, int, int, "int | bytes"]
TRUNCATED = ("it ends in the middle of a track (truncated, or a wrong length in a chunk "
             "header)")
RUNNING_AT_START = ("a track starts with running status (data bytes before any status byte), "
                    "which the MIDI file standard does not allow")
# data bytes after the status byte of system messages (0xF4, 0xF5, 0xF9, 0xFD: undefined)
_SYSTEM_LEN = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}
END_OF_TRACK = 0x2F


class SmfError(ValueError):
    """Why bytes are not a Standard MIDI File we can read (without the file's name)."""


@dataclass
class Smf:
    """A Standard MIDI File as parse() reads it: header fields and each track's events (the module's
    `(delta ticks, status, a, b)` tuples)."""
    format: int      # 0, 1 or 2
    division: int    # the header's 16 bits: ticks per beat, or with bit 15 set SMPTE timing
    tracks: list[list[Event]]

    @property
    def smpte(self) -> bool:
        """Whether the division is SMPTE timing (frames and ticks per frame), not ticks per beat."""
        return bool(self.division & 0x8000)


def header_problem(data: bytes) -> str | None:
    """Why `data` is not a Standard MIDI File, from its header alone (None: it may be one)."""
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
    size, fmt, n_tracks, division = struct.unpack(">IHHH", data[4:14])
    if size < 6:
        return f"a header chunk of {size} bytes (a MIDI file header has 6)"
    if fmt > 2:
        return f"MIDI file type {fmt} (the standard has types 0, 1 and 2)"
    if n_tracks == 0:
        return "its header says it has no tracks"
    if fmt == 0 and n_tracks != 1:
        return f"a type 0 file whose header says it has {n_tracks} tracks (type 0 has one)"
    if division == 0:
        return "0 ticks per quarter note in the header"
    return None


def parse(data: bytes) -> Smf:
    """The header and tracks of a Standard MIDI File. Raises SmfError."""
    problem = header_problem(data)
    if problem:
        raise SmfError(problem)
    size, fmt, n_tracks, division = struct.unpack(">IHHH", data[4:14])
    pos, tracks = 8 + size, []
    while len(tracks) < n_tracks:
        if pos + 8 > len(data):
            raise SmfError(f"its header says {n_tracks} track{'s' * (n_tracks != 1)}; the file "
                           f"ends after {len(tracks)} (truncated, or a wrong length in a chunk "
                           "header)" if pos >= len(data) else TRUNCATED)
        kind, length = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])[0]
        pos += 8
        if kind == b"MTrk":
            if pos + length > len(data):
                raise SmfError(TRUNCATED)
            tracks.append(_track(data, pos, pos + length))
        elif not kind.isalpha():  # not another chunk type (which the standard says to skip)
            raise SmfError("a track does not start with 'MTrk' (a damaged file, or a wrong "
                           "chunk length)")
        pos += length
    return Smf(fmt, division, tracks)


def _vlq(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A variable-length quantity at pos: (value, position after it); at most 4 bytes."""
    value = 0
    for i in range(4):
        if pos >= end:
            raise SmfError(TRUNCATED)
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
    raise SmfError("a delta time or length longer than 4 bytes (a damaged track)")


def _track(data: bytes, pos: int, end: int) -> list[Event]:
    # One pass over the bytes, no call per event but the rare variable-length ones: the hot
    # loop of every command that reads MIDI.
    events: list[Event] = []
    add = events.append
    running = 0
    while pos < end:
        byte = data[pos]
        pos += 1
        delta = byte & 0x7F
        if byte & 0x80:
            delta, pos = _vlq(data, pos - 1, end)
        if pos >= end:
            raise SmfError(TRUNCATED)
        status = data[pos]
        if status < 0x80:
            if not running:
                raise SmfError(RUNNING_AT_START)
            status = running
        else:
            pos += 1
        if status < 0xF0:
            running = status
            if 0xC0 <= status < 0xE0:  # program change, channel pressure: one data byte
                if pos >= end:
                    raise SmfError(TRUNCATED)
                a, b = data[pos], -1
                pos += 1
            else:
                if pos + 2 > end:
                    raise SmfError(TRUNCATED)
                a, b = data[pos], data[pos + 1]
                pos += 2
                if b > 0x7F:
                    raise SmfError(_bad_data(b, status))
            if a > 0x7F:
                raise SmfError(_bad_data(a, status))
            add((delta, status, a, b))
        elif status == 0xFF:
            if pos >= end:
                raise SmfError(TRUNCATED)
            kind = data[pos]
            length, pos = _vlq(data, pos + 1, end)
            if pos + length > end:
                raise SmfError(TRUNCATED)
            add((delta, 0xFF, kind, data[pos:pos + length]))
            pos += length
        elif status in (0xF0, 0xF7):
            length, pos = _vlq(data, pos, end)
            if pos + length > end:
                raise SmfError(TRUNCATED)
            add((delta, status, -1, data[pos:pos + length]))
            pos += length
        else:
            n = _SYSTEM_LEN.get(status)
            if n is None:
                raise SmfError(f"undefined status byte 0x{status:02X} in a track")
            if pos + n > end:
                raise SmfError(TRUNCATED)
            a = data[pos] if n > 0 else -1
            b = data[pos + 1] if n > 1 else -1
            pos += n
            add((delta, status, a, b))
    return events


def _bad_data(byte: int, status: int) -> str:
    return (f"a data byte 0x{byte:02X} (over 127) in a message of status 0x{status:02X} "
            "(a damaged track)")


def _vlq_bytes(n: int) -> bytes:
    out = bytearray([n & 0x7F])
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def encode(smf: Smf) -> bytes:
    """The file's bytes: every status byte written out (no running status), every track
    ending with an end of track (added after its last event if it had none)."""
    out = bytearray(b"MThd" + struct.pack(">IHHH", 6, smf.format, len(smf.tracks), smf.division))
    for track in smf.tracks:
        body = bytearray()
        put = body.extend
        for delta, status, a, b in track:
            put(_vlq_bytes(delta) if delta > 0x7F else bytes((delta,)))
            if status == 0xFF:
                put(bytes((0xFF, a)) + _vlq_bytes(len(b)) + b)
            elif status in (0xF0, 0xF7):
                put(bytes((status,)) + _vlq_bytes(len(b)) + b)
            elif b >= 0:
                put(bytes((status, a, b)))
            elif a >= 0:
                put(bytes((status, a)))
            else:
                put(bytes((status,)))
        if not track or track[-1][1] != 0xFF or track[-1][2] != END_OF_TRACK:
            put(b"\x00\xff\x2f\x00")
        out += b"MTrk" + struct.pack(">I", len(body)) + body
    return bytes(out)
