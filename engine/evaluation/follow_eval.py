"""Following a player, scored on the engine alone (issue #17): the scenarios of
bench/follow_bench.py and bench/tap_bench.py (their one home), and the summary `drumd eval`
reports per checkpoint.

A player's hits reach the model as `drumd serve` gives them: in accompany mode each 16th the
player played is merged into what the model heard (Sampler.amend_last) before the next is
computed; in tap mode each tap is told (Sampler.tap) for the last two steps. Steps are 16ths
of 4/4, song position 0 a bar line; figures are counted from the third bar on (the first two
are when drumd cannot yet know what the player repeats).
"""
from __future__ import annotations

from drumd.engine.data.encoding import Hit
from drumd.engine.sampling.sampler import Controls, Sampler
from drumd.mappings.basics.grid import STEPS_PER_BAR, STEPS_PER_BEAT

KICK, SNARE = 36, 38
PLAYERS = {  # {16th of the bar: the player's hits}, every bar (accompany)
    "halftime": {0: (Hit(KICK, 100, 0.0),), 8: (Hit(SNARE, 105, 0.0),)},  # kick on 1, snare on 3
    "kicks": {0: (Hit(KICK, 110, 0.0),), 6: (Hit(KICK, 95, 0.0),), 8: (Hit(KICK, 105, 0.0),)},  # 1, and of 2, 3
}
# {16th of the bar: velocity}, one dict per bar of the figure (repeated) (tap mode)
TAP_FIGURES = {
    "four on the floor": [{0: 100, 4: 100, 8: 100, 12: 100}],
    "son clave 3-2": [{0: 110, 6: 100, 12: 105}, {4: 100, 8: 105}],
    "syncopated": [{0: 115, 3: 70, 6: 100, 10: 95, 13: 60}],
    "offbeat 8ths": [{2: 100, 6: 80, 10: 100, 14: 80}],
}


def _accompanied(ckpt, style: str, follow: float, bars: int, seed: int, player: dict, plays: int,
                 unison: bool = False):
    """Accompany mode at --quantize 1, 100 BPM, against `player` (as PLAYERS' values) for its
    first `plays` bars: yields (song position k, drumd's Step) for k in 0..bars x 16 - 1."""
    s = Sampler(ckpt, seed=seed)
    s.reset(style=style, bpm=100.0, step_index=0)
    c = Controls(quantize=1.0, follow=follow, unison=unison)
    for k in range(bars * STEPS_PER_BAR):
        if k:  # as the daemon: once a step, their hits of the step before (none once they stop)
            s.amend_last(player.get((k - 1) % STEPS_PER_BAR, ()) if k - 1 < plays * STEPS_PER_BAR else ())
        yield k, s.step(c)


def accompany_run(ckpt, style: str, follow: float, bars: int, seed: int, player: str = "halftime",
                  unison: bool = False) -> dict:
    """One run of accompany mode against PLAYERS[player] at --quantize 1, 100 BPM (`unison`:
    --unison). Counts over bars 3..bars of drumd's own hits: backbeat (bars with its snare on 2
    and 4), snare, kick, off_kick (kicks on a 16th where the player has none), doubled (hits on
    a drum the player hit on the same 16th), hits, snare3 (snares on beat 3), kick1 (kicks on
    beat 1)."""
    PLAYER = PLAYERS[player]
    counts = dict(backbeat=0, snare=0, kick=0, off_kick=0, doubled=0, hits=0, snare3=0, kick1=0)
    bar = set()
    for k, step in _accompanied(ckpt, style, follow, bars, seed, PLAYER, bars, unison):
        pos = k % STEPS_PER_BAR
        if pos == 0:
            bar = set()
        if k < 2 * STEPS_PER_BAR:
            continue
        theirs = {h.pitch for h in PLAYER.get(pos, ())}
        for h in step.hits:
            counts["hits"] += 1
            counts["doubled"] += h.pitch in theirs
            counts["snare"] += h.pitch == SNARE
            counts["kick"] += h.pitch == KICK
            counts["snare3"] += h.pitch == SNARE and pos == 2 * STEPS_PER_BEAT
            counts["kick1"] += h.pitch == KICK and pos == 0
            counts["off_kick"] += h.pitch == KICK and not any(p.pitch == KICK for p in PLAYER.get(pos, ()))
            if h.pitch == SNARE:
                bar.add(pos)
        if pos == STEPS_PER_BAR - 1:
            counts["backbeat"] += {4, 12} <= bar
    return counts


def handover_run(ckpt, style: str, follow: float, bars: int, seed: int, stop_bar: int = 4) -> dict:
    """One run of accompany mode where the half-time player (PLAYERS['halftime']) plays bars
    1..`stop_bar` and then stops; at --quantize 1, 100 BPM. Counts over the bars after they
    stopped, of drumd's hits: bars, on3 (bars with its snare on beat 3: their feel carried on),
    backbeat (its snare on 2 and 4), kick1 (its kick on 1), hits."""
    counts = dict(bars=0, on3=0, backbeat=0, kick1=0, hits=0)
    snares, kicks = set(), set()
    for k, step in _accompanied(ckpt, style, follow, bars, seed, PLAYERS["halftime"], stop_bar):
        pos = k % STEPS_PER_BAR
        if pos == 0:
            snares, kicks = set(), set()
        if k < stop_bar * STEPS_PER_BAR:
            continue
        counts["hits"] += len(step.hits)
        snares |= {pos for h in step.hits if h.pitch == SNARE}
        kicks |= {pos for h in step.hits if h.pitch == KICK}
        if pos == STEPS_PER_BAR - 1:
            counts["bars"] += 1
            counts["on3"] += 8 in snares
            counts["backbeat"] += {4, 12} <= snares
            counts["kick1"] += 0 in kicks
    return counts


