"""Listening examples for the README: per style, a real test-split beat beside drumd playing
unprimed (no primer, default controls) and primed (2 bars of that real beat, then drumd),
as MIDI, as audio through drumd's built-in kit, and as one piano-roll figure.

    .venv/bin/python scripts/examples.py [--data PATH] [--out docs/examples] [--bars 8]

Audio is written as .ogg when `oggenc` (Debian's vorbis-tools) is installed, else as .wav.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from drumd.daemon.cli.audio import render_hits, write_wav  # noqa: E402
from drumd.engine.data.encoding import CLASS_NAMES, NUM_CLASSES, performance_of, steps_of  # noqa: E402
from drumd.engine.data.gmd import load_dataset  # noqa: E402
from drumd.engine.data.stepfiles import write_steps  # noqa: E402
from drumd.engine.model.checkpoint import load_checkpoint  # noqa: E402
from drumd.engine.sampling.generate import generate  # noqa: E402
from drumd.engine.sampling.warmup import steady_clips  # noqa: E402
from drumd.mappings.basics.grid import STEPS_PER_BAR, seconds_per_step  # noqa: E402

STYLES = ("rock", "funk", "hiphop", "jazz", "latin", "soul")
PRIMER_BARS = 2
RATE = 22050


def real_beat(test, style: str, bars: int):
    """The longest test-split beat of the style, from its first steady 2-bar clip on."""
    beats = sorted((p for p in test if p.style == style and not p.fill), key=len, reverse=True)
    for p in beats:
        starts = [s for s in steady_clips(p) if s + bars * STEPS_PER_BAR <= len(p)]
        if starts:
            s = starts[0]
            return steps_of(p)[s:s + bars * STEPS_PER_BAR], p
    raise SystemExit(f"no test beat of {style} is {bars} bars long")


def audio(path: Path, steps, bpm: float) -> Path:
    step_s = seconds_per_step(bpm)
    hits = [(max(0.0, (t + h.offset) * step_s), h.pitch, h.velocity)
            for t, s in enumerate(steps) for h in s.hits]
    wav = path.with_suffix(".wav")
    write_wav(wav, 0.5 * render_hits(hits, RATE), RATE)
    if shutil.which("oggenc"):
        subprocess.run(["oggenc", "-Q", "-q", "3", "-o", str(path.with_suffix(".ogg")), str(wav)], check=True)
        wav.unlink()
        return path.with_suffix(".ogg")
    return wav


def roll(ax, steps, title: str, primer_steps: int = 0) -> None:
    v = performance_of(steps).velocity.T
    ax.imshow(v, aspect="auto", origin="lower", cmap="Greys", vmin=-30, vmax=127, interpolation="nearest")
    if primer_steps:
        ax.axvline(primer_steps - 0.5, color="tab:red", lw=1)
    for x in range(STEPS_PER_BAR, v.shape[1], STEPS_PER_BAR):
        ax.axvline(x - 0.5, color="tab:blue", lw=0.4, alpha=0.4)
    ax.set_yticks(range(NUM_CLASSES), CLASS_NAMES, fontsize=6)
    ax.set_xticks(np.arange(0, v.shape[1], STEPS_PER_BAR), np.arange(1, v.shape[1] // STEPS_PER_BAR + 1), fontsize=6)
    ax.set_title(title, fontsize=8)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--out", default="docs/examples")
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = load_checkpoint(None)
    test = load_dataset(Path(a.data) if a.data else None)[0]["test"]
    fig, axes = plt.subplots(len(STYLES), 3, figsize=(15, 1.9 * len(STYLES)), squeeze=False)
    for i, style in enumerate(STYLES):
        real, perf = real_beat(test, style, a.bars)
        bpm = perf.bpm
        unprimed = generate(ckpt, a.bars, style=style, bpm=bpm, seed=a.seed)
        primer = real[:PRIMER_BARS * STEPS_PER_BAR]
        primed = primer + generate(ckpt, a.bars - PRIMER_BARS, style=style, primer=primer, bpm=bpm, seed=a.seed)
        for name, steps in (("real", real), ("unprimed", unprimed), ("primed", primed)):
            stem = out / f"{style}-{name}"
            write_steps(stem.with_suffix(".mid"), steps, bpm)
            print(f"{audio(stem, steps, bpm)}  ({name}, {style}, {bpm:g} BPM)", flush=True)
        roll(axes[i, 0], real, f"{style}: real ({Path(perf.name).stem})")
        roll(axes[i, 1], unprimed, f"{style}: drumd, unprimed")
        roll(axes[i, 2], primed, f"{style}: drumd, primed with the real beat's first {PRIMER_BARS} bars",
             PRIMER_BARS * STEPS_PER_BAR)
    fig.tight_layout()
    fig.savefig(out / "pianorolls.png", dpi=80)
    print(out / "pianorolls.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
