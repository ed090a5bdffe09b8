"""DrumMap: one vendor's note layout and what each note means in General MIDI."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, NamedTuple

# Drum classes, shared by every map; `nearest` translation moves between them (translate.py).
CLASSES = ("kick", "snare", "sidestick", "clap", "closed_hh", "pedal_hh", "open_hh",
           "low_tom", "mid_tom", "high_tom", "crash", "ride", "ride_bell", "china", "splash",
           "cowbell", "tambourine", "perc", "other")
GM_RANGE = range(35, 82)  # GM1 percussion key map
GM_CLOSED_HH, GM_OPEN_HH = 42, 46
_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MIDDLE_C = ("C3", "C4")


class MapError(ValueError):
    """A drum map that cannot be used. Messages read 'FILE:LINE: what was expected'."""


class Articulation(NamedTuple):
    name: str
    gm: int | None  # None: the kit has this note but GM has nothing like it
    cls: str


def note_name(note: int, middle_c: str = "C4") -> str:
    """'C1' for 36 when MIDI 60 is C3 (Toontrack, Yamaha); 'C2' when 60 is C4."""
    if middle_c not in MIDDLE_C:
        raise ValueError(f"middle_c must be one of {MIDDLE_C}, not {middle_c!r}")
    octave = note // 12 - (2 if middle_c == "C3" else 1)
    return f"{_NOTE_NAMES[note % 12]}{octave}"


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: maps are cached, not copied
class DrumMap:
    name: str
    title: str
    notes: Mapping[int, Articulation]
    preferred: Mapping[int, int] = field(default_factory=dict)  # GM -> note, as written in the file
    channel: int = 10  # 1-16, as users count
    aliases: tuple[str, ...] = ()
    product: Mapping[str, str] = field(default_factory=dict)
    middle_c: str = "C4"
    sources: tuple[str, ...] = ()
    remarks: tuple[str, ...] = ()
    uncertain: frozenset[int] = frozenset()
    # Notes whose openness the plugin takes from CC4 (0 = pedal up/open .. 127 = closed).
    hihat_pedal: frozenset[int] = frozenset()
    hihat_closed_at: int = 64
    path: Path | None = None
    origin: str = "file"  # "builtin", "user" or "file"
    _from_gm: Mapping[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        for gm, note in self.preferred.items():
            art = self.notes.get(note)
            if art is None or art.gm != gm:
                raise MapError(f"{self.name}: preferred {gm}: {note} must name a note that maps to GM {gm}")
        object.__setattr__(self, "_from_gm", MappingProxyType(self._choose_preferred()))

    def _choose_preferred(self) -> dict[int, int]:
        # GM notes without an explicit `preferred` entry play: the note with the GM number
        # itself if it means that drum (GM-like kits), else the lowest-numbered note that is
        # neither uncertain nor pedal-controlled, else the lowest note.
        candidates: dict[int, list[int]] = {}
        for note, art in sorted(self.notes.items()):
            if art.gm is not None:
                candidates.setdefault(art.gm, []).append(note)
        chosen = {}
        for gm, notes in candidates.items():
            if gm in self.preferred:
                chosen[gm] = self.preferred[gm]
            elif gm in notes:
                chosen[gm] = gm
            else:
                plain = [n for n in notes if n not in self.uncertain and n not in self.hihat_pedal]
                chosen[gm] = (plain or notes)[0]
        return chosen

    @property
    def gm_notes(self) -> frozenset[int]:
        """The GM notes this kit can play."""
        return frozenset(self._from_gm)

    def to_gm(self, note: int, cc4: int | None = None) -> int | None:
        """GM note for a vendor note (many-to-one), None if the map has no GM meaning for it.

        cc4 is the last hi-hat pedal value (CC4) on the channel; it decides open/closed for
        the notes the map lists under hihat_pedal and is ignored for all others."""
        art = self.notes.get(note)
        if art is None:
            return None
        if cc4 is not None and note in self.hihat_pedal:
            return GM_CLOSED_HH if cc4 >= self.hihat_closed_at else GM_OPEN_HH
        return art.gm

    def from_gm(self, gm: int) -> int | None:
        """The vendor note to play for a GM note, None if this kit has nothing for it."""
        return self._from_gm.get(gm)

    def note_name(self, note: int, convention: str | None = None) -> str:
        """Note name in `convention` ("C3" or "C4": the name of MIDI 60), default the vendor's."""
        return note_name(note, convention or self.middle_c)
