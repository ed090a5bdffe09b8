"""A 2-minute soak of `drumd serve` at 300 BPM through JACK (bench/soak.py; longer runs by hand,
figures in docs/benchmarks.md): no stuck note, no late step, exit 0, memory flat."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import soak  # noqa: E402
from jackstack import judged  # noqa: E402

pytestmark = pytest.mark.jack


def test_two_minutes_at_300_bpm(jack, transport, drumd_checkpoint):
    # --bpm 300: the tempo guess before the first ticks is right, so a late step is a stall
    r = soak.run(jack, transport, minutes=2.0, checkpoint=drumd_checkpoint, extra=("--bpm", "300"))
    print(soak.report(r))
    assert r["exit_code"] == 0, r["daemon_output_tail"]
    assert r["note_ons"] > 1000  # it played throughout (about 2 hits a step)
    assert r["steps"] >= 2300  # 20 steps/s for 2 minutes
    assert r["rss_mb_per_min"] < 2.0  # a leak of a few kB per step would show here
    # a box too busy for JACK loses note-offs and steps ("drumd-soak": soak.run's client)
    with judged(jack, r["log_mark"], "drumd-soak"):
        assert r["stuck_notes"] == 0
        # Not zero on this shared 2-core box (5 of 2395 measured with the other core busy):
        # stalls of the engine thread; see docs/benchmarks.md. Over 0.5 % would be a regression.
        assert r["late_steps"] <= 0.005 * r["steps"], r
        assert r["step_ms_p99"] < 50 / 4  # a quarter of the 16th at 300 BPM
