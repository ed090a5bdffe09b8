"""A fresh user's nasty MIDI files (issue #13) through every command that reads MIDI: each is
read or refused in one line naming it, never a traceback; and the refusals found that way."""
import struct

import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main


def chunk(kind, body):
    return kind + struct.pack(">I", len(body)) + body


def smf(fmt, n, *tracks, division=480, extra=b""):
    return (b"MThd" + struct.pack(">IHHH", 6 + len(extra), fmt, n, division) + extra
            + b"".join(chunk(b"MTrk", t) for t in tracks))


END = b"\x00\xff\x2f\x00"
BEAT = b"".join(b"\x00\x99\x24\x64\x60\x89\x24\x00\x00\x99\x2a\x50\x60\x89\x2a\x00"
                for _ in range(8))
NASTY = {
    "empty": b"",
    "half": smf(0, 1, BEAT + END)[:40],
    "text": b"these are my drums\n",
    "running-status-first": smf(0, 1, b"\x00\x24\x64\x60\x24\x00" + END),
    "smpte": smf(0, 1, BEAT + END, division=0xE728),
    "type-2": smf(2, 2, BEAT + END, BEAT + END),
    "no-end-of-track": smf(0, 1, BEAT),
    "zero-length-notes": smf(0, 1, b"\x00\x99\x24\x64\x00\x99\x24\x00" * 4 + END),
    "huge-delta": smf(0, 1, b"\x8f\xff\xff\x7f\x99\x24\x64" + END),
    "bass-only": smf(0, 1, b"\x00\x90\x28\x64\x60\x80\x28\x00" + END),
    "tempo-0": smf(0, 1, b"\x00\xff\x51\x03\x00\x00\x00" + BEAT + END),
    "tempo-1us": smf(0, 1, b"\x00\xff\x51\x03\x00\x00\x01" + BEAT + END),
    "meter-0/4": smf(0, 1, b"\x00\xff\x58\x04\x00\x02\x18\x08" + BEAT + END),
    "meter-4/2^255": smf(0, 1, b"\x00\xff\x58\x04\x04\xff\x18\x08" + BEAT + END),
    "short-metas": smf(0, 1, b"\x00\xff\x58\x01\x04\x00\xff\x51\x01\x07" + BEAT + END),
    "1-tick-per-beat": smf(0, 1, b"\x00\x99\x24\x64\x01\x89\x24\x00" * 8 + END, division=1),
    "header-says-65535": smf(1, 65535, BEAT + END),
    "longer-header": smf(0, 1, BEAT + END, extra=b"\x00" * 10),
    "type-0-two-tracks": smf(0, 2, BEAT + END, BEAT + END),
    "latin-1-map-name": smf(0, 1, b"\x00\xff\x01\x0edrumd map: \xff\xfe\xfd" + BEAT + END),
    "real-time-bytes": smf(0, 1, b"\x00\xf8\x00\xfa" + BEAT + END),
    "chunk-length-huge": smf(0, 1)[:14] + b"MTrk\xff\xff\xff\xff" + BEAT,
    "unknown-chunk-only": smf(0, 1)[:14] + chunk(b"XFIH", b"abc"),
    "garbage-after": smf(0, 1, BEAT + END) + b"garbage" * 10,
}
COMMANDS = {
    "render": lambda f, d: ["render", str(f), str(d / "o.wav"), "--rate", "8000"],
    "audition": lambda f, d: ["audition", str(f)],  # refused before any audio device is opened
    "remap": lambda f, d: ["remap", str(f), str(d / "o.mid"), "--from", "gm", "--to", "ssd5"],
    "generate": lambda f, d: ["generate", str(d / "g.mid"), "--primer", str(f), "--bars", "1",
                              "--seed", "0", "--include-primer"],
}


def no_audio_device():
    from drumd.daemon.sound.audio import AudioError
    raise AudioError("no default audio output device (this test reads files, it plays nothing)")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_nasty_file_is_read_or_refused_in_one_line(tmp_path, command, monkeypatch):
    # audition reads the file, then opens the audio output. Not here: PortAudio set up in the
    # test process would join a test's JACK server and abort at exit, once that server is gone
    # (pa_jack.c's Terminate asserts). Playing is tested through JACK in test_audio_audition.
    monkeypatch.setattr("drumd.daemon.sound.audio.sounddevice", no_audio_device)
    runner = CliRunner()
    for name, data in NASTY.items():
        f = tmp_path / "nasty.mid"
        f.write_bytes(data)
        r = runner.invoke(main, COMMANDS[command](f, tmp_path))
        assert r.exception is None or isinstance(r.exception, SystemExit), (name, r.output)
        if command == "audition" and "audio" in r.output:
            continue  # read it, then found no audio device: its answer is that device's
        if r.exit_code != 0:
            lines = r.output.strip().splitlines()
            assert r.exit_code == 1 and lines == [lines[-1]] and str(f) in lines[0], (name, r.output)


def test_a_header_counting_more_tracks_than_the_file_holds_says_so(tmp_path):
    f = tmp_path / "short.mid"
    f.write_bytes(NASTY["header-says-65535"])
    r = CliRunner().invoke(main, ["render", str(f), str(tmp_path / "o.wav")])
    assert r.output == (f"Error: {f}: not a readable MIDI file: its header says 65535 tracks; "
                        "the file ends after 1 (truncated, or a wrong length in a chunk header)\n")


def test_a_primer_tempo_no_drummer_plays_asks_for_bpm(tmp_path):
    f = tmp_path / "fast.mid"
    f.write_bytes(NASTY["tempo-1us"])
    r = CliRunner().invoke(main, ["generate", str(tmp_path / "g.mid"), "--primer", str(f)])
    assert r.exit_code == 1 and r.output == (
        f"Error: {f}: its tempo is 6e+07 BPM; give the tempo to play at with --bpm (20-400)\n")
    r = CliRunner().invoke(main, ["generate", str(tmp_path / "g.mid"), "--primer", str(f),
                                  "--bpm", "100", "--bars", "1"])
    assert r.exit_code == 0 and "100 BPM" in r.output


def test_a_midi_file_given_as_serve_config_is_one_line(tmp_path):
    f = tmp_path / "beat.mid"
    f.write_bytes(NASTY["type-2"])
    r = CliRunner().invoke(main, ["serve", "--config", str(f)])
    assert r.exit_code == 1 and r.output == (
        f"Error: {f}: not UTF-8 text (invalid continuation byte at byte 13); expected YAML settings\n")


def test_a_setting_left_empty_in_the_serve_config_names_its_line(tmp_path):
    f = tmp_path / "drumd.yaml"
    f.write_text("style: rock\nunison:\n")
    r = CliRunner().invoke(main, ["serve", "--config", str(f)])
    assert r.exit_code == 1 and r.output == f"Error: {f}:2: unison: expected true or false, got None\n"


@pytest.mark.parametrize("rate", ["0", "-5", "1", "100000000"])
def test_render_refuses_a_sample_rate_it_cannot_play(tmp_path, rate):
    f = tmp_path / "beat.mid"
    f.write_bytes(NASTY["type-2"])
    r = CliRunner().invoke(main, ["render", str(f), str(tmp_path / "o.wav"), "--rate", rate])
    assert r.exit_code == 2 and "8000<=x<=192000" in r.output and r.exception is not None
    assert not (tmp_path / "o.wav").exists()
