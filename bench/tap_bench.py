"""Tap to groove, engine only (issue #17's tap mode without the ports): a player taps a rhythm
on one key, drumd hears each tap a step later (Sampler.tap, as `drumd serve --mode tap` tells
it) and plays a groove whose accents should follow the taps, at several --follow settings side
by side (0: taps ignored, the model's own groove on the same seed).

    .venv/bin/python bench/tap_bench.py [--bars 16] [--runs 8] [--styles rock,funk]

Counted after the first 2 bars (the first bar of taps cannot be foreseen), over all runs:
  hit %       tapped 16ths on which drumd plays any hit (the issue's target: >= 80 %)
  accent %    tapped 16ths on which drumd plays a kick or snare (the accent the tap asks for)
  |dv|        mean |velocity of that kick or snare - the tap's|, MIDI units
  hits/bar    drumd's hits per bar (the groove issue's real-groove range: about 15-20)
  2+4 %       bars with a snare on both 2 and 4 (the backbeat)
  kicks/bar   of which kicks off the taps
"""
from __future__ import annotations

import argparse

from drumd.engine.evaluation.follow_eval import TAP_FIGURES as PATTERNS
from drumd.engine.evaluation.follow_eval import tap_run as run
from drumd.engine.model.checkpoint import load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--styles", default="rock,funk")
    ap.add_argument("--follow", default="0,0.8,1")
    ap.add_argument("--patterns", default=",".join(PATTERNS))
    a = ap.parse_args()
    ckpt = load_checkpoint(None)
    print(f"{a.runs} runs of {a.bars} bars per style and pattern, bars 3-{a.bars}")
    print(f"{'pattern':18s} {'style':6s} follow  hit %  accent %   |dv|  hits/bar  2+4 %  kicks/bar (off taps)")
    for name in a.patterns.split(","):
        for style in a.styles.split(","):
            for follow in (float(x) for x in a.follow.split(",")):
                tot: dict = {}
                for r in range(a.runs):
                    for key, v in run(ckpt, PATTERNS[name], style, follow, a.bars, seed=r).items():
                        tot[key] = tot.get(key, 0) + v
                bars = tot["bars"]
                print(f"{name:18s} {style:6s} {follow:6.2f} {100 * tot['hit'] / tot['taps']:6.1f} "
                      f"{100 * tot['accent'] / tot['taps']:9.1f} {tot['dv'] / max(tot['accent'], 1):6.1f} "
                      f"{tot['hits'] / bars:9.1f} {100 * tot['backbeat'] / bars:6.1f} "
                      f"{tot['kicks'] / bars:10.2f} ({tot['off_kicks'] / bars:.2f})")


if __name__ == "__main__":
    main()
