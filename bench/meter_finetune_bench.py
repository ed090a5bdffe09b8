"""Fine-tuning on a 3/4 library (issue #14's meter target), side by side in one run:

- the library (--library gmd): the Groove MIDI Dataset's 3/4 beats (info.csv's time_signature
  3-4: five files), copied as they are (Roland TD map) into a folder, one subfolder per style
  (GMD's style up to its '/': jazz, latin, rock); or (--library cut) a library of about 50 3/4
  beats a drummer played: GMD's 4/4 rock, latin and jazz beats of the validation and test
  splits (the shipped model never trained on them) with the fourth beat of every bar cut out,
  written as 3/4 — a 3/4 library whose downbeats are where drummers put them, as a player's
  own waltzes and 3/4 rock are, where GMD's five files are mostly a chacarera and a jazz waltz;
- `drumd train --data LIB --finetune --minutes M` on it (one file held out), timed;
- `drumd generate --meter 3/4 --bars 32` as generate() runs it: 4 seeds each of rock, latin and
  jazz, unprimed, for the shipped model and the fine-tuned one; per model the share of bars
  with a kick on one, and whether the grooves stay in 3/4: how often a kick or snare hit comes
  back 12 16ths later (a 3/4 bar) against 16 later (a 4/4 bar);
- the same figures for the library's own files (every bar of the five files), and the held-out
  NLL on 4/4 (teacher-forced, nats per 16th, on --files4 of GMD's 4/4 test beats) of both
  models: fine-tuning on 3/4 must not cost the 4/4 playing.

    .venv/bin/python bench/meter_finetune_bench.py [--library gmd|cut] [--minutes 3] [--threads 2]
        [--set KEY=VALUE ...]

--set passes training options through (e.g. --set new_meter_lr=1 for the fine-tuning without
the meter columns' own learning rate). Target (#14): a kick on one in at least 70 % of the
fine-tuned model's 3/4 bars, and its grooves in 3/4. Figures: docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from drumd.engine.data.encoding import CLASS_NAMES, CLASS_PITCH
from drumd.engine.data.gmd import DATA_MAP, default_data_dir, load_dataset
from drumd.engine.data.library import load_library
from drumd.engine.evaluation.evaluate import score_model
from drumd.engine.model.checkpoint import load_checkpoint
from drumd.engine.sampling.generate import generate
from drumd.mappings.basics.midifile import Track, note_events, read_drum_notes, write_midi

sys.path.insert(0, str(Path(__file__).resolve().parent))
from finetune_bench import run_train  # noqa: E402

STYLES, SEEDS, BARS, PER_BAR, SEED = ("rock", "latin", "jazz"), 4, 32, 12, 1234
KICK, SNARE = CLASS_NAMES.index("kick"), CLASS_NAMES.index("snare")


def build_library(gmd: Path, out: Path) -> list[str]:
    """GMD's 3/4 files into out/STYLE/, names unique; returns their info.csv midi_filenames."""
    rows = [r for r in csv.DictReader(open(gmd / "info.csv")) if r["time_signature"] == "3-4"]
    for r in rows:
        folder = out / r["style"].split("/")[0]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(gmd / r["midi_filename"], folder / r["midi_filename"].replace("/", "_"))
    return [r["midi_filename"] for r in rows]


def build_cut(gmd: Path, out: Path) -> list[str]:
    """GMD's 4/4 beats of STYLES outside the training split, each bar's fourth beat cut out
    (a hit belongs to the 16th nearest it, so one played early for the next downbeat stays
    with it), written as 3/4 into out/STYLE/ in GMD's map with their hi-hat pedal (CC4).
    Returns their info.csv midi_filenames."""
    import mido
    rows = [r for r in csv.DictReader(open(gmd / "info.csv"))
            if r["time_signature"] == "4-4" and r["beat_type"] == "beat" and r["split"] != "train"
            and r["style"].split("/")[0] in STYLES]
    for r in rows:
        f = read_drum_notes(gmd / r["midi_filename"])
        sixteenth = f.ticks_per_beat / 4
        hits, pedal = [], []
        for n in f.notes:
            bar, pos = divmod(round(n.tick / sixteenth), 16)
            if pos >= 12:
                continue
            tick = n.tick - bar * f.ticks_per_beat  # every bar before this one is a beat shorter
            hits.append((tick, n.note, n.velocity))
            if n.cc4 is not None:
                pedal.append((tick, mido.Message("control_change", channel=9, control=4, value=n.cc4)))
        events = sorted(pedal + note_events(hits), key=lambda e: e[0])  # stable: the pedal first
        folder = out / r["style"].split("/")[0]
        folder.mkdir(parents=True, exist_ok=True)
        write_midi(folder / r["midi_filename"].replace("/", "_"), [Track("drums", events, DATA_MAP)],
                   tempos=[(0, f.bpm)], meters=[(0, 3, 4)], ticks_per_beat=f.ticks_per_beat)
    return [r["midi_filename"] for r in rows]


def train(lib: Path, out: Path, minutes: float, threads: int, sets: list[str]) -> float:
    return run_train(["--data", str(lib), "--map", DATA_MAP, "--finetune"], out, minutes, threads, sets)


