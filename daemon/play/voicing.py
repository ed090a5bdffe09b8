"""Notes in and out: player's vendor notes -> GM; the model's GM hits -> the plugin's notes."""
from __future__ import annotations

from drumd.mappings import Translator, load_map

CURVES = {"linear": 1.0, "soft": 1.6, "hard": 0.6}  # gamma: soft plays quieter, hard louder


def velocity_table(curve: str | float) -> tuple[int, ...]:
    """128 output velocities for `curve`: linear, soft, hard, or a gamma > 0 (v' = 127 (v/127)^g)."""
    if isinstance(curve, str) and curve in CURVES:
        gamma = CURVES[curve]
    else:
        try:
            gamma = float(curve)
        except ValueError:
            raise ValueError(f"velocity curve must be one of {', '.join(CURVES)} or a number, "
                             f"not {curve!r}") from None
        if not gamma > 0:
            raise ValueError(f"velocity curve gamma must be > 0, not {gamma}")
    return (0,) + tuple(max(1, min(127, round(127 * (v / 127) ** gamma))) for v in range(1, 128))


class Voicing:
    """GM -> the output kit's notes on one channel (nearest stand-in when the kit lacks a drum).

    `out_map`: a drum map's name or path (mappings.load_map); `channel`: 1-16; `curve`: as
    velocity_table takes it. Raises ValueError for a channel outside 1-16 or a bad curve,
    MapError for a map that cannot be loaded. Read-only once built: the engine and input
    (thru) threads share it."""

    def __init__(self, out_map: str = "gm", channel: int = 10, curve: str | float = "linear"):
        if not 1 <= channel <= 16:
            raise ValueError(f"channel must be 1-16, not {channel}")
        self.table = Translator("gm", out_map, unmapped="nearest").table
        self.status_on = 0x90 | (channel - 1)
        self.velocity = velocity_table(curve)

    def note_on(self, gm: int, velocity: int) -> list[int] | None:
        """The note-on [status, note, velocity] for GM note `gm` (0..127) at `velocity`
        (within 1..127, then through the curve), or None when the kit has no stand-in."""
        note = self.table[gm]
        if note < 0:
            return None
        return [self.status_on, note, self.velocity[max(1, min(127, velocity))]]


class PlayerInput:
    """The player's kit (vendor map) -> GM, following the hi-hat pedal (CC4) per channel.

    `in_map`: a drum map's name or path; MapError when it cannot be loaded. Used on the input
    thread only."""

    def __init__(self, in_map: str = "gm"):
        self.map = load_map(in_map)
        self.cc4: dict[int, int] = {}

    def control(self, channel: int, cc: int, value: int) -> None:
        """A CC from the player on `channel` (0-15): CC4, the hi-hat pedal (0..127, at or
        above the map's hihat_closed_at: closed), is kept for that channel's next notes;
        other CCs are ignored."""
        if cc == 4:
            self.cc4[channel] = value

    def to_gm(self, channel: int, note: int) -> int | None:
        """GM note for the player's `note` (0..127) on `channel` (0-15), open or closed hat as
        that channel's pedal says; None when the map has no GM hit for it (a choke, a note it
        does not list)."""
        return self.map.to_gm(note, self.cc4.get(channel))
