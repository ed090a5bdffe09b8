"""Audio without PortAudio or without a device: one line naming what is missing, never a traceback.

"No PortAudio" is simulated in a subprocess: ctypes.util.find_library finds no "portaudio", so
sounddevice's import raises its own OSError("PortAudio library not found"), as on a machine
without libportaudio2. The machine running the tests has no audio device unless a JACK server is
named in JACK_DEFAULT_SERVER (the jack tests do that in their own subprocesses), so the
no-device cases use names and numbers no machine has.
"""
import json
import os
import subprocess
import sys

import mido
import pytest

NO_PORTAUDIO = """
import ctypes.util, sys
_find = ctypes.util.find_library
ctypes.util.find_library = lambda name: None if "portaudio" in name else _find(name)
"""
CLI = "import sys; from drumd.daemon.cli import main; sys.exit(main())"
ENV = {**os.environ, "JACK_NO_START_SERVER": "1"}


def run(code: str, *args, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def beat(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "beat.mid"
    f = mido.MidiFile()
    f.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=9, note=36, velocity=100),
                                    mido.Message("note_off", channel=9, note=36, time=240)]))
    f.save(path)
    return str(path)


def test_devices_without_portaudio_names_the_package():
    done = run(NO_PORTAUDIO + CLI, "devices")
    one_line_error(done, "PortAudio", "apt-get install libportaudio2")


def test_audition_without_portaudio_names_the_package(beat):
    done = run(NO_PORTAUDIO + CLI, "audition", beat)
    one_line_error(done, "PortAudio", "apt-get install libportaudio2")


def test_audition_of_a_groove_without_portaudio_says_so_before_loading_the_model():
    done = run(NO_PORTAUDIO + CLI, "audition", "--bars", "1")
    one_line_error(done, "apt-get install libportaudio2")
    assert "generating" not in done.stdout


def test_serve_audio_without_portaudio_is_one_line():
    """serve --synth / --audio-in open their audio through _open_audio."""
    code = NO_PORTAUDIO + """
import click
from drumd.daemon.cli.serve import _open_audio
for synth, audio_in in ((True, None), (False, "default")):
    try:
        _open_audio({"synth": synth, "synth_device": None, "audio_in": audio_in,
                     "audio_channel": 1, "guitar_silence_bars": 1.0, "client": "drumd"})
    except click.ClickException as e:
        print(e.message)
"""
    done = run(code)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and all("apt-get install libportaudio2" in s for s in lines), lines


def test_capture_child_without_portaudio_reports_it():
    """The guitar's capture process answers its one JSON line, as for a missing device."""
    opts = json.dumps({"device": None, "channel": 0, "samplerate": None, "blocksize": 256,
                       "client": None})
    done = run(NO_PORTAUDIO + "from drumd.daemon.sound.capture import main; sys.exit(main(sys.argv[1:]))",
               opts)
    assert done.returncode == 1 and done.stderr == "", done.stderr
    assert "apt-get install libportaudio2" in json.loads(done.stdout)["error"]


@pytest.mark.parametrize("device, words", [("no-such-output", ["no-such-output"]),
                                           ("97", ["no audio output device 97"])])
def test_audition_on_a_missing_device_names_it(beat, device, words):
    done = run(CLI, "audition", beat, "--device", device)
    one_line_error(done, *words, "drumd devices")
