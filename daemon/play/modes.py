"""How drumd plays with a person: what to ask of the model at each step, per mode.

  generate   the model plays on its own (style, controls), no primer
  accompany  drumd plays continuously; the player's hits on the step just played are merged
             into what the model saw (Sampler.amend_last) before the next step is computed,
             so it follows the player: it leaves them the drums they repeat (Controls.follow)
             or, in unison (Controls.unison), plays those drums with them
  tap        drumd plays continuously; the player taps a rhythm on any one key (any note,
             any channel: a tap is not a drum, never echoed) and drumd's accents follow it:
             the taps of the last steps are told to the sampler (Sampler.tap) before the next
             step is computed, and it covers the 16ths tapped one or two bars ago with a kick
             or snare at the tap's velocity (Controls.follow)
  call       call and response: drumd listens; when the player's phrase ends (`silence_beats`
             without a hit, or the phrase-end pedal/CC) drumd primes the model with the
             player's last `bars` bars (a phrase that ends with a hit on a downbeat: the
             bars before that downbeat; see Call.phrase) and answers that many bars from
             the next bar line, then listens again
Bars are of the session's meter (`--meter`; MIDI clock carries none), counted from song
position 0.
"""
from __future__ import annotations

import math

from drumd.engine.data.encoding import Hit, Step
from drumd.mappings.basics.grid import STEPS_PER_BAR, STEPS_PER_BEAT


class PlayerLog:
    """The player's hits (GM), by the step they fall nearest to."""

    def __init__(self, keep_steps: int = 8 * STEPS_PER_BAR):
        self.keep = keep_steps
        self.by_step: dict[int, list[Hit]] = {}
        self.last_pos: float | None = None

    def add(self, pos: float, pitch: int, velocity: int) -> None:
        """A hit at song position `pos` (16ths, fractional), GM `pitch`, `velocity` 1-127: kept
        on the nearest step with its offset (-0.5..0.5 steps); steps older than `keep` are
        dropped. Input thread only."""
        step = math.floor(pos + 0.5)
        self.by_step.setdefault(step, []).append(Hit(pitch, velocity, min(pos - step, 0.5 - 1e-6)))
        self.last_pos = pos if self.last_pos is None else max(self.last_pos, pos)
        for old in [s for s in self.by_step if s < step - self.keep]:
            del self.by_step[old]

    def hits(self, step: int) -> tuple[Hit, ...]:
        """The player's hits on 16th `step` (empty if none or forgotten)."""
        return tuple(self.by_step.get(step, ()))

    def steps(self, lo: int, hi: int) -> list[Step]:
        """Steps `lo` .. `hi` - 1 as the model's Steps (a primer), one per 16th."""
        return [Step(self.hits(s)) for s in range(lo, hi)]

    def clear(self) -> None:
        """Forget every hit (a new song position: the old ones are of another place)."""
        self.by_step.clear()
        self.last_pos = None


class Generate:
    """The model plays on its own; the base of the continuous modes (accompany, tap)."""
    name = "generate"

    def __init__(self, meter: tuple[int, int] = (4, 4)):
        self.meter = tuple(meter)

    def start(self, sampler, k: int, style: str, bpm: float, primer) -> None:
        """Restart at 16th `k` (a new song position, or the guitar back): the sampler is reset
        to `style` at `bpm`, continuing `primer` (Steps, whole bars ending at k; may be empty)."""
        sampler.reset(primer=primer, style=style, bpm=bpm, step_index=k, meter=self.meter)

    def step(self, sampler, k: int, controls, player: PlayerLog, pedal: bool = False):
        """Step `k` to play (a Step; None: play nothing), computed before it sounds. `player`
        holds what the player has played so far, `pedal` is a phrase-end request (call mode)."""
        return sampler.step(controls)


class Accompany(Generate):
    """The model plays on, hearing the player's hits on the step just played as part of it."""
    name = "accompany"

    def step(self, sampler, k: int, controls, player: PlayerLog, pedal: bool = False):
        sampler.amend_last(player.hits(k - 1))
        return sampler.step(controls)


