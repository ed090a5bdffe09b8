"""Audio test plumbing: a JACK dummy server as the PortAudio device, and a synthetic guitar.

PortAudio connects to the JACK server named in JACK_DEFAULT_SERVER when sounddevice is
imported, so everything that opens a stream runs in a subprocess started with `AudioJack.env`.
The MIDI JACK fixture lives in conftest.py (the daemon's); this one is separate so the two
servers never share a name.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido
import numpy as np
import pytest

from jackstack import log_mark, lost_cycles

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SR = 48000
PERIOD = 256
TPB = 480  # ticks per beat of the test MIDI files


class AudioJack:
    """A running `jackd -d dummy` server and helpers to run audio scripts against it.

    Server names come from a small fixed set: JACK never frees the registry slot of a server
    that died without cleaning up (after a SIGKILL, say) unless a server of the same name
    starts again, and with eight slots per machine fresh names would use them all up.
    """

    NAMES = [f"drumd-audio-test-{i}" for i in range(4)]  # more than one: runs may overlap

    def __init__(self):
        why = "another run's server has this name"
        for name in self.NAMES:
            self.env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1"}
            if self._jack_wait("-c").stdout.strip() == b"running":
                continue  # another run's server has this name
            self.log = tempfile.TemporaryFile()  # a file, not a pipe: jackd never blocks on it
            self.proc = subprocess.Popen(
                ["jackd", "-n", name, "-R", "-d", "dummy", "-r", str(SR), "-p", str(PERIOD)],
                stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
            try:
                self.proc.wait(0.5)  # lost a race for the name (or no slot left): gave up
                self.log.seek(0)
                why = self.log.read().decode()[-300:]
                self.log.close()
                continue
            except subprocess.TimeoutExpired:
                pass
            if self._jack_wait("-w", "-t", "5").returncode == 0 and self.proc.poll() is None:
                self.name = name
                return
            self.log.seek(0)
            why = self.log.read().decode()[-500:]
            self.close()
            pytest.fail(f"jackd did not start: {why}")
        pytest.fail(f"no JACK test server could start as any of {self.NAMES}; jackd said: {why}"
                    " ('Too many servers': dead servers hold all 8 slots of /dev/shm/"
                    "jack-shm-registry; starting and stopping a server of each stale name frees them)")

    def log_mark(self) -> int:
        return log_mark(self.log)

    def lost_cycles_since(self, mark: int) -> list[str]:
        return lost_cycles(self.log, mark)

    def _jack_wait(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run(["jack_wait", *args], env=self.env, capture_output=True)

    def connect(self, src: str, dst: str) -> None:
        subprocess.run(["jack_connect", src, dst], env=self.env, check=True)

    def disconnect(self, src: str, dst: str) -> None:
        subprocess.run(["jack_disconnect", src, dst], env=self.env, check=True)

    def spawn(self, code: str) -> subprocess.Popen:
        return spawn_script(self.env, code)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)  # let it unregister: a killed server leaves a stale slot
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def spawn_script(env: dict, code: str) -> subprocess.Popen:
    """Start `python -c code` with `env` (its JACK server); it talks JSON lines on stdin/stdout."""
    env = {**env, "PYTHONPATH": f"{ROOT / 'tests'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([PYTHON, "-c", code], env=env, text=True, bufsize=1,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read_json(proc: subprocess.Popen, timeout: float = 20.0) -> dict:
    """The next JSON line a script prints (fails with its stderr if it died first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("{"):
            return json.loads(line)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"audio script gave no result: {proc.stderr.read()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    """End a script: EOF on stdin first, so it closes its JACK client; kill only if it hangs."""
    try:
        proc.stdin.close()
        proc.wait(5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    proc.stdout.close()
    proc.stderr.close()


@pytest.fixture(scope="module")
def audio_jack():
    if not shutil.which("jackd"):
        pytest.skip("jackd is not installed (scripts/install test installs it)")
    server = AudioJack()
    try:
        yield server
    finally:
        server.close()


# --- scripts: a recorder with JACK's timing, a guitar player ----------------------------------

# Records its input (JACK client "recorder", in_0) until a line on stdin, then saves (to the
# path put in for sys.argv[1]) the audio, the perf_counter time of each block's first sample
# (from JACK's own frame clock), the block sizes, and each block's JACK frame and perf_counter
# time of its callback (to tell when the dummy driver fell behind the wall clock).
RECORDER = r"""
import ctypes, json, sys, time
import numpy as np
import sounddevice as sd
from drumd.daemon.sound.audio import set_jack_client_name

jack = ctypes.CDLL("libjack.so.0")
jack.jack_client_open.restype = ctypes.c_void_p
jack.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
jack.jack_last_frame_time.argtypes = [ctypes.c_void_p]
jack.jack_last_frame_time.restype = ctypes.c_uint32
jack.jack_frames_to_time.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
jack.jack_frames_to_time.restype = ctypes.c_uint64
jack.jack_get_time.restype = ctypes.c_uint64
clock = jack.jack_client_open(b"recorder-clock", 1, None)  # JackNoStartServer; never activated
# libjack's microseconds against perf_counter, read back to back (both are monotonic clocks)
offset = min((lambda a, j, b: j / 1e6 - (a + b) / 2)(time.perf_counter(), jack.jack_get_time(),
             time.perf_counter()) for _ in range(20))

blocks, starts, cycles, walls = [], [], [], []
def callback(indata, frames, t, status):
    walls.append(time.perf_counter())
    f = jack.jack_last_frame_time(clock)  # first frame of this JACK cycle: these samples
    cycles.append(f)
    starts.append(jack.jack_frames_to_time(clock, f) / 1e6 - offset)
    blocks.append(indata[:, 0].copy())

set_jack_client_name("recorder")
with sd.InputStream(channels=1, blocksize=0, callback=callback, dtype="float32"):
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
np.savez(sys.argv[1], audio=np.concatenate(blocks), starts=np.array(starts),
         sizes=np.array([len(b) for b in blocks]), cycles=np.array(cycles), walls=np.array(walls))
print(json.dumps({"saved": True}), flush=True)
"""

# Plays guitar_phrases(phrases, bpm, seconds) as JACK client "guitar" (out_0) on "go";
# prints the perf_counter time its first sample entered the graph.
GUITAR_PLAYER = r"""
import json, sys, time
import numpy as np
import sounddevice as sd
from audio_jack import guitar_phrases
from drumd.daemon.sound.audio import set_jack_client_name

x, _ = guitar_phrases(%(phrases)r, %(bpm)r, %(seconds)r)
pos, start = [None], [None]
def callback(out, frames, t, status):
    out.fill(0)
    if pos[0] is None:
        return
    if start[0] is None:  # this cycle carries the first sample to the follower's input
        start[0] = time.perf_counter()
    chunk = x[pos[0]:pos[0] + frames]
    out[:len(chunk), 0] = chunk
    pos[0] += frames

set_jack_client_name("guitar")
with sd.OutputStream(channels=1, samplerate=48000, blocksize=0, callback=callback, dtype="float32"):
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    pos[0] = 0
    while pos[0] < len(x):
        time.sleep(0.05)
print(json.dumps({"start": start[0]}), flush=True)
"""


# --- a synthetic guitar ----------------------------------------------------------------------

def pluck(freq: float, seconds: float, sr: int = SR, t60: float = 1.2,
          rng: np.random.Generator | None = None) -> np.ndarray:
    """One Karplus-Strong plucked string, peak about 1."""
    rng = rng or np.random.default_rng(0)
    p = int(round(sr / freq))
    n = int(sr * seconds)
    rho = 10 ** (-3 / (freq * t60))  # loss per period for the given T60
    y = np.zeros(n + p + 1)
    y[:p + 1] = rng.uniform(-1, 1, p + 1)
    # Each period depends only on the one before, so compute a period at a time.
    for i in range(p + 1, n + p + 1, p):
        j = min(i + p, n + p + 1)
        y[i:j] = rho * 0.5 * (y[i - p:j - p] + y[i - p - 1:j - p - 1])
    y = y[p + 1:]
    return y / np.max(np.abs(y))


def guitar_phrases(phrases, bpm: float, seconds: float, sr: int = SR, seed: int = 0):
    """A monophonic guitar line: `phrases` = [(start_beat, beats, amplitude)], 8th notes with
    the beats accented and a few 8ths left out, each note cutting the previous one.

    Returns (signal float32, onset times in seconds).
    """
    rng = np.random.default_rng(seed)
    notes = (196.0, 246.9, 293.7, 329.6, 392.0, 440.0)
    x = np.zeros(int(sr * seconds))
    onsets = []
    eighth = 30.0 / bpm
    for start, beats, amp in phrases:
        times = [(start * 2 + k) * eighth for k in range(int(beats * 2))
                 if k % 2 == 0 or rng.random() < 0.6]
        times.append((start + beats) * 2 * eighth)  # end of phrase: the last note rings out
        for a, b in zip(times[:-1], times[1:]):
            gain = amp * (1.0 if round(a / eighth) % 2 == 0 else 0.6)
            length = (b - a) if b != times[-1] else 2.5
            s = pluck(rng.choice(notes), length, sr, rng=rng) * gain
            i = int(round(a * sr))
            s = s[:len(x) - i]
            fade = min(len(s), int(0.003 * sr))  # the next pluck damps this note quickly
            s[len(s) - fade:] *= np.linspace(1, 0, fade)
            x[i:i + len(s)] += s
            onsets.append(a)
    return x.astype(np.float32), np.array(onsets)


# A one-bar riff, {16th: amplitude}: syncopated accents (0.8) on 1, the a of 1, the a of 2, the
# and of 3 and the e of 4 (few of them where a rock groove has its kicks), ghost notes (0.3) between
RIFF = {0: 0.8, 2: 0.3, 3: 0.8, 5: 0.3, 7: 0.8, 8: 0.3, 10: 0.8, 12: 0.3, 13: 0.8}
# Figures played at one loudness (each note at ONE): {name: (their 16ths, the 16ths their rhythm
# accents)}, riff lock's reading (daemon/play/follow.py, FIGURE_NOTES)
ONE = 0.6
ONE_LOUDNESS = {
    "stabs": ((0, 6, 10), {0, 6, 10}),                  # sparse: every note
    "3-3-2": ((0, 3, 6, 8, 11, 14), {0, 3, 6, 8, 11, 14}),
    "chug": ((0, 1, 2, 4, 5, 6, 8, 9, 10, 12), {0, 4, 8, 12}),  # busier: where a group starts
    "even 8ths": (tuple(range(0, 16, 2)), set()),       # an even strum: none
    "quarters": ((0, 4, 8, 12), set()),
}


def guitar_riff(riff, bpm: float, bars: int, sr: int = SR, seed: int = 0, tail: float = 1.0):
    """A one-bar riff (`riff` = {16th of the bar: amplitude}) played `bars` times from t = 0 on
    low strings, each note cutting the previous one; `tail` s of its last note ringing out.

    Returns (signal float32, [(onset time s, amplitude)])."""
    rng = np.random.default_rng(seed)
    notes = (82.4, 110.0, 146.8, 196.0)
    step = 15.0 / bpm
    x = np.zeros(int(sr * (bars * 16 * step + tail)))
    starts = [(b * 16 + s, amp) for b in range(bars) for s, amp in sorted(riff.items())]
    played = []
    for j, (s, amp) in enumerate(starts):
        a = s * step
        b = starts[j + 1][0] * step if j + 1 < len(starts) else a + tail
        y = pluck(notes[j % len(notes)], b - a, sr, rng=rng) * amp
        i = int(round(a * sr))
        y = y[:len(x) - i]
        fade = min(len(y), int(0.003 * sr))  # the next pluck damps this note quickly
        y[len(y) - fade:] *= np.linspace(1, 0, fade)
        x[i:i + len(y)] += y
        played.append((a, amp))
    return x.astype(np.float32), played


# --- MIDI files -------------------------------------------------------------------------------

def write_midi(path, notes, tempo_changes=((0, 120.0),), channel=9, cc=()):
    """notes: (tick, pitch, velocity); tempo_changes: (tick, bpm); cc: (tick, control, value)."""
    events = [(t, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(b))) for t, b in tempo_changes]
    events += [(t, 1, mido.Message("control_change", channel=channel, control=c, value=v))
               for t, c, v in cc]
    for t, p, v in notes:
        events.append((t, 2, mido.Message("note_on", channel=channel, note=p, velocity=v)))
        events.append((t + 60, 0, mido.Message("note_off", channel=channel, note=p)))
    events.sort(key=lambda e: (e[0], e[1]))
    track, now = mido.MidiTrack(), 0
    for t, _, msg in events:
        track.append(msg.copy(time=t - now))
        now = t
    mf = mido.MidiFile(ticks_per_beat=TPB)
    mf.tracks.append(track)
    mf.save(path)
