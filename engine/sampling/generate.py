"""Offline generation: a primer (or a style alone) continued for N bars."""
from __future__ import annotations

from drumd.engine.data.encoding import Step, bar_steps
from drumd.engine.model.checkpoint import Checkpoint
from drumd.engine.sampling.sampler import Controls, Sampler


def generate(ckpt: Checkpoint, bars: int, style: str | None = None, primer: list[Step] = (),
             bpm: float = 120.0, controls: Controls = Controls(), seed: int | None = None,
             carry: Step | None = None, meter: tuple[int, int] = (4, 4),
             primer_meter: tuple[int, int] | None = None) -> list[Step]:
    """`bars` bars of `meter` (one of encoding.METERS; 16 16ths a bar in 4/4, 12 in 3/4)
    continuing `primer`: the generated steps only (the primer is not repeated).

    The primer is whole bars of `primer_meter` (default: `meter`) starting on a bar line
    (read_primer in engine.midifile measures a file so). One whose length is not a multiple
    of a bar is padded with empty steps to the next bar line, never trimmed, so the
    continuation starts on the bar line after it. A primer in another meter is fed so that
    its end meets a downbeat of `meter`.

    `carry`: hits already given on that downbeat (a primer ending with a crash on the next
    bar's first beat). The continuation's first step is exactly those hits, and the model
    hears them as played; the rest is sampled. ValueError for a meter not in METERS.
    """
    per_bar = bar_steps(meter)
    primer = list(primer)
    primer += [Step()] * (-len(primer) % bar_steps(primer_meter or meter))
    s = Sampler(ckpt, seed=seed)
    start = -(-len(primer) // per_bar) * per_bar  # the downbeat after the primer
    s.reset(primer=primer, style=style, bpm=bpm, step_index=start, meter=meter)
    out = [s.step(controls, observed=carry)] if carry is not None and carry.hits and bars > 0 else []
    return out + [s.step(controls) for _ in range(bars * per_bar - len(out))]
