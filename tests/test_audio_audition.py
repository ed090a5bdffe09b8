"""`drumd audition` on a JACK dummy device: a MIDI file, and a groove from the shipped model."""
import subprocess
import time

import click
import pytest

from audio_jack import PYTHON, audio_jack, write_midi  # noqa: F401 (fixture)

pytestmark = pytest.mark.jack

AUDITION = "from drumd.daemon.audio_cli import audition; audition()"


def audition(server, *args, timeout=60):
    t0 = time.monotonic()
    done = subprocess.run([PYTHON, "-c", AUDITION, *args], env=server.env, capture_output=True,
                          text=True, timeout=timeout)
    return done, time.monotonic() - t0


def test_audition_plays_a_midi_file(audio_jack, tmp_path):
    write_midi(tmp_path / "a.mid", [(i * 240, (36, 42, 38, 42)[i % 4], 100) for i in range(8)])
    done, took = audition(audio_jack, str(tmp_path / "a.mid"))
    assert done.returncode == 0, done.stderr
    # 8 eighths at 120 BPM last 2 s; then the last hit rings out (a snare: 0.4 s)
    assert 2.0 < took < 10.0


def test_audition_plays_a_generated_groove(audio_jack):
    done, took = audition(audio_jack, "--bars", "1", "--bpm", "160", "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert "generating 1 bars of rock at 160 BPM" in done.stdout
    assert took > 1.5  # a bar at 160 BPM


def test_groove_is_timed_in_steps_and_checks_its_style():
    from drumd.daemon.audio_cli import groove_hits

    hits = groove_hits("rock", 120.0, 2, seed=3)
    assert hits and all(0 <= t < 4.0 + 0.0625 for t, _, _ in hits)  # 2 bars of 2 s
    assert all(1 <= v <= 127 for _, _, v in hits)
    with pytest.raises(click.BadParameter, match="the model knows"):
        groove_hits("no-such-style", 120.0, 1, seed=3)
