"""Fine-tuning on a player's library (issue #14's targets), side by side in one run:

- a library of N beats the shipped model never trained on (the Groove MIDI Dataset's validation
  and test splits, 4/4 beats), given a player's habit — the closed hi-hat played on the ride
  instead — and written in a vendor map (Studio Drummer) as a folder of .mid files;
- `drumd train --finetune --minutes M` on it, and `drumd train --minutes M` from scratch on the
  same files (same held-out share and seed), each timed on the wall clock;
- on the held-out files: the teacher-forced NLL (nats per 16th step) of the shipped model, the
  fine-tuned one and the scratch one;
- the library's habit in what they play: unprimed grooves of the library's style (the shipped
  model: its default style) counted for ride and closed hi-hat hits.

    .venv/bin/python bench/finetune_bench.py [--files 60] [--minutes 4] [--threads 2] [--out DIR]

Targets (#14): fine-tuning takes at most 4 minutes wall; its held-out NLL at least 0.3 nats/step
below the shipped model's and below the scratch model's; its grooves ride where the library rides.
Also printed: the shipped model on the held-out files as the drummers played them (no habit to
learn), the floor of what fine-tuning can gain here. Figures: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from drumd.engine.model.checkpoint import load_checkpoint
from drumd.engine.data.gmd import DATA_MAP, default_data_dir
from drumd.engine.data.encoding import CLASS_NAMES, CLASS_PITCH
from drumd.engine.evaluation.evaluate import score_model
from drumd.engine.sampling.generate import generate
from drumd.engine.data.library import load_library
from drumd.mappings import load_map
from drumd.mappings.basics.midifile import remap_file
from drumd.mappings.drummaps.translate import Translator

VENDOR_MAP, STYLE, VAL_SHARE, SEED = "studio-drummer", "mine", 0.2, 1234


def build_library(gmd: Path, out: Path, n: int, seed: int) -> dict[str, str]:
    """n GMD validation/test 4/4 beats, closed hi-hat moved to the ride, in VENDOR_MAP, into
    out/STYLE/. Returns {library file name: its GMD file (info.csv's midi_filename)}."""
    import mido
    rows = [r for r in csv.DictReader(open(gmd / "info.csv"))
            if r["split"] in ("validation", "test") and r["beat_type"] == "beat"
            and r["time_signature"] == "4-4" and float(r["duration"]) >= 8]
    rng = np.random.default_rng(seed)
    picks = [rows[i] for i in sorted(rng.choice(len(rows), size=min(n, len(rows)), replace=False))]
    src_map = load_map(DATA_MAP)
    ride = next(note for note, a in sorted(src_map.notes.items()) if a.cls == "ride" and a.gm == 51)
    tr = Translator(DATA_MAP, VENDOR_MAP)
    folder = out / STYLE
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for r in picks:
            mid = mido.MidiFile(gmd / r["midi_filename"])
            for track in mid.tracks:
                for msg in track:
                    if msg.type in ("note_on", "note_off") and msg.channel == 9 and \
                            msg.note in src_map.notes and src_map.notes[msg.note].cls == "closed_hh":
                        msg.note = ride  # the player's habit: ride where the drummer played the hat
            habit = Path(tmp) / "habit.mid"
            mid.save(habit)
            remap_file(habit, folder / r["midi_filename"].replace("/", "_"), tr)  # names repeat across drummers
    return {r["midi_filename"].replace("/", "_"): r["midi_filename"] for r in picks}


def unhabited(gmd: Path, held, source: dict[str, str]) -> list:
    """The held-out files as the drummer played them (the GMD's own, hi-hat where it was), read
    as training reads the dataset: what the shipped model scores without the habit to learn."""
    from drumd.engine.data.library import read_file
    m = load_map(DATA_MAP)
    to_gm = lambda note, cc4: m.to_gm(note, cc4=cc4)  # noqa: E731
    return [read_file(gmd / source[Path(p.name).name], Path(p.name), "rock", to_gm, m.name, 10).perf
            for p in held]


def train(lib: Path, out: Path, minutes: float, threads: int, finetune: bool) -> float:
    cmd = [str(Path(sys.executable).parent / "drumd"), "train", "--data", str(lib), "--map", VENDOR_MAP,
           "--val-share", str(VAL_SHARE), "--minutes", f"{minutes:g}", "--out", str(out),
           "--set", f"threads={threads}", "--set", f"seed={SEED}"] + (["--finetune"] if finetune else [])
    t0 = time.monotonic()
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t0
    (out.parent / f"{out.name}.log").write_text(done.stdout)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}")
    return wall


def habit(ckpt, style: str, runs: int, bars: int) -> tuple[float, float]:
    """(ride hits per bar, closed hi-hat hits per bar) of unprimed runs."""
    ride_pitch, closed_pitch = (CLASS_PITCH[CLASS_NAMES.index(c)] for c in ("ride", "closed_hh"))
    ride = closed = 0
    for seed in range(runs):
        for step in generate(ckpt, bars, style=style, primer=(), bpm=100.0, seed=seed):
            ride += sum(h.pitch == ride_pitch for h in step.hits)
            closed += sum(h.pitch == closed_pitch for h in step.hits)
    return ride / (runs * bars), closed / (runs * bars)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="Groove MIDI Dataset (default: ../shared)")
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=8, help="unprimed runs per model for the habit")
    ap.add_argument("--out", type=Path, default=None, help="keep the library and runs here")
    a = ap.parse_args()
    gmd = a.data or default_data_dir()
    gmd = gmd / "groove" if (gmd / "groove" / "info.csv").is_file() else gmd
    out = a.out or Path(tempfile.mkdtemp(prefix="drumd-finetune-bench-"))
    lib = out / "library"
    source = build_library(gmd, lib, a.files, SEED)
    n = len(source)
    print(f"library: {n} beats (GMD validation+test, closed hi-hat -> ride) in {VENDOR_MAP}: {lib}", flush=True)
    walls = {}
    for name, ft in (("finetuned", True), ("scratch", False)):
        print(f"training {name} ({a.minutes:g} min cap, {a.threads} threads) ...", flush=True)
        walls[name] = train(lib, out / name, a.minutes, a.threads, ft)
    held = load_library(lib, VENDOR_MAP, 10, None, VAL_SHARE, SEED).validation
    models = {"shipped": load_checkpoint(None),
              "finetuned": load_checkpoint(out / "finetuned" / "best.pt"),
              "scratch": load_checkpoint(out / "scratch" / "best.pt")}
    rows = []
    for name, ckpt in models.items():
        style = STYLE if STYLE in ckpt.styles else "rock"  # the shipped model: its default style
        for p in held:  # scored as the style it plays them in (the shipped model: rock)
            p.style = style
        nll = score_model(ckpt, held)["nll"]
        ride, closed = habit(ckpt, style, a.runs, 16)
        rows.append((name, walls.get(name), nll, ride, closed))
    every = load_library(lib, VENDOR_MAP, 10, None, VAL_SHARE, SEED).train + held
    per_bar = lambda c: sum(int((p.velocity[:, CLASS_NAMES.index(c)] > 0).sum()) for p in every) \
        / (sum(len(p) for p in every) / 16)  # noqa: E731
    print(f"\nheld-out: {len(held)} files; the library plays {per_bar('ride'):.1f} ride and "
          f"{per_bar('closed_hh'):.1f} closed hi-hat hits per bar (the pedal hi-hat, kept, counts "
          "as closed hi-hat)")
    print(f"{'model':10s} {'wall s':>7s} {'held-out NLL':>13s} {'ride/bar':>9s} {'closed hh/bar':>14s}")
    for name, wall, nll, ride, closed in rows:
        print(f"{name:10s} {'' if wall is None else f'{wall:7.0f}':>7s} {nll:13.3f} {ride:9.1f} {closed:14.1f}")
    plain = score_model(models["shipped"], unhabited(gmd, held, source))["nll"]
    print(f"shipped on the same files without the habit (GMD's own, hi-hat kept): {plain:.3f}")
    base = {r[0]: r[2] for r in rows}
    print(f"\nfine-tuned vs shipped: {base['shipped'] - base['finetuned']:+.3f} nats/step (target >= 0.3); "
          f"vs scratch: {base['scratch'] - base['finetuned']:+.3f} (target > 0); "
          f"fine-tune wall {walls['finetuned']:.0f} s (target <= 240)")
    print(f"runs kept in {out}")


if __name__ == "__main__":
    main()
