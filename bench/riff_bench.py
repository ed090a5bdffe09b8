"""Riff lock, engine and guitar analysis without the ports (issue #17): a synthesised guitar
(tests/audio_jack.py's Karplus-Strong strings) plays a one-bar riff over and over; the guitar
analysis (daemon/sound/guitar.py) hears it as `serve --audio-in` does, each step computed 1.5 16ths
ahead from the audio heard by then, and its accents of the last two bars are told to the
shipped model as taps (daemon/play/follow.py riff_taps -> Sampler.tap). Riff lock off (loudness
only) side by side, and at several --follow settings, on the same seeds.

    .venv/bin/python bench/riff_bench.py [--bars 8] [--runs 8] [--styles rock,funk]

Counted from the riff's third bar on (the issue's "within two bars"), over all runs:
  kick %        riff accents with a drumd kick on their 16th (the issue's target: >= 70 %)
  kick/snare %  ... with a kick or a snare (where drumd's groove has its snare, an accent is
                covered by a snare: Sampler.tap's rule)
  off kicks/bar drumd's kicks on 16ths the riff does not accent
  hits/bar      drumd's hits per bar (real rock 15.7-16.8, funk 17.8-18.7)
  2+4 %         bars with a snare on both 2 and 4 (the backbeat stays)
The figures played at one loudness (tests/audio_jack.py ONE_LOUDNESS) are accented by their
rhythm: every note of sparse stabs or a 3-3-2, a chug's group starts; an even strum (8ths,
quarters) has no accents, and riff lock should change nothing there.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from audio_jack import ONE, ONE_LOUDNESS, RIFF, SR, guitar_riff  # noqa: E402 (the tests' synthetic guitar)

from drumd.daemon.play.follow import riff_taps  # noqa: E402
from drumd.daemon.sound.guitar import GuitarAnalyzer  # noqa: E402
from drumd.engine.model.checkpoint import load_checkpoint  # noqa: E402
from drumd.engine.sampling.sampler import Controls, Sampler  # noqa: E402

BPM = 120.0
STEP = 15.0 / BPM
BAR = 16 * STEP
KICK, SNARE = 36, 38
FIGURES = {  # name: (one bar {16th: pluck amplitude}, the 16ths it accents)
    "riff": (RIFF, {s for s, amp in RIFF.items() if amp >= 0.8}),  # accents 0 3 7 10 13, ghosts 2 5 8 12
    # at one loudness: accented by their rhythm (daemon/play/follow.py, FIGURE_NOTES)
    **{name: ({s: ONE for s in notes}, accented) for name, (notes, accented) in ONE_LOUDNESS.items()},
}


def run(ckpt, x, accents, style: str, follow: float, lock: bool, bars: int, seed: int) -> dict:
    a = GuitarAnalyzer(SR)
    a.bpm = BPM
    s = Sampler(ckpt, seed=seed)
    s.reset(style=style, bpm=BPM, step_index=0)
    c = Controls(follow=follow)
    n = dict(accents=0, kick=0, accent=0, off_kicks=0, hits=0, backbeat=0, bars=0)
    fed, snares = 0, set()
    for k in range(bars * 16):
        upto = int(max(0.0, (k - 1.5) * STEP) * SR)
        a.feed(x[fed:upto])
        fed = max(fed, upto)
        if lock:
            for p, v in riff_taps(a.state(), BAR, lambda t: t / STEP):
                s.tap(p, v)
        pitches = {h.pitch for h in s.step(c).hits}
        pos = k % 16
        if pos == 0:
            snares = set()
        if SNARE in pitches:
            snares.add(pos)
        if k < 32:
            continue
        n["hits"] += len(pitches)
        if pos in accents:
            n["accents"] += 1
            n["kick"] += KICK in pitches
            n["accent"] += bool({KICK, SNARE} & pitches)
        else:
            n["off_kicks"] += KICK in pitches
        if pos == 15:
            n["backbeat"] += {4, 12} <= snares
            n["bars"] += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--styles", default="rock,funk")
    ap.add_argument("--follow", default="0.5,0.8,1")
    a = ap.parse_args()
    ckpt = load_checkpoint(None)
    print(f"{BPM:g} BPM, {a.runs} runs of {a.bars} bars per style, bars 3-{a.bars}")
    print(f"{'figure':10s} {'style':6s} {'riff lock':9s}  kick %  kick/snare %  off kicks/bar  hits/bar  2+4 %")
    for name, (figure, accents) in FIGURES.items():
        x, _ = guitar_riff(figure, BPM, a.bars)
        for style in a.styles.split(","):
            for lock, follow in [(False, 0.8)] + [(True, float(f)) for f in a.follow.split(",")]:
                tot: dict = {}
                for r in range(a.runs):
                    for key, v in run(ckpt, x, accents, style, follow, lock, a.bars, r).items():
                        tot[key] = tot.get(key, 0) + v
                pct = lambda key: f"{100 * tot[key] / tot['accents']:6.1f}" if tot["accents"] else "     -"  # noqa: E731
                print(f"{name:10s} {style:6s} {'F ' + str(follow) if lock else 'off':9s} {pct('kick')} "
                      f"{pct('accent'):>13s} {tot['off_kicks'] / tot['bars']:14.2f} "
                      f"{tot['hits'] / tot['bars']:9.1f} {100 * tot['backbeat'] / tot['bars']:6.1f}")


if __name__ == "__main__":
    main()
