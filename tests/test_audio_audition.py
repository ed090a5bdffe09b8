"""`drumd audition` on a JACK dummy device: a MIDI file, and a groove from the shipped model."""
import subprocess
import time

import click
import numpy as np
import pytest

from audio_jack import PYTHON, RECORDER, SR, audio_jack, read_json, stop, write_midi  # noqa: F401 (fixture)
from jackstack import judged

pytestmark = pytest.mark.jack

AUDITION = "from drumd.daemon.cli.audio import audition; audition()"


def audition(server, *args, timeout=60):
    t0 = time.monotonic()
    done = subprocess.run([PYTHON, "-c", AUDITION, *args], env=server.env, capture_output=True,
                          text=True, timeout=timeout)
    return done, time.monotonic() - t0


def jack_ports(server) -> list[str]:
    return subprocess.run(["jack_lsp"], env=server.env, capture_output=True, text=True).stdout.split()


def test_audition_plays_a_midi_file(audio_jack, tmp_path):
    """What audition plays is heard: its JACK output recorded, a sound at each hit's time."""
    # a second of silence first: time to connect the recorder once audition's port appears
    hits = [(960 + i * 240, (36, 42, 38, 42)[i % 4], 100) for i in range(8)]
    write_midi(tmp_path / "a.mid", hits)
    mark = audio_jack.log_mark()
    rec = audio_jack.spawn(RECORDER.replace("sys.argv[1]", repr(str(tmp_path / "rec.npz"))))
    proc = None
    try:
        read_json(rec)
        before = set(jack_ports(audio_jack))
        t0 = time.monotonic()
        proc = subprocess.Popen([PYTHON, "-c", AUDITION, str(tmp_path / "a.mid")], env=audio_jack.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        port = None
        while port is None and time.monotonic() - t0 < 15 and proc.poll() is None:
            new = [p for p in jack_ports(audio_jack) if p not in before and p.endswith(":out_0")]
            port = new[0] if new else None
            time.sleep(0.02)
        assert port, "audition opened no JACK output"
        audio_jack.connect(port, "recorder:in_0")
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - t0
        rec.stdin.write("stop\n")
        rec.stdin.flush()
        read_json(rec)
    finally:
        stop(rec)
        if proc is not None and proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    # 1 s of silence, 8 eighths at 120 BPM (2 s), then the last hit rings out (a snare: 0.4 s)
    assert 3.0 < took < 12.0
    audio = np.load(tmp_path / "rec.npz")["audio"]
    onsets = rising_onsets(audio)
    # every hit heard, a quarter of a second apart (the recorder's start is not the file's, so
    # the spacing is what is checked); a dropped or doubled hit changes the count
    assert np.abs(audio).max() > 0.05  # at a playing level, not a whisper
    # an xrun of the dummy driver drops or repeats a period (drumd's client: audition's)
    with judged(audio_jack, mark, {port.split(":")[0]}):
        assert len(onsets) == len(hits), np.round(onsets, 3)
        assert np.allclose(np.diff(onsets), 0.25, atol=0.02), np.round(np.diff(onsets), 3)


def rising_onsets(x, frame_s=0.005, rise=1.5, floor=0.01, apart_s=0.08):
    """Times (s) where the RMS envelope (frames of frame_s) rises above `floor` and to more than
    `rise` times its value two frames before: a new hit, even over the last one's ring."""
    fr = int(frame_s * SR)
    n = len(x) // fr
    env = np.sqrt((np.asarray(x[:n * fr], np.float64).reshape(n, fr) ** 2).mean(1))
    up = np.flatnonzero((env[2:] > floor) & (env[2:] > rise * env[:-2])) + 2
    keep = up[np.concatenate([[True], np.diff(up) * frame_s > apart_s])] if len(up) else up
    return keep * frame_s


def test_audition_plays_a_generated_groove(audio_jack):
    done, took = audition(audio_jack, "--bars", "1", "--bpm", "160", "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert "generating 1 bars of rock at 160 BPM" in done.stdout
    assert took > 1.5  # a bar at 160 BPM


def test_groove_is_timed_in_steps_and_checks_its_style():
    from drumd.daemon.cli.audio import groove_hits

    hits = groove_hits("rock", 120.0, 2, seed=3)
    assert hits and all(0 <= t < 4.0 + 0.0625 for t, _, _ in hits)  # 2 bars of 2 s
    assert all(1 <= v <= 127 for _, _, v in hits)
    with pytest.raises(click.BadParameter, match="the model knows"):
        groove_hits("no-such-style", 120.0, 1, seed=3)
