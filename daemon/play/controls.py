"""Live controls: what a player changes while drumd plays, by MIDI CC / program change.

Written by the input thread, read once per step by the engine thread; each field is one
attribute assignment, so no lock is needed (a step sees a control either before or after).
"""
from __future__ import annotations

import itertools

MODES = ("generate", "accompany", "call", "tap")
# Mute groups -> model class indices (kick, snare, closed_hh, open_hh, low/mid/high tom, crash, ride).
GROUPS = {"kick": (0,), "snare": (1,), "hats": (2, 3), "toms": (4, 5, 6), "cymbals": (7, 8)}

# CC 20-31 and 85-87 are undefined in the MIDI spec (free for this); 64 is the sustain pedal.
DEFAULT_CC = {
    "temperature": 20, "density": 21, "fill": 22, "style": 23, "mode": 24, "quantize": 25,
    "mute_kick": 26, "mute_snare": 27, "mute_hats": 28, "mute_toms": 29, "mute_cymbals": 30,
    "variation": 31, "fill_every": 85, "follow": 86, "unison": 87, "phrase_end": 64,
}
TEMPERATURE_RANGE = (0.2, 2.0)
DENSITY_RANGE = (-3.0, 3.0)
# fill_every by CC: the value's eighth of the range picks one of these (bars; 0 = never).
FILL_EVERY_CHOICES = (0, 1, 2, 4, 8, 12, 16, 32)
DEFAULT_VARIATION = 0.5
DEFAULT_FOLLOW = 0.8  # accompany: leaves the player their drums, gives way to their feel;
                      # tap: covers each tap (1 in 600 missed), the taps set the kicks
DEFAULT_FILL_EVERY = 8


class OneShot:
    """A request made on one thread (a CC on the input thread) and taken once on another (the
    engine's step), none lost. A boolean read and then cleared by the taker loses a request
    made between the two; here requests count up (itertools.count: next() is atomic under the
    GIL) and the taker remembers the last one it took. Requests made before one is taken are
    taken together, as one."""

    def __init__(self):
        self._count = itertools.count(1)
        self._made = 0
        self._taken = 0

    def request(self) -> None:
        """Ask once (the input thread); never blocks."""
        self._made = next(self._count)

    def take(self) -> bool:
        """True once for the requests made since the last take."""
        made = self._made
        if made > self._taken:
            self._taken = made
            return True
        return False

    def pending(self) -> bool:
        """Whether a request waits to be taken (not taking it)."""
        return self._made > self._taken


class LiveControls:
    """What the player controls live (see the module): the sampler's controls (temperature,
    top_p, density as a logit bias per hit, quantize, variation and follow 0..1, unison, fill_every
    in bars, 0 never), the mode (one of MODES), the style (one of `styles`, the model's), the
    muted groups (GROUPS' names) and the one-shot fill and phrase-end requests. `cc`: control
    name -> CC number over DEFAULT_CC. Written by the input thread, read by the engine thread
    (for_step), without a lock: each change is one attribute assignment."""

    def __init__(self, styles: list[str], style: str, mode: str = "generate",
                 temperature: float = 1.0, density: float = 0.0, quantize: float = 0.0,
                 top_p: float = 1.0, mute=(), cc: dict | None = None,
                 variation: float = DEFAULT_VARIATION, fill_every: int = DEFAULT_FILL_EVERY,
                 follow: float = DEFAULT_FOLLOW, unison: bool = False):
        self.styles = styles
        self.style, self.mode = style, mode
        self.temperature, self.density, self.quantize, self.top_p = temperature, density, quantize, top_p
        self.variation, self.fill_every, self.follow = variation, fill_every, follow
        self.unison = unison
        self.muted: frozenset[str] = frozenset(mute)
        self.fill_request = OneShot()        # the engine turns it into a fill at the next bar
        self.phrase_end_request = OneShot()  # call mode answers now
        self.by_number = {n: name for name, n in {**DEFAULT_CC, **(cc or {})}.items()}

    def control_change(self, number: int, value: int) -> str | None:
        """Apply CC `number` at `value` (0..127); returns the control's name if the number is
        one of ours, else None. A continuous control maps the value linearly onto its range
        (TEMPERATURE_RANGE, DENSITY_RANGE, else 0..1); style, mode and fill_every split 0..127
        evenly among their choices; mutes and unison are on at 64 and above; fill and phrase_end make a
        request (OneShot) for each message at 64 or above."""
        name = self.by_number.get(number)
        if name is None:
            return None
        x = value / 127
        on = value >= 64
        if name == "temperature":
            self.temperature = _lerp(TEMPERATURE_RANGE, x)
        elif name == "density":
            self.density = _lerp(DENSITY_RANGE, x)
        elif name == "quantize":
            self.quantize = x
        elif name == "variation":
            self.variation = x
        elif name == "follow":
            self.follow = x
        elif name == "unison":
            self.unison = on
        elif name == "fill_every":
            self.fill_every = FILL_EVERY_CHOICES[min(value * len(FILL_EVERY_CHOICES) // 128,
                                                     len(FILL_EVERY_CHOICES) - 1)]
        elif name == "style":
            self.style = self.styles[min(value * len(self.styles) // 128, len(self.styles) - 1)]
        elif name == "mode":
            self.mode = MODES[min(value * len(MODES) // 128, len(MODES) - 1)]
        elif name == "fill":
            if on:
                self.fill_request.request()
        elif name == "phrase_end":
            if on:
                self.phrase_end_request.request()
        elif name.startswith("mute_"):
            group = name[5:]
            self.muted = self.muted | {group} if on else self.muted - {group}
        return name

    def program_change(self, program: int) -> None:
        """Program change `program` (0..127) picks style number program mod len(styles)."""
        self.style = self.styles[program % len(self.styles)]

    def for_step(self, fill: bool):
        """The engine's Controls for the next step."""
        # Imported here: every `drumd` command imports this module for serve's options, and only
        # those that play need the engine (tests/test_cli_startup.py); after the first step it is a lookup.
        from drumd.engine.sampling.sampler import Controls
        return Controls(temperature=self.temperature, top_p=self.top_p, density=self.density,
                        mute=frozenset(c for g in self.muted for c in GROUPS[g]), fill=fill,
                        style=self.style, quantize=self.quantize, variation=self.variation,
                        fill_every=self.fill_every, follow=self.follow, unison=self.unison)


def _lerp(lo_hi, x):
    lo, hi = lo_hi
    return lo + (hi - lo) * x
