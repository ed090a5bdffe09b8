"""Offline generation: a primer (or a style alone) continued for N bars."""
from __future__ import annotations

from drumd.engine.checkpoint import Checkpoint
from drumd.engine.encoding import Step
from drumd.engine.sampler import Controls, Sampler
from drumd.mappings.grid import STEPS_PER_BAR


def generate(ckpt: Checkpoint, bars: int, style: str | None = None, primer: list[Step] = (),
             bpm: float = 120.0, controls: Controls = Controls(), seed: int | None = None,
             carry: Step | None = None, steps_per_bar: int = STEPS_PER_BAR) -> list[Step]:
    """`bars` bars of 16 steps continuing `primer`: the generated steps only (the primer is
    not repeated).

    The primer is whole bars of `steps_per_bar` steps starting on a bar line (read_primer
    in engine.midifile measures a file so). One whose length is not a multiple of a bar is
    padded with empty steps to the next bar line, never trimmed, so the continuation starts
    on the bar line after it. The model plays 4/4: that bar line is a downbeat of its
    16-step grid (a primer in another meter is fed so that its end meets that downbeat).

    `carry`: hits already given on that downbeat (a primer ending with a crash on the next
    bar's first beat). The continuation's first step is exactly those hits, and the model
    hears them as played; the rest is sampled.
    """
    primer = list(primer)
    primer += [Step()] * (-len(primer) % steps_per_bar)
    s = Sampler(ckpt, seed=seed)
    start = -(-len(primer) // STEPS_PER_BAR) * STEPS_PER_BAR  # the model's downbeat after the primer
    s.reset(primer=primer, style=style, bpm=bpm, step_index=start)
    out = [s.step(controls, observed=carry)] if carry is not None and carry.hits and bars > 0 else []
    return out + [s.step(controls) for _ in range(bars * STEPS_PER_BAR - len(out))]