class Tap(Generate):
    """The model plays on; the player's taps (any note) steer its kicks and snare accents."""
    name = "tap"

    def step(self, sampler, k: int, controls, player: PlayerLog, pedal: bool = False):
        # The last two steps: a tap quantised to step k-1 may have arrived after step k was
        # computed (at k - 0.75); Sampler.tap keeps one tap once, however often it is told.
        for s in (k - 2, k - 1):
            for hit in player.hits(s):
                sampler.tap(s, hit.velocity)
        return sampler.step(controls)


class Call:
    """Call and response: listen to a phrase, answer it for `bars` bars, listen again."""
    name = "call"

    def __init__(self, bars: int = 2, silence_beats: float = 1.0, meter: tuple[int, int] = (4, 4)):
        self.bars, self.silence = bars, silence_beats * STEPS_PER_BEAT
        self.meter = tuple(meter)
        self.per_bar = 16 * self.meter[0] // self.meter[1]  # 16ths in a bar
        self.answer_end: int | None = None
        self.listen_from = -math.inf
        self.style, self.bpm = None, 120.0

    def start(self, sampler, k: int, style: str, bpm: float, primer) -> None:
        """Listen from 16th `k` on (the primer is ignored: the answer is primed by the phrase)."""
        self.answer_end, self.listen_from, self.style, self.bpm = None, k, style, bpm

    def phrase_ended(self, k: int, player: PlayerLog, pedal: bool) -> bool:
        """At bar line k: did the player play a phrase that is over by the time k sounds?"""
        last = player.last_pos
        if k % self.per_bar or last is None or last < self.listen_from - 0.5:
            return False
        return pedal or k - math.floor(last + 0.5) >= self.silence  # on the player's grid step

    def step(self, sampler, k: int, controls, player: PlayerLog, pedal: bool = False):
        """Step `k` of the answer, or None while listening; at a bar line after a phrase has
        ended (or on `pedal`), the sampler is primed with it and the answer starts."""
        if self.answer_end is not None and k < self.answer_end:
            return sampler.step(controls)
        self.answer_end = None
        if not self.phrase_ended(k, player, pedal):
            return None
        primer, carry = self.phrase(k, player)
        sampler.reset(primer=primer, style=controls.style or self.style, bpm=self.bpm, step_index=k,
                      meter=self.meter)
        self.answer_end = k + self.bars * self.per_bar
        self.listen_from = k
        if carry is not None:  # the player's downbeat hit is on k itself: heard, not replayed
            sampler.step(controls, observed=carry)
            return Step()
        return sampler.step(controls)

    def phrase(self, k: int, player: PlayerLog) -> tuple[list[Step], Step | None]:
        """The primer for an answer from bar line k: the player's last `bars` whole bars.

        They end at the bar line after the player's last hit, or, when that hit is on a bar
        line (a phrase ending with a crash on the next downbeat), at that bar line: the
        downbeat is not a bar of the phrase. It was played, so the model hears it in its place
        (the primer goes on with that bar, the hit then rests) and drumd does not replay it;
        if it is on k itself it is returned as the carry, the answer's first step as observed.
        The primer is fed ending just before k: when the player rested a whole bar or more
        after the phrase, those silent bars are left out (the bar phase stays exact).
        """
        last = math.floor(player.last_pos + 0.5)  # the player's last hit, on its grid step
        end = -(-last // self.per_bar) * self.per_bar  # the downbeat itself if it is on one
        lo = end - self.bars * self.per_bar
        if last != end or end < k:
            return player.steps(lo, end + (self.per_bar if last == end else 0)), None
        return player.steps(lo, end), Step(player.hits(end))


def make_mode(name: str, bars: int, silence_beats: float, meter: tuple[int, int] = (4, 4)):
    """The mode called `name` (one of MODES; unknown names play as generate). `bars` and
    `silence_beats` are call mode's (bars of answer; beats of silence that end a phrase)."""
    if name == "call":
        return Call(bars, silence_beats, meter)
    return {"accompany": Accompany, "tap": Tap}.get(name, Generate)(meter)
