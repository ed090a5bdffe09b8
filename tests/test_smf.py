"""mappings.smf, the parser under every command that reads MIDI: what mido reads it reads the
same, and what mido got wrong (more than 32,767 tracks, chunks it does not know, an event
running out of its track) it reads or refuses by name."""
import io
import struct

import mido
import pytest

from drumd.mappings.basics import smf
from drumd.mappings.basics.midifile import MidiFileError, read_drum_notes


def chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack(">I", len(body)) + body


def header(fmt, n, division=480):
    return chunk(b"MThd", struct.pack(">HHH", fmt, n, division))


KICK = b"\x00\x99\x24\x64\x60\x89\x24\x00"
END = b"\x00\xff\x2f\x00"


def test_encode_of_parse_is_what_mido_reads():
    t = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=400000),
                        mido.Message("sysex", data=[0x7E, 1, 2]),
                        mido.Message("program_change", channel=9, program=5),
                        mido.Message("pitchwheel", channel=0, pitch=-300, time=7),
                        mido.Message("control_change", channel=9, control=4, value=90, time=300),
                        mido.Message("note_on", channel=9, note=42, velocity=80),
                        mido.MetaMessage("text", text="drumd map: gm", time=2 ** 21),
                        mido.Message("aftertouch", channel=9, value=3),
                        mido.Message("polytouch", channel=9, note=49, value=127)])
    buf = io.BytesIO()
    mido.MidiFile(type=1, tracks=[t, t]).save(file=buf)
    again = mido.MidiFile(file=io.BytesIO(smf.encode(smf.parse(buf.getvalue()))))
    assert again.tracks == mido.MidiFile(file=io.BytesIO(buf.getvalue())).tracks


def test_more_than_32767_tracks_are_all_read(tmp_path):
    f = tmp_path / "many.mid"
    f.write_bytes(header(1, 40000) + chunk(b"MTrk", KICK + END) * 40000)
    assert len(read_drum_notes(f).notes) == 40000  # mido reads the count as signed: none


def test_unknown_chunks_are_skipped_and_running_status_carries_over_metas(tmp_path):
    f = tmp_path / "xf.mid"
    body = b"\x00\x99\x24\x64" + b"\x00\xff\x01\x01x" + b"\x60\x26\x64" + END  # 0x26: running
    f.write_bytes(header(1, 1) + chunk(b"XFIH", b"\x01\x02\x03") + chunk(b"MTrk", body))
    assert [(n.tick, n.note) for n in read_drum_notes(f).notes] == [(0, 36), (96, 38)]


@pytest.mark.parametrize("body,reason", [
    (b"\x8f\x8f\x8f\x8f\x0f\x99\x24\x64" + END, "longer than 4 bytes"),
    (b"\x00\x99\x24", "ends in the middle of a track"),  # the note runs out of its chunk
    (b"\x00\x99\x24\xe4" + END, r"data byte 0xE4 \(over 127\)"),
    (b"\x00\xf4" + END, "undefined status byte 0xF4"),
])
def test_a_damaged_track_is_refused_by_name(tmp_path, body, reason):
    f = tmp_path / "bad.mid"
    f.write_bytes(header(0, 1) + chunk(b"MTrk", body) + chunk(b"MTrk", KICK + END))
    with pytest.raises(MidiFileError, match=reason) as e:
        read_drum_notes(f)
    assert str(e.value).startswith(f"{f}: not a readable MIDI file: ")
