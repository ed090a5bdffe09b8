"""Accompaniment against a player's feel, engine only (issue #17's scenarios without the ports):
a player plays a figure on pads every bar (--player: `halftime`, kick on 1 and snare on 3;
`kicks`, a kick pattern on 1, the and of 2 and 3, nothing else) and drumd accompanies, hearing each of their steps before computing the next (Sampler.amend_last, as
`drumd serve --mode accompany` does), with --quantize 1, at several --follow settings side by
side.

    .venv/bin/python bench/follow_bench.py [--player halftime|kicks] [--bars 16] [--runs 8] [--styles rock,funk]
        [--unison]

Counted after the first 2 bars, over all runs, of drumd's own hits:
  2+4 backbeat    bars where drumd lays a snare on both 2 and 4 over the player's half-time
  snares/bar      drumd's snares per bar (the player's drum: it should give way)
  kicks/bar       drumd's kicks per bar (in brackets: kicks on a 16th where the player has none)
  doubled/bar     drumd hits on a drum the player hit on the same 16th (a flam or a doubled
                  hit: with quantize 1 the two land within one JACK period), per bar
  hits/bar        drumd's hits per bar (it still plays: hats, cymbals, toms)
  sn 3 / k 1      of drumd's snares, the share on beat 3; of its kicks, the share on beat 1
                  (issue #17's half-time target: at least 60 % and 50 %; met in unison)

--unison: drumd plays the player's drums with them where they repeat them (`serve --unison`).
"""
from __future__ import annotations

import argparse

from drumd.engine.evaluation.follow_eval import PLAYERS
from drumd.engine.evaluation.follow_eval import accompany_run as run
from drumd.engine.model.checkpoint import load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--player", choices=list(PLAYERS), default="halftime")
    ap.add_argument("--bars", type=int, default=16)  # the 40 s at 100 BPM
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--styles", default="rock,funk")
    ap.add_argument("--follow", default="0,0.5,0.8,1")
    ap.add_argument("--unison", action="store_true", help="drumd plays the player's drums with them")
    a = ap.parse_args()
    ckpt = load_checkpoint(None)
    said = {"halftime": "kick on 1, snare on 3", "kicks": "kicks on 1, the and of 2, 3"}[a.player]
    print(f"player: {said}; {a.runs} runs of {a.bars} bars per style, bars 3-{a.bars}"
          + ("; in unison" if a.unison else ""))
    print("style   follow  2+4 backbeat  snares/bar  kicks/bar (off theirs)  doubled/bar  hits/bar  sn 3  k 1")
    for style in a.styles.split(","):
        for follow in (float(x) for x in a.follow.split(",")):
            tot = {}
            for r in range(a.runs):
                for key, v in run(ckpt, style, follow, a.bars, seed=r, player=a.player, unison=a.unison).items():
                    tot[key] = tot.get(key, 0) + v
            n = a.runs * (a.bars - 2)
            print(f"{style:7s} {follow:6.2f}  {100 * tot['backbeat'] / n:10.1f} %  "
                  f"{tot['snare'] / n:10.2f}  {tot['kick'] / n:9.2f} ({tot['off_kick'] / n:.2f})  "
                  f"{tot['doubled'] / n:11.2f}  "
                  f"{tot['hits'] / n:8.1f}  {100 * tot['snare3'] / max(tot['snare'], 1):3.0f} %"
                  f" {100 * tot['kick1'] / max(tot['kick'], 1):3.0f} %")


if __name__ == "__main__":
    main()
