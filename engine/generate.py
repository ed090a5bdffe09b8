"""Offline generation: a primer (or a style alone) continued for N bars."""
from __future__ import annotations

from drumd.engine.checkpoint import Checkpoint
from drumd.engine.encoding import Step
from drumd.engine.sampler import Controls, Sampler

STEPS_PER_BAR = 16


def generate(ckpt: Checkpoint, bars: int, style: str | None = None, primer: list[Step] = (),
             bpm: float = 120.0, controls: Controls = Controls(), seed: int | None = None) -> list[Step]:
    """The generated steps only (the primer is not repeated). A primer is trimmed to whole
    bars from its end, so the continuation starts on a downbeat."""
    primer = list(primer)
    whole = len(primer) // STEPS_PER_BAR * STEPS_PER_BAR
    primer = primer[len(primer) - whole:] if whole else primer
    s = Sampler(ckpt, seed=seed)
    start = -(-len(primer) // STEPS_PER_BAR) * STEPS_PER_BAR  # next bar line after the primer
    s.reset(primer=primer, style=style, bpm=bpm, step_index=start)
    return [s.step(controls) for _ in range(bars * STEPS_PER_BAR)]
