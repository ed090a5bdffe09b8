"""The guitar's capture process (daemon/sound/capture.py) and Ctrl-C.

Ctrl-C in drumd's terminal sends SIGINT to the whole process group, the capture child included:
the child ignores it (drumd shuts the capture down by closing its stdin) and never prints a
KeyboardInterrupt traceback. Tested with the audio part stubbed (a fake sounddevice whose input
stream calls back from a thread), and once on a JACK dummy server through the real PortAudio.
"""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from audio_jack import audio_jack  # noqa: F401 (fixture)

OPTS = json.dumps({"device": None, "channel": 0, "samplerate": None, "blocksize": 256,
                   "client": None})

# A sounddevice whose InputStream calls back with silence every 5 ms from a thread.
FAKE_SOUNDDEVICE = r"""
import sys, threading, time, types
import numpy as np

class InputStream:
    samplerate = 48000.0
    def __init__(self, callback, channels, blocksize, **kw):
        self._cb, self._shape, self._run = callback, (blocksize, channels), threading.Event()
    def start(self):
        self._run.set()
        threading.Thread(target=self._loop, daemon=True).start()
    def _loop(self):
        while self._run.is_set():
            self._cb(np.zeros(self._shape, np.float32), self._shape[0], None, None)
            time.sleep(0.005)
    def stop(self):
        self._run.clear()
    def close(self):
        self._run.clear()

sys.modules["sounddevice"] = types.SimpleNamespace(
    InputStream=InputStream, PortAudioError=type("PortAudioError", (Exception,), {}))
from drumd.daemon.sound.capture import main
sys.exit(main(sys.argv[1:]))
"""


def start_capture(argv: list[str], env=None) -> subprocess.Popen:
    """The capture child as GuitarFollower starts it, in a process group of its own here so the
    test can send SIGINT to the group the way a terminal's Ctrl-C does."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    header = json.loads(proc.stdout.readline() or b"{}")
    assert "samplerate" in header, (header, proc.stderr.read().decode()[-2000:])
    proc.stdin.write(b"start\n")
    proc.stdin.flush()
    return proc


def interrupt_then_close(proc: subprocess.Popen) -> tuple[int, str, bytes]:
    """SIGINT to the child's process group while it captures; then drumd's shutdown (stdin
    closed). Returns (exit code, stderr, the samples it sent)."""
    first = proc.stdout.read1(4096)  # capturing
    assert first
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.3)
    assert proc.poll() is None, "the capture child died of Ctrl-C; drumd stops it itself"
    more = proc.stdout.read1(4096)  # still capturing
    proc.stdin.close()
    rest = proc.stdout.read()
    rc = proc.wait(10)
    err = proc.stderr.read().decode()
    return rc, err, first + more + rest


def test_ctrl_c_leaves_the_capture_child_quiet():
    rc, err, data = interrupt_then_close(
        start_capture([sys.executable, "-c", FAKE_SOUNDDEVICE, OPTS]))
    assert rc == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err == ""
    assert len(data) % 4 == 0 and not np.frombuffer(data, np.float32).any()


@pytest.mark.jack
def test_ctrl_c_leaves_the_capture_child_quiet_on_jack(audio_jack):
    opts = json.dumps({"device": None, "channel": 0, "samplerate": None, "blocksize": 256,
                       "client": "drumd-guitar-sigint"})
    rc, err, data = interrupt_then_close(
        start_capture([sys.executable, "-m", "drumd.daemon.sound.capture", opts], env=audio_jack.env))
    assert rc == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert len(data) % 4 == 0 and len(data) > 0
