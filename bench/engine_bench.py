"""Engine benchmark: per-step latency of the step API and training throughput.

    .venv/bin/python bench/engine_bench.py [--checkpoint PATH] [--steps 5000]

Prints p50/p99/max per step (µs) for the shipped sampler (numpy, one thread, batch 1,
sampling included) next to torch eager on the same weights, and both against the 16th-note
deadline at 300 BPM (50 ms). All figures come from this one run.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # batch-1 matvecs: threads only add wake-ups

import numpy as np
import torch

from drumd.engine.model.checkpoint import load_checkpoint
from drumd.engine.model.features import History
from drumd.engine.model.lstm import StepInputs
from drumd.engine.sampling.sampler import Controls, Sampler
from drumd.mappings.basics.grid import seconds_per_step

DEADLINE_US = seconds_per_step(300) * 1e6  # one 16th at 300 BPM


def percentiles(us):
    us = np.asarray(us)
    return np.percentile(us, 50), np.percentile(us, 99), us.max()


def bench_sampler(ckpt, n):
    s = Sampler(ckpt, seed=0)
    s.reset(style=None)
    c = Controls(temperature=1.0, top_p=0.95, density=0.3)
    for _ in range(200):
        s.step(c)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.step(c)
        out.append((time.perf_counter() - t0) * 1e6)
    return out


@torch.no_grad()
def bench_torch(ckpt, n, mkldnn):
    """The same step in torch eager: features -> LSTM -> event head -> multinomial."""
    torch.backends.mkldnn.enabled = mkldnn
    model, hist, state = ckpt.model, History(ckpt.config.lookback), None
    out = []
    for t in range(n + 200):
        t0 = time.perf_counter()
        f = hist.features(t, 0, False, 120.0)
        x = StepInputs(**{k: torch.as_tensor(np.asarray(v)).reshape(1, 1, -1).squeeze(-1)
                          if np.ndim(v) == 0 else torch.as_tensor(np.asarray(v)).reshape(1, 1, -1)
                          for k, v in f.items()})
        h, state = model.lstm(model.features(x), state)
        p = torch.softmax(model.event_head(h[0, 0]), -1)
        ev = int(torch.multinomial(p, 1))
        hist.push(ev, np.zeros(9, np.float32), np.zeros(9, np.float32))
        if t >= 200:
            out.append((time.perf_counter() - t0) * 1e6)
    torch.backends.mkldnn.enabled = True
    return out


def bench_training(steps=20):
    from drumd.engine.data.encoding import METER_INPUTS
    from drumd.engine.model.lstm import DrumLSTM, ModelConfig, losses
    torch.set_num_threads(2)
    cfg = ModelConfig(n_styles=18)
    model = DrumLSTM(cfg)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    B, T = 64, 128
    g = torch.Generator().manual_seed(0)
    x = StepInputs(
        prev_event=torch.randint(0, 513, (B, T), generator=g), prev_velocity=torch.rand(B, T, 9),
        prev_offset=torch.rand(B, T, 9) - 0.5, lookback=torch.randint(0, 2, (B, T, 18)).float(),
        lookback_velocity=torch.rand(B, T, 18), lookback_offset=torch.rand(B, T, 18) - 0.5,
        level=torch.rand(B, T, 1),
        position=torch.randint(0, 2, (B, T, 6)).float() * 2 - 1, density=torch.rand(B, T, 1),
        style=torch.randint(0, 18, (B, T)), fill=torch.zeros(B, T, 1), tempo=torch.randint(0, 8, (B, T)),
        meter=torch.zeros(B, T, METER_INPUTS))
    ev = torch.randint(0, 512, (B, T), generator=g)
    vb, ob = torch.randint(0, 16, (B, T, 9)), torch.randint(0, 16, (B, T, 9))
    mask = torch.ones(B, T)
    t0 = None
    for i in range(steps + 3):
        if i == 3:
            t0 = time.perf_counter()
        nll, expr, n, nh = losses(model, x, ev, vb, ob, mask)
        opt.zero_grad()
        ((nll + expr) / n).backward()
        opt.step()
    torch.set_num_threads(1)
    return steps * B * T / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint")
    ap.add_argument("--steps", type=int, default=5000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    ckpt = load_checkpoint(a.checkpoint)
    cfg = ckpt.config
    print(f"model {cfg.layers}x{cfg.hidden} LSTM, {sum(p.numel() for p in ckpt.model.parameters()):,} "
          f"parameters; deadline at 300 BPM: {DEADLINE_US / 1000:.0f} ms per 16th")
    rows = [("drumd sampler (numpy, 1 thread)", bench_sampler(ckpt, a.steps)),
            ("torch eager, 1 thread, mkldnn off", bench_torch(ckpt, a.steps // 2, False)),
            ("torch eager, 1 thread, mkldnn on", bench_torch(ckpt, a.steps // 5, True))]
    base = percentiles(rows[0][1])
    print(f"{'step (sample, batch 1)':36} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>8} {'p99/deadline':>13} {'p99 vs drumd':>13}")
    for name, us in rows:
        p50, p99, mx = percentiles(us)
        print(f"{name:36} {p50:8.0f} {p99:8.0f} {mx:8.0f} {p99 / DEADLINE_US:12.2%} {p99 / base[1]:12.1f}x")
    print(f"target p99 <= 1000 µs: {'met' if base[1] <= 1000 else 'NOT met'}")
    tput = bench_training()
    print(f"training throughput (2 threads, batch 64x128, {cfg.layers}x{cfg.hidden}): {tput:,.0f} steps/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
