"""All of issue #8's figures from one run: daemon step time, end-to-end timing through JACK,
stuck notes, late steps and RSS (a soak), training throughput.

    .venv/bin/python bench/run_all.py [--soak-minutes 2] [--checkpoint PATH]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import soak  # noqa: E402
from engine_bench import DEADLINE_US, bench_training, percentiles  # noqa: E402
from jackstack import JackServer, Transport  # noqa: E402  (tests/ is on the path via soak)
from step_bench import bench_daemon_step  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--soak-minutes", type=float, default=2.0)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--checkpoint")
    a = ap.parse_args()
    p50, p99, mx = percentiles(bench_daemon_step(a.checkpoint, a.steps))
    print(f"daemon step p50/p99/max {p50 / 1000:.2f}/{p99 / 1000:.2f}/{mx / 1000:.2f} ms; "
          f"p99 {p99 / DEADLINE_US:.2%}, max {mx / DEADLINE_US:.2%} of the {DEADLINE_US / 1000:.0f} ms 16th at 300 BPM")
    jack = JackServer()
    try:  # the model's step runs inside drumd here, beside JACK and the clock
        r = soak.run(jack, Transport(jack), a.soak_minutes, a.checkpoint, extra=("--bpm", "300"))
    finally:
        jack.close()
    print(soak.report(r))
    print(f"training throughput: {bench_training():,.0f} steps/s (engine_bench.bench_training)")
    return 0 if r["stuck_notes"] == 0 and r["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
