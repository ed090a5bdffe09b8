"""The daemon's whole per-step work against the 16th-note deadline at 300 BPM (50 ms).

    .venv/bin/python bench/step_bench.py [--checkpoint PATH] [--steps 3000] [--out-map NAME]

Times what the engine thread does for one step of `drumd serve`: the live controls, the
mode's model step (sampling), remapping to the output kit and handing the hits to the sender
(Session._emit: voicing + the sender's heap under its lock). A Session on fake ports runs
these; the sender thread is not started, its queue is emptied between steps, untimed.
bench/engine_bench.py times the sampler alone.
"""
from __future__ import annotations

import argparse
import os
import queue
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as drumd's CLI sets it

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from engine_bench import DEADLINE_US, percentiles  # noqa: E402

from drumd.daemon.cli import config  # noqa: E402
from drumd.daemon.play.modes import make_mode  # noqa: E402
from drumd.daemon.play.session import Session  # noqa: E402
from drumd.daemon.play.voicing import PlayerInput, Voicing  # noqa: E402
from drumd.engine.model.checkpoint import load_checkpoint  # noqa: E402
from drumd.engine.sampling.sampler import Sampler  # noqa: E402


class NullPort:
    def send(self, msg):
        pass

    def check(self):
        return None


def bench_daemon_step(checkpoint: str | None, steps: int, mode: str = "accompany",
                      out_map: str = "ezdrummer2") -> list[float]:
    """µs per step for `steps` steps after 200 warm-up steps."""
    torch.set_num_threads(1)
    settings = config.resolve(None, {"mode": mode, "out_map": out_map, "bpm": 300.0})
    ckpt = load_checkpoint(checkpoint)
    s = Session(settings, Sampler(ckpt, seed=0), NullPort(), NullPort(), queue.SimpleQueue(),
                Voicing(out_map, settings["channel"]), PlayerInput("gm"))
    m = make_mode(mode, settings["bars"], settings["silence_beats"])
    m.start(s.sampler, 0, s.controls.style, 300.0, ())
    out = []
    for k in range(steps + 200):
        t0 = time.perf_counter()
        step = m.step(s.sampler, k, s.controls.for_step(False), s.player)
        s._emit(k, step, internal=False)
        dt = time.perf_counter() - t0
        s.sender._grid.clear()
        if k >= 200:
            out.append(dt * 1e6)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--out-map", default="ezdrummer2")
    a = ap.parse_args()
    us = bench_daemon_step(a.checkpoint, a.steps, out_map=a.out_map)
    p50, p99, mx = percentiles(us)
    print(f"daemon step (controls + sample + remap to {a.out_map} + schedule), {len(us)} steps: "
          f"p50 {p50:.0f} µs, p99 {p99:.0f} µs, max {mx:.0f} µs; p99/deadline "
          f"{p99 / DEADLINE_US:.2%}, max/deadline {mx / DEADLINE_US:.2%} of {DEADLINE_US / 1000:.0f} ms")
    return 0 if p99 < DEADLINE_US else 1  # max is shown: on a shared box it catches preemption


if __name__ == "__main__":
    sys.exit(main())
