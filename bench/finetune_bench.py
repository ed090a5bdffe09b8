"""Fine-tuning on a player's library (issue #14's targets), side by side in one run:

- a library of N beats the shipped model never trained on (the Groove MIDI Dataset's validation
  and test splits, 4/4 beats), given a player's habit — the closed hi-hat played on the ride
  instead (--library ride) — or made a pack of programmed loops — every hit on the 16th grid,
  2-3 velocity levels a drum (--library programmed: further from what the shipped model learnt)
  — and written in a vendor map (Studio Drummer) as a folder of .mid files;
- `drumd train --finetune --minutes M` on it, and `drumd train --minutes M` from scratch on the
  same files (same held-out share and seed), each timed on the wall clock;
- on the held-out files: the teacher-forced NLL of the shipped model, the fine-tuned one and the
  scratch one, in its parts: the events (which drums hit, nats per 16th: score_model's and
  drumd eval's "nll"), the hits' velocity and timing (nats per hit, 16 bins each), and their
  sum per 16th;
- the library's habit in what they play: unprimed grooves of the library's style (the shipped
  model: its default style) counted for ride and closed hi-hat hits, and for hits on the grid
  and at the programmed velocity levels.

    .venv/bin/python bench/finetune_bench.py [--library ride|programmed] [--files 60] [--minutes 4]
        [--threads 2] [--out DIR] [--only finetuned|scratch] [--set KEY=VALUE ...]

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

from drumd.engine.data.encoding import CLASS_NAMES, CLASS_PITCH
from drumd.engine.data.gmd import DATA_MAP, default_data_dir
from drumd.engine.data.library import load_library
from drumd.engine.evaluation.evaluate import score_model
from drumd.engine.model.checkpoint import load_checkpoint
from drumd.engine.sampling.generate import generate
from drumd.mappings import load_map
from drumd.mappings.basics.midifile import remap_file
from drumd.mappings.drummaps.translate import Translator

VENDOR_MAP, STYLE, VAL_SHARE, SEED = "studio-drummer", "mine", 0.2, 1234


def _pack(gmd: Path, out: Path, n: int, seed: int, change) -> dict[str, str]:
    """n GMD validation/test 4/4 beats (_pick), each changed in place by change(mido.MidiFile)
    and written in VENDOR_MAP into out/STYLE/. Returns {library file name: its GMD file
    (info.csv's midi_filename)}."""
    import mido
    picks = _pick(gmd, n, seed)
    tr = Translator(DATA_MAP, VENDOR_MAP)
    folder = out / STYLE
    folder.mkdir(parents=True, exist_ok=True)
    names = {r["midi_filename"].replace("/", "_"): r["midi_filename"] for r in picks}  # names repeat across drummers
    with tempfile.TemporaryDirectory() as tmp:
        for name, source in names.items():
            mid = mido.MidiFile(gmd / source)
            change(mid)
            changed = Path(tmp) / "changed.mid"
            mid.save(changed)
            remap_file(changed, folder / name, tr)
    return names


def build_library(gmd: Path, out: Path, n: int, seed: int) -> dict[str, str]:
    """n GMD validation/test 4/4 beats, closed hi-hat moved to the ride, in VENDOR_MAP, into
    out/STYLE/. Returns {library file name: its GMD file (info.csv's midi_filename)}."""
    src_map = load_map(DATA_MAP)
    ride = next(note for note, a in sorted(src_map.notes.items()) if a.cls == "ride" and a.gm == 51)

    def habit(mid) -> None:
        for track in mid.tracks:
            for msg in track:
                if msg.type in ("note_on", "note_off") and msg.channel == 9 and \
                        msg.note in src_map.notes and src_map.notes[msg.note].cls == "closed_hh":
                    msg.note = ride  # the player's habit: ride where the drummer played the hat
    return _pack(gmd, out, n, seed, habit)


# A programmed loop pack's velocities: 2-3 fixed levels per instrument (accent, normal, ghost),
# as a producer clicks them in; a played hit takes the level nearest its own velocity.
LEVELS = {"kick": (90, 115), "snare": (45, 95, 120), "closed_hh": (60, 85, 105), "open_hh": (80, 105),
          "low_tom": (85, 110), "mid_tom": (85, 110), "high_tom": (85, 110), "crash": (100, 120),
          "ride": (65, 90, 110)}


def build_programmed(gmd: Path, out: Path, n: int, seed: int) -> dict[str, str]:
    """The same n GMD beats as build_library picks, as a bought pack of programmed loops would
    have them: every hit moved to the nearest 16th (a 32nd long), its velocity the nearest of its
    instrument's LEVELS (two hits on one 16th and drum: the louder), in VENDOR_MAP, into
    out/STYLE/. Returns {library file name: its GMD file}."""
    import mido
    from drumd.engine.data.encoding import MODEL_CLASS
    src_map = load_map(DATA_MAP)

    def programmed(mid) -> None:
        grid = mid.ticks_per_beat // 4
        for track in mid.tracks:
            t, hits, rest = 0, {}, []
            for msg in track:
                t += msg.time
                if msg.type in ("note_on", "note_off") and msg.channel == 9:
                    a = src_map.notes.get(msg.note)
                    cls = MODEL_CLASS.get(a.cls) if a is not None else None
                    if msg.type == "note_on" and msg.velocity > 0 and cls in LEVELS:
                        at = round(t / grid) * grid
                        v = min(LEVELS[cls], key=lambda lv: abs(lv - msg.velocity))
                        hits[at, msg.note] = max(v, hits.get((at, msg.note), 0))
                    continue  # every drum note-off is written anew, and notes of no class dropped
                rest.append((t, msg))
            timed = rest + [(at, mido.Message("note_on", channel=9, note=note, velocity=v))
                            for (at, note), v in hits.items()]
            timed += [(at + grid // 2, mido.Message("note_off", channel=9, note=note, velocity=0))
                      for (at, note) in hits]
            timed.sort(key=lambda x: (x[0], x[1].type == "note_on", x[1].is_meta is False))
            ends = [m for _, m in timed if m.type == "end_of_track"]
            timed = [(at, m) for at, m in timed if m.type != "end_of_track"]
            track.clear()
            last = 0
            for at, m in timed:
                track.append(m.copy(time=at - last))
                last = at
            track.extend(e.copy(time=0) for e in ends[:1])
    return _pack(gmd, out, n, seed, programmed)


def _pick(gmd: Path, n: int, seed: int) -> list[dict]:
    """n of GMD's validation/test 4/4 beats of 8 s or more (info.csv rows), by the seed."""
    rows = [r for r in csv.DictReader(open(gmd / "info.csv"))
            if r["split"] in ("validation", "test") and r["beat_type"] == "beat"
            and r["time_signature"] == "4-4" and float(r["duration"]) >= 8]
    rng = np.random.default_rng(seed)
    return [rows[i] for i in sorted(rng.choice(len(rows), size=min(n, len(rows)), replace=False))]


def unhabited(gmd: Path, held, source: dict[str, str]) -> list:
    """The held-out files as the drummer played them (the GMD's own, hi-hat where it was), read
    as training reads the dataset: what the shipped model scores without the habit to learn."""
    from drumd.engine.data.library import read_file
    m = load_map(DATA_MAP)
    to_gm = lambda note, cc4: m.to_gm(note, cc4=cc4)  # noqa: E731
    return [read_file(gmd / source[Path(p.name).name], Path(p.name), "rock", to_gm, m.name, 10).perf
            for p in held]


def train(lib: Path, out: Path, minutes: float, threads: int, finetune: bool, sets=()) -> float:
    return run_train(["--data", str(lib), "--map", VENDOR_MAP, "--val-share", str(VAL_SHARE),
                      *(["--finetune"] if finetune else [])], out, minutes, threads, sets)


def run_train(args: list[str], out: Path, minutes: float, threads: int, sets=()) -> float:
    """`drumd train ARGS --minutes --out OUT` with `threads` and the bench's seed (and each of
    `sets` as --set) as a user runs it; its output in OUT.log. Returns the wall time (s); exits
    with the output's tail when it fails."""
    cmd = [str(Path(sys.executable).parent / "drumd"), "train", *args, "--minutes", f"{minutes:g}",
           "--out", str(out), "--set", f"threads={threads}", "--set", f"seed={SEED}"]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.monotonic()
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t0
    (out.parent / f"{out.name}.log").write_text(f"{done.stdout}{WALL}{wall:.1f} s\n")
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}")
    return wall


WALL = "bench: wall "  # run_train's last line in OUT.log


def wall_of(out: Path) -> float | None:
    """The wall time (s) run_train wrote beside the run OUT, None if it did not."""
    log = out.parent / f"{out.name}.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return float(lines[-1][len(WALL):].split()[0]) if lines and lines[-1].startswith(WALL) else None


def habit(ckpt, style: str, runs: int, bars: int) -> tuple[float, float]:
    """(ride hits per bar, closed hi-hat hits per bar) of unprimed runs."""
    ride_pitch, closed_pitch = (CLASS_PITCH[CLASS_NAMES.index(c)] for c in ("ride", "closed_hh"))
    ride = closed = 0
    for seed in range(runs):
        for step in generate(ckpt, bars, style=style, primer=(), bpm=100.0, seed=seed):
            ride += sum(h.pitch == ride_pitch for h in step.hits)
            closed += sum(h.pitch == closed_pitch for h in step.hits)
    return ride / (runs * bars), closed / (runs * bars)


def nll_parts(ckpt, perfs) -> dict[str, float]:
    """Teacher-forced, as training's loss counts them: the event NLL (nats per 16th step: which
    drums hit), the velocity and the microtiming cross-entropy (nats per hit, over the 16 bins
    of each given the true hits), hits per step, and their sum per step (event + hits/step x
    (velocity + timing)). score_model's "nll" is the event part alone."""
    import torch
    from drumd.engine.data.encoding import NUM_CLASSES
    from drumd.engine.training.train import batch_windows, build_arrays, to_inputs
    arrays, starts = build_arrays(perfs, ckpt.styles, ckpt.config.lookback)
    lengths = np.diff(starts)
    model = ckpt.model
    ev_sum = v_sum = o_sum = steps = hits = 0.0
    with torch.no_grad():
        for i in range(0, len(perfs), 16):
            idx = np.arange(i, min(i + 16, len(perfs)))
            b = batch_windows(arrays, starts, idx, np.zeros(len(idx), np.int64), int(lengths[idx].max()))
            target = b["target_event"]
            bits = (target.unsqueeze(-1) >> torch.arange(NUM_CLASSES)) & 1
            ev, vel, off, _ = model(to_inputs(b), bits.float())
            m = b["mask"].bool()
            hit = bits.bool() & m.unsqueeze(-1)
            ce = torch.nn.functional.cross_entropy
            ev_sum += float(ce(ev[m], target[m], reduction="sum"))
            v_sum += float(ce(vel[hit], b["target_vbin"][hit], reduction="sum"))
            o_sum += float(ce(off[hit], b["target_obin"][hit], reduction="sum"))
            steps += float(m.sum())
            hits += float(hit.sum())
    per_step = hits / steps
    return {"event": ev_sum / steps, "velocity": v_sum / hits, "timing": o_sum / hits, "hits": per_step,
            "total": (ev_sum + v_sum + o_sum) / steps}


def programmed_feel(ckpt, style: str, runs: int, bars: int) -> tuple[float, float]:
    """(% of hits on the grid, % of hits at one of their drum's LEVELS) in unprimed runs, both as
    the model's bins tell them: on the grid is the offset bin holding 0 (0 to 1/16 of a 16th
    late), a level is the velocity bin holding it."""
    from drumd.engine.data.encoding import offset_to_bin, velocity_to_bin
    grid_bin = int(offset_to_bin(0.0))
    level_bins = {CLASS_PITCH[CLASS_NAMES.index(c)]: {int(velocity_to_bin(v)) for v in lv}
                  for c, lv in LEVELS.items()}
    n = on_grid = levelled = 0
    for seed in range(runs):
        for step in generate(ckpt, bars, style=style, primer=(), bpm=100.0, seed=seed):
            for h in step.hits:
                n += 1
                on_grid += int(offset_to_bin(h.offset)) == grid_bin
                levelled += int(velocity_to_bin(h.velocity)) in level_bins.get(h.pitch, ())
    return 100 * on_grid / max(n, 1), 100 * levelled / max(n, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="Groove MIDI Dataset (default: ../shared)")
    ap.add_argument("--library", choices=("ride", "programmed"), default="ride",
                    help="ride: the drummers' beats with the hi-hat on the ride; programmed: the "
                         "same beats as a pack of programmed loops (on the grid, velocity levels)")
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=8, help="unprimed runs per model for the habit")
    ap.add_argument("--out", type=Path, default=None, help="keep the library and runs here")
    ap.add_argument("--only", choices=("finetuned", "scratch", "none"), default=None,
                    help="train only this one, or none: score the runs in --out (a run not there "
                         "is left out)")
    ap.add_argument("--set", action="append", default=[], help="a fine-tuning option KEY=VALUE")
    a = ap.parse_args()
    gmd = a.data or default_data_dir()
    gmd = gmd / "groove" if (gmd / "groove" / "info.csv").is_file() else gmd
    out = a.out or Path(tempfile.mkdtemp(prefix="drumd-finetune-bench-"))
    lib = out / "library"
    build = build_library if a.library == "ride" else build_programmed
    source = build(gmd, lib, a.files, SEED)
    n = len(source)
    what = ("closed hi-hat -> ride" if a.library == "ride"
            else "programmed: on the 16th grid, 2-3 velocity levels a drum")
    print(f"library: {n} beats (GMD validation+test, {what}) in {VENDOR_MAP}: {lib}", flush=True)
    walls = {}
    for name, ft in (("finetuned", True), ("scratch", False)):
        if a.only not in (None, name):
            continue
        print(f"training {name} ({a.minutes:g} min cap, {a.threads} threads) ...", flush=True)
        walls[name] = train(lib, out / name, a.minutes, a.threads, ft, a.set if ft else ())
    held = load_library(lib, VENDOR_MAP, 10, None, VAL_SHARE, SEED).validation
    models = {"shipped": load_checkpoint(None)}
    for name in ("finetuned", "scratch"):
        if (out / name / "best.pt").exists():
            models[name] = load_checkpoint(out / name / "best.pt")
            walls.setdefault(name, wall_of(out / name))
    rows = []
    for name, ckpt in models.items():
        style = STYLE if STYLE in ckpt.styles else "rock"  # the shipped model: its default style
        for p in held:  # scored as the style it plays them in (the shipped model: rock)
            p.style = style
        nll = score_model(ckpt, held)["nll"]
        parts = nll_parts(ckpt, held)
        ride, closed = habit(ckpt, style, a.runs, 16)
        feel = programmed_feel(ckpt, style, a.runs, 16)
        rows.append((name, walls.get(name), nll, ride, closed, parts, feel))
    every = load_library(lib, VENDOR_MAP, 10, None, VAL_SHARE, SEED).train + held
    per_bar = lambda c: sum(int((p.velocity[:, CLASS_NAMES.index(c)] > 0).sum()) for p in every) \
        / (sum(len(p) for p in every) / 16)  # noqa: E731
    print(f"\nheld-out: {len(held)} files; the library plays {per_bar('ride'):.1f} ride and "
          f"{per_bar('closed_hh'):.1f} closed hi-hat hits per bar (the pedal hi-hat, kept, counts "
          "as closed hi-hat)")
    print(f"{'model':10s} {'wall s':>7s} {'event NLL':>10s} {'vel/hit':>8s} {'time/hit':>9s} {'hits/16th':>9s} "
          f"{'total/16th':>10s} {'ride/bar':>9s} {'hh/bar':>7s} {'on grid':>8s} {'levelled':>9s}")
    for name, wall, nll, ride, closed, parts, feel in rows:
        print(f"{name:10s} {'' if wall is None else f'{wall:7.0f}':>7s} {nll:10.3f} {parts['velocity']:8.3f} "
              f"{parts['timing']:9.3f} {parts['hits']:9.2f} {parts['total']:10.3f} {ride:9.1f} {closed:7.1f} "
              f"{feel[0]:7.0f}% {feel[1]:8.0f}%")
    if a.library == "ride":
        plain = score_model(models["shipped"], unhabited(gmd, held, source))["nll"]
        print(f"shipped on the same files without the habit (GMD's own, hi-hat kept): {plain:.3f}")
    base = {r[0]: r[2] for r in rows}
    total = {r[0]: r[5]["total"] for r in rows}
    if "finetuned" in models:
        meta = models["finetuned"].meta
        print(f"\nfine-tuned best.pt: iteration {meta.get('iter')}, chosen on {meta.get('selected_on', 'events')}")
        print(f"fine-tuned vs shipped: event NLL {base['shipped'] - base['finetuned']:+.3f} nats/step, "
              f"with velocity and timing {total['shipped'] - total['finetuned']:+.3f} (target >= 0.3)"
              + (f"; vs scratch: {base['scratch'] - base['finetuned']:+.3f} / "
                 f"{total['scratch'] - total['finetuned']:+.3f} (target > 0)" if "scratch" in models else "")
              + (f"; fine-tune wall {walls['finetuned']:.0f} s (target <= 240)" if walls.get("finetuned") else ""))
    print(f"runs kept in {out}")


if __name__ == "__main__":
    main()