def figures(kick: np.ndarray, snare: np.ndarray) -> tuple[int, int, float, float]:
    """(bars, bars with a kick on one, share of kick/snare hits back 12 16ths later, 16 later)
    of one groove: (T,) 0/1 arrays starting on a 3/4 bar line."""
    bars = len(kick) // PER_BAR
    on_one = int(kick[:bars * PER_BAR:PER_BAR].astype(np.int64).sum())  # int8 sums wrap at 127
    back = {}
    for lag in (12, 16):
        hits = same = 0
        for x in (kick, snare):
            h = x[:-lag] > 0
            hits += int(h.sum())
            same += int((h & (x[lag:] > 0)).sum())
        back[lag] = same / max(hits, 1)
    return bars, on_one, back[12], back[16]


def summed(rows) -> tuple[float, float, float]:
    bars = sum(r[0] for r in rows)
    return (100 * sum(r[1] for r in rows) / bars, float(np.mean([r[2] for r in rows])),
            float(np.mean([r[3] for r in rows])))


def generated(ckpt) -> dict[str, tuple[float, float, float]]:
    """{style or "all": (% bars kick on one, kick/snare back after 12, after 16)}."""
    kick_p, snare_p = CLASS_PITCH[KICK], CLASS_PITCH[SNARE]
    per = {}
    for style in STYLES:
        rows = []
        for seed in range(SEEDS):
            steps = generate(ckpt, BARS, style=style, primer=(), bpm=120.0, seed=seed, meter=(3, 4))
            kick = np.array([any(h.pitch == kick_p for h in s.hits) for s in steps], np.int8)
            snare = np.array([any(h.pitch == snare_p for h in s.hits) for s in steps], np.int8)
            rows.append(figures(kick, snare))
        per[style] = rows
    out = {s: summed(r) for s, r in per.items()}
    out["all"] = summed([r for rows in per.values() for r in rows])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="Groove MIDI Dataset (default: ../shared)")
    ap.add_argument("--library", choices=("gmd", "cut"), default="gmd",
                    help="GMD's five 3/4 files, or GMD's 4/4 beats with every fourth beat cut")
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--files4", type=int, default=40, help="GMD 4/4 test beats for the 4/4 NLL")
    ap.add_argument("--set", action="append", default=[], help="a training option KEY=VALUE")
    ap.add_argument("--out", type=Path, default=None, help="keep the library and the run here")
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="score this fine-tuned checkpoint instead of training one")
    a = ap.parse_args()
    gmd = a.data or default_data_dir()
    gmd = gmd / "groove" if (gmd / "groove" / "info.csv").is_file() else gmd
    out = a.out or Path(tempfile.mkdtemp(prefix="drumd-meter-bench-"))
    lib = out / "library"
    if not lib.exists():
        (build_cut if a.library == "cut" else build_library)(gmd, lib)
    library = load_library(lib, DATA_MAP, 10, None, 0.1, SEED)
    what = "GMD 4/4 beats cut to 3/4" if a.library == "cut" else "GMD 3/4 files"
    print(f"library: {len(library.train) + len(library.validation)} {what} in {lib}; held out: "
          f"{', '.join(p.as_posix() for p in library.validation_files)}", flush=True)
    wall = None
    if a.checkpoint is None:
        print(f"fine-tuning ({a.minutes:g} min cap, {a.threads} threads, {' '.join(a.set) or 'defaults'}) ...",
              flush=True)
        wall = train(lib, out / "finetuned", a.minutes, a.threads, a.set)
    ft_path = a.checkpoint or out / "finetuned" / "best.pt"
    models = {"shipped": load_checkpoint(None), "fine-tuned": load_checkpoint(ft_path)}

    real = {}
    for p in library.train + library.validation:
        real.setdefault(p.style, []).append(
            figures((p.velocity[:, KICK] > 0).astype(np.int8), (p.velocity[:, SNARE] > 0).astype(np.int8)))
    # the cut library holds GMD's rock, latin and jazz test beats: the 4/4 NLL leaves them out
    test = [p for p in load_dataset(a.data)[0]["test"] if tuple(p.meter) == (4, 4) and not p.fill
            and not (a.library == "cut" and p.style.split("/")[0] in STYLES)][:a.files4]
    print(f"\n{'':22s} {'kick on one':>12s} {'rock':>6s} {'latin':>6s} {'jazz':>6s} "
          f"{'back 12':>8s} {'back 16':>8s} {'4/4 NLL':>8s}")
    r = summed([x for rows in real.values() for x in rows])
    print(f"{'the library itself':22s} {r[0]:11.0f}% "
          + " ".join(f"{summed(real[s])[0]:5.0f}%" if s in real else f"{'':>6s}" for s in STYLES)
          + f" {r[1]:8.2f} {r[2]:8.2f}")
    for name, ckpt in models.items():
        g = generated(ckpt)
        nll = score_model(ckpt, test)["nll"]
        print(f"{name:22s} {g['all'][0]:11.0f}% {g['rock'][0]:5.0f}% {g['latin'][0]:5.0f}% "
              f"{g['jazz'][0]:5.0f}% {g['all'][1]:8.2f} {g['all'][2]:8.2f} {nll:8.4f}")
    by_file = sorted(round(100 * x[1] / x[0]) for rows in real.values() for x in rows)
    meta = models["fine-tuned"].meta
    print(f"\nthe library's kick on one by file: {by_file} %; fine-tuned best.pt: iteration "
          f"{meta.get('iter')} (chosen on {meta.get('selected_on', 'events')}), held-out NLL "
          f"{meta.get('val_nll', float('nan')):.4f}"
          + (f", wall {wall:.0f} s" if wall is not None else ""))
    print(f"4/4 NLL: {len(test)} GMD 4/4 test beats{' of other styles' if a.library == 'cut' else ''}, "
          f"nats per 16th. Run kept in {out}")


if __name__ == "__main__":
    main()
