"""`drumd ports` without a JACK server: drumd's one line, none of libjack's own messages."""
import os
import subprocess
import sys

import pytest

rtmidi = pytest.importorskip("rtmidi")
if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
    pytest.skip("python-rtmidi without JACK", allow_module_level=True)

# A server name nobody runs; JACK_NO_START_SERVER: libjack must not start one either.
ENV = {**os.environ, "JACK_DEFAULT_SERVER": "drumd-no-such-server", "JACK_NO_START_SERVER": "1"}
LIBJACK_NOISE = ("Cannot connect", "jack server is not running", "JackShmReadWritePtr")


def drumd(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from drumd.daemon.cli import main; "
                           "sys.exit(main())", *args], env=ENV, capture_output=True, text=True,
                          timeout=60)


def test_ports_on_jack_without_a_server_is_one_line():
    done = drumd("ports", "--api", "jack")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: no JACK server is running: start one (jackd, or QjackCtl), or pass --api alsa"]
    assert done.stdout == ""


def test_ports_auto_without_a_server_has_no_libjack_messages():
    done = drumd("ports")  # ALSA where there is a sequencer, else drumd's "no MIDI system"
    out = done.stdout + done.stderr
    assert not any(s in out for s in LIBJACK_NOISE), out
    assert "Traceback" not in out


def test_libjack_messages_come_back_after_the_probe():
    """libjack_quiet silences only its block: serve's later JACK errors still reach stderr."""
    code = """
import rtmidi
from drumd.daemon.midi.jackgate import libjack_quiet
for quiet in (True, False):
    try:
        if quiet:
            with libjack_quiet():
                rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="probe")
        else:
            rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="probe")
    except rtmidi.RtMidiError:
        print("refused", flush=True)
"""
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.split() == ["refused", "refused"]
    assert "Cannot connect" in done.stderr  # from the second, unsilenced, attempt only
    assert done.stderr.count("Cannot connect to server socket") == 1, done.stderr


def test_serve_on_jack_without_a_server_is_one_line():
    done = drumd("serve", "--api", "jack")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: no JACK server is running: start one (jackd, or QjackCtl), or pass --api alsa"]


@pytest.mark.skipif(os.path.exists("/dev/snd/seq"), reason="this machine has an ALSA sequencer")
@pytest.mark.skipif(rtmidi.API_LINUX_ALSA not in rtmidi.get_compiled_api(), reason="no ALSA")
def test_ports_on_alsa_without_a_sequencer_is_one_line():
    done = drumd("ports", "--api", "alsa")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: no ALSA sequencer (/dev/snd/seq): load it (modprobe snd-seq), or pass --api jack"]