def taps_at(pattern, k: int) -> int:
    """The tap's velocity on song position k (0: none)."""
    return pattern[(k // STEPS_PER_BAR) % len(pattern)].get(k % STEPS_PER_BAR, 0)


def tap_run(ckpt, pattern, style: str, follow: float, bars: int, seed: int) -> dict:
    """One run of tap mode against a tapped figure (as TAP_FIGURES' values), 100 BPM. Counts over
    bars 3..bars: taps, hit (tapped 16ths with any drumd hit), accent (with a kick or snare), dv
    (sum of |that accent's velocity - the tap's|), hits, backbeat, kicks, off_kicks, bars."""
    s = Sampler(ckpt, seed=seed)
    s.reset(style=style, bpm=100.0, step_index=0)
    c = Controls(follow=follow)
    n = dict(taps=0, hit=0, accent=0, dv=0.0, hits=0, backbeat=0, kicks=0, off_kicks=0, bars=0)
    snares = set()
    for k in range(bars * STEPS_PER_BAR):
        for p in (k - 2, k - 1):  # as the daemon's tap mode: the last two steps' taps, again
            if p >= 0 and taps_at(pattern, p):
                s.tap(p, taps_at(pattern, p))
        step = s.step(c)
        pos = k % STEPS_PER_BAR
        if pos == 0:
            snares = set()
        if k < 2 * STEPS_PER_BAR:
            continue
        v = taps_at(pattern, k)
        pitches = {h.pitch: h.velocity for h in step.hits}
        accents = [vel for p, vel in pitches.items() if p in (KICK, SNARE)]
        n["hits"] += len(step.hits)
        n["kicks"] += KICK in pitches
        n["off_kicks"] += KICK in pitches and not v
        if SNARE in pitches:
            snares.add(pos)
        if v:
            n["taps"] += 1
            n["hit"] += bool(step.hits)
            if accents:
                n["accent"] += 1
                n["dv"] += abs(max(accents) - v)
        if pos == STEPS_PER_BAR - 1:
            n["backbeat"] += {4, 12} <= snares
            n["bars"] += 1
    return n


def _total(runs) -> dict:
    tot: dict = {}
    for r in runs:
        for key, v in r.items():
            tot[key] = tot.get(key, 0) + v
    return tot


def following(ckpt, styles, runs: int = 4, bars: int = 16, seed: int = 0, follows=(0.0, 0.8)) -> dict:
    """What `drumd eval` reports: per style and follow setting (0: the player ignored, the
    model's own groove on the same seeds), over `runs` seeds of `bars` bars:
      halftime_backbeat   share of bars where drumd lays its own snare on 2 and 4 over a
                          half-time player (kick on 1, snare on 3): it should give way
      halftime_doubled    drumd hits on the player's drum and 16th, per bar (a flam)
      kicks_off           drumd kicks per bar off a player's kick pattern (1, and of 2, 3)
      kicks_backbeat      share of bars with drumd's own snare on 2 and 4 meanwhile (kept)
      tap_accent          share of a tapped syncopated figure's taps with a drumd kick or snare
      tap_hits_per_bar    drumd's hits per bar meanwhile (real grooves: about 15-19)
      handover_feel       after the half-time player stops (bar 5 on): share of bars with
                          drumd's snare on 3 (their feel carried on) ...
      handover_backbeat   ... with its snare on 2 and 4 (back to its own) ...
      handover_hits_per_bar  ... and its hits per bar (a whole groove again)
    """
    out: dict = {}
    for style in styles:
        out[style] = {}
        for f in follows:
            n = runs * (bars - 2)
            half = _total(accompany_run(ckpt, style, f, bars, seed + r, "halftime") for r in range(runs))
            kicks = _total(accompany_run(ckpt, style, f, bars, seed + r, "kicks") for r in range(runs))
            tap = _total(tap_run(ckpt, TAP_FIGURES["syncopated"], style, f, bars, seed + r) for r in range(runs))
            hand = _total(handover_run(ckpt, style, f, bars, seed + r) for r in range(runs))
            out[style][f"{f:g}"] = {
                "halftime_backbeat": half["backbeat"] / n, "halftime_doubled": half["doubled"] / n,
                "kicks_off": kicks["off_kick"] / n, "kicks_backbeat": kicks["backbeat"] / n,
                "tap_accent": tap["accent"] / max(tap["taps"], 1),
                "tap_hits_per_bar": tap["hits"] / max(tap["bars"], 1),
                "handover_feel": hand["on3"] / max(hand["bars"], 1),
                "handover_backbeat": hand["backbeat"] / max(hand["bars"], 1),
                "handover_hits_per_bar": hand["hits"] / max(hand["bars"], 1)}
    return out
