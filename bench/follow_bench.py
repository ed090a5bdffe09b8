"""Accompaniment against a player's feel, engine only (issue #17's scenarios without the ports):
a player plays a figure on pads every bar (--player: `halftime`, kick on 1 and snare on 3;
`kicks`, a kick pattern on 1, the and of 2 and 3, nothing else) and drumd accompanies, hearing each of their steps before computing the next (Sampler.amend_last, as
`drumd serve --mode accompany` does), with --quantize 1, at several --follow settings side by
side.

    .venv/bin/python bench/follow_bench.py [--player halftime|kicks] [--bars 16] [--runs 8] [--styles rock,funk]

Counted after the first 2 bars, over all runs, of drumd's own hits:
  2+4 backbeat    bars where drumd lays a snare on both 2 and 4 over the player's half-time
  snares/bar      drumd's snares per bar (the player's drum: it should give way)
  kicks/bar       drumd's kicks per bar (in brackets: kicks on a 16th where the player has none)
  doubled/bar     drumd hits on a drum the player hit on the same 16th (a flam or a doubled
                  hit: with quantize 1 the two land within one JACK period), per bar
  hits/bar        drumd's hits per bar (it still plays: hats, cymbals, toms)
"""
from __future__ import annotations

import argparse

import numpy as np

from drumd.engine.checkpoint import load_checkpoint
from drumd.engine.encoding import Hit
from drumd.engine.sampler import Controls, Sampler
from drumd.mappings.grid import STEPS_PER_BAR

PLAYERS = {  # {16th of the bar: the player's hits}, every bar
    "halftime": {0: (Hit(36, 100, 0.0),), 8: (Hit(38, 105, 0.0),)},  # kick on 1, snare on 3
    "kicks": {0: (Hit(36, 110, 0.0),), 6: (Hit(36, 95, 0.0),), 8: (Hit(36, 105, 0.0),)},  # 1, and of 2, 3
}


def run(ckpt, style: str, follow: float, bars: int, seed: int, player: str = "halftime") -> dict:
    PLAYER = PLAYERS[player]
    s = Sampler(ckpt, seed=seed)
    s.reset(style=style, bpm=100.0, step_index=0)
    c = Controls(quantize=1.0, follow=follow)
    counts = dict(backbeat=0, snare=0, kick=0, off_kick=0, doubled=0, hits=0)
    bar = set()
    for k in range(bars * STEPS_PER_BAR):
        if k:
            s.amend_last(PLAYER.get((k - 1) % STEPS_PER_BAR, ()))
        step = s.step(c)
        pos = k % STEPS_PER_BAR
        if pos == 0:
            bar = set()
        if k < 2 * STEPS_PER_BAR:
            continue
        theirs = {h.pitch for h in PLAYER.get(pos, ())}
        for h in step.hits:
            counts["hits"] += 1
            counts["doubled"] += h.pitch in theirs
            counts["snare"] += h.pitch == 38
            counts["kick"] += h.pitch == 36
            counts["off_kick"] += h.pitch == 36 and not any(p.pitch == 36 for p in PLAYER.get(pos, ()))
            if h.pitch == 38:
                bar.add(pos)
        if pos == STEPS_PER_BAR - 1:
            counts["backbeat"] += {4, 12} <= bar
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--player", choices=list(PLAYERS), default="halftime")
    ap.add_argument("--bars", type=int, default=16)  # the 40 s at 100 BPM
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--styles", default="rock,funk")
    ap.add_argument("--follow", default="0,0.5,0.8,1")
    a = ap.parse_args()
    ckpt = load_checkpoint(None)
    said = {"halftime": "kick on 1, snare on 3", "kicks": "kicks on 1, the and of 2, 3"}[a.player]
    print(f"player: {said}; {a.runs} runs of {a.bars} bars per style, bars 3-{a.bars}")
    print("style   follow  2+4 backbeat  snares/bar  kicks/bar (off theirs)  doubled/bar  hits/bar")
    for style in a.styles.split(","):
        for follow in (float(x) for x in a.follow.split(",")):
            tot = {}
            for r in range(a.runs):
                for key, v in run(ckpt, style, follow, a.bars, seed=r, player=a.player).items():
                    tot[key] = tot.get(key, 0) + v
            n = a.runs * (a.bars - 2)
            print(f"{style:7s} {follow:6.2f}  {100 * tot['backbeat'] / n:10.1f} %  "
                  f"{tot['snare'] / n:10.2f}  {tot['kick'] / n:9.2f} ({tot['off_kick'] / n:.2f})  "
                  f"{tot['doubled'] / n:11.2f}  "
                  f"{tot['hits'] / n:8.1f}")


if __name__ == "__main__":
    main()
