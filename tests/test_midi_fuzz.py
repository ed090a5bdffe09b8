"""A fuzz test of MIDI files (issue #13): mutated small drum files (bytes flipped, cut, inserted)
and random bytes, through the shared reader and through `render`, `generate --primer` and
`remap`: nothing but the clean error escapes, each answer is quick, and a refused file is one
line naming it with a non-zero exit."""
import io
import time

import mido
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drumd.daemon.cli import main as drumd
from drumd.engine.data.gmd import DataError
from drumd.engine.data.stepfiles import read_primer
from drumd.mappings import Translator
from drumd.mappings.basics.midifile import MidiFileError, read_drum_notes, remap_file

TPB = 480
STEP = TPB // 4


def _bytes(mid: mido.MidiFile) -> bytes:
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def _seeds() -> list[bytes]:
    """Small valid files of the kinds people post: a beat on channel 10 with a tempo, a meter
    and hi-hat pedal CCs; a type 1 file with a bass line on channel 1; a type 2 file."""
    beat = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(96)),
                           mido.MetaMessage("time_signature", numerator=4, denominator=4)])
    for i in range(16):
        beat.append(mido.Message("control_change", channel=9, control=4, value=127 if i % 4 else 0))
        beat.append(mido.Message("note_on", channel=9, note=(36, 42, 38, 46)[i % 4], velocity=90))
        beat.append(mido.Message("note_off", channel=9, note=(36, 42, 38, 46)[i % 4], time=STEP))
    bass = mido.MidiTrack([mido.Message("note_on", channel=0, note=40, velocity=80),
                           mido.Message("note_off", channel=0, note=40, time=TPB),
                           mido.Message("sysex", data=[0x7E, 1, 2]),
                           mido.MetaMessage("text", text="bass", time=3)])
    return [_bytes(mido.MidiFile(type=0, ticks_per_beat=TPB, tracks=[beat])),
            _bytes(mido.MidiFile(type=1, ticks_per_beat=TPB, tracks=[beat, bass])),
            _bytes(mido.MidiFile(type=2, ticks_per_beat=96, tracks=[bass, beat]))]


SEEDS = _seeds()


@st.composite
def files(draw) -> bytes:
    """A mutated seed file, or random bytes (half of those behind a MIDI header)."""
    if draw(st.integers(0, 4)) == 0:
        head = draw(st.sampled_from([b"", b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk"]))
        return head + draw(st.binary(max_size=120))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "cut", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0x90, 0xB9, 0xF0, 0xF7]))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "cut":
            del data[at:]
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 8))]
    return bytes(data)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=400, deadline=2000, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=files())
def test_the_reader_answers_every_file_with_hits_or_its_error(folder, data):
    f = folder / "fuzz.mid"
    f.write_bytes(data)
    t0 = time.perf_counter()
    try:
        notes = read_drum_notes(f)
        assert all(0 <= n.tick and 0 <= n.note < 128 for n in notes.notes)
    except MidiFileError as e:
        assert str(e).startswith(f"{f}: ") and "\n" not in str(e)
    try:
        read_primer(f)
    except DataError as e:
        assert str(e).startswith(f"{f}: ") and "\n" not in str(e)
    try:
        remap_file(f, folder / "out.mid", Translator("gm", "ezdrummer2"))
    except MidiFileError as e:
        assert str(e).startswith(f"{f}: ") and "\n" not in str(e)
    assert time.perf_counter() - t0 < 2


COMMANDS = {
    "render": lambda f, out: ["render", str(f), str(out / "x.wav"), "--rate", "8000"],
    "generate": lambda f, out: ["generate", str(out / "x.mid"), "--primer", str(f), "--bars", "1",
                                "--seed", "1"],
    "remap": lambda f, out: ["remap", str(f), str(out / "y.mid"), "--from", "gm", "--to", "ssd5"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_answer_every_file_in_one_line(folder, command):
    runner = CliRunner()

    @settings(max_examples=40, deadline=5000, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(data=files())
    def check(data):
        f = folder / f"cli-{command}.mid"
        f.write_bytes(data)
        r = runner.invoke(drumd, COMMANDS[command](f, folder))
        assert r.exception is None or isinstance(r.exception, SystemExit), r.output
        if r.exit_code != 0:
            lines = r.output.strip().splitlines()
            assert r.exit_code == 1 and len(lines) == 1 and str(f) in lines[0], r.output
    check()
