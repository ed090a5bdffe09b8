"""DrumMap: one vendor's note layout and what each note means in General MIDI."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, NamedTuple

from drumd.mappings.basics.errors import DrumdError

# Drum classes, shared by every map; `nearest` translation moves between them (translate.py).
CLASSES = ("kick", "snare", "sidestick", "clap", "closed_hh", "pedal_hh", "open_hh",
           "low_tom", "mid_tom", "high_tom", "crash", "ride", "ride_bell", "china", "splash",
           "cowbell", "tambourine", "perc", "other")
# What playing a note does. A hit sounds a drum (the note's GM note is that drum); a choke
# stops a ringing cymbal (a grab, a choke, a cymbal "mute": its GM note is the cymbal it
# stops). A choke is never translated into a hit, nor a hit into a choke (translate.py).
KINDS = ("hit", "choke")
GM_RANGE = range(35, 82)  # GM1 percussion key map
# A fold (a GM note played on a note of another GM note, `preferred`) stays in its family.
FAMILY = {"kick": "kick", "snare": "snare", "sidestick": "snare", "clap": "snare",
          "closed_hh": "hi-hat", "pedal_hh": "hi-hat", "open_hh": "hi-hat",
          "low_tom": "tom", "mid_tom": "tom", "high_tom": "tom",
          "crash": "cymbal", "china": "cymbal", "splash": "cymbal", "ride": "cymbal",
          "ride_bell": "cymbal", "cowbell": "percussion", "tambourine": "percussion",
          "perc": "percussion", "other": "other"}
GM_CLOSED_HH, GM_OPEN_HH = 42, 46
_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MIDDLE_C = ("C3", "C4")


class MapError(DrumdError, ValueError):
    """A drum map that cannot be used. Messages read 'FILE:LINE: what was expected'."""


def fold_problem(gm: int, cls: str) -> str | None:
    """Why a hit of class cls cannot stand in for GM note gm (None: it can)."""
    from drumd.mappings.drummaps.loader import gm_classes  # the GM table is itself a map
    want = gm_classes().get(gm)
    if want is None or FAMILY[want] != FAMILY[cls]:
        return f"a stand-in for GM {gm} ({want}) must be of its family ({FAMILY.get(want)}), not {cls}"
    return None


class Articulation(NamedTuple):
    """What one of a kit's notes is: its name in the vendor's documentation, its GM note (35-81, or
    None), its drum class (CLASSES) and its kind (KINDS)."""
    name: str
    gm: int | None  # None: the kit has this note but GM has nothing like it
    cls: str
    kind: str = "hit"  # KINDS; a choke's gm and cls are those of the cymbal it stops

    @property
    def is_choke(self) -> bool:
        """Whether it stops a cymbal instead of sounding one."""
        return self.kind == "choke"


def note_name(note: int, middle_c: str = "C4") -> str:
    """'C1' for 36 when MIDI 60 is C3 (Toontrack, Yamaha); 'C2' when 60 is C4."""
    if middle_c not in MIDDLE_C:
        raise ValueError(f"middle_c must be one of {MIDDLE_C}, not {middle_c!r}")
    octave = note // 12 - (2 if middle_c == "C3" else 1)
    return f"{_NOTE_NAMES[note % 12]}{octave}"


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: maps are cached, not copied
class DrumMap:
    """One kit's note layout: {note 0-127: Articulation}, and GM -> note for playing. Notes are MIDI
    note numbers; `channel` counts 1-16. Built by the loader (read_map / load_map), which validates
    the YAML; constructing one directly raises MapError for a `preferred` entry that does not name a
    hit of that GM note or, as a fold, a hit of its family."""
    name: str
    title: str
    notes: Mapping[int, Articulation]
    # GM -> note, as written in the file. A GM note the kit has no note of its own for may
    # name a stand-in hit of another GM note (a fold: a 2-tom kit plays GM's six toms).
    preferred: Mapping[int, int] = field(default_factory=dict)
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
    _chokes: Mapping[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        own = {a.gm for a in self.notes.values() if a.gm is not None and not a.is_choke}
        for gm, note in self.preferred.items():
            art = self.notes.get(note)
            if art is None or art.is_choke or (gm in own and art.gm != gm):
                raise MapError(f"{self.name}: preferred {gm}: {note} must name a hit that maps to GM {gm}"
                               " (or, if the kit has none, a stand-in hit)")
            if art.gm != gm and (why := fold_problem(gm, art.cls)):
                raise MapError(f"{self.name}: preferred {gm}: {why}")
        object.__setattr__(self, "_from_gm", MappingProxyType(self._choose_preferred()))
        object.__setattr__(self, "_chokes", MappingProxyType(self._choose_chokes()))

    def _choose(self, notes: list[tuple[int, Articulation]]) -> dict[int, int]:
        # For each GM note: the note with the GM number itself if it means that (GM-like
        # kits), else the lowest-numbered note that is neither uncertain nor pedal-controlled,
        # else the lowest note.
        candidates: dict[int, list[int]] = {}
        for note, art in notes:
            if art.gm is not None:
                candidates.setdefault(art.gm, []).append(note)
        chosen = {}
        for gm, found in candidates.items():
            if gm in found:
                chosen[gm] = gm
            else:
                plain = [n for n in found if n not in self.uncertain and n not in self.hihat_pedal]
                chosen[gm] = (plain or found)[0]
        return chosen

    def _choose_preferred(self) -> dict[int, int]:
        # The hits; a GM note without an explicit `preferred` entry: see _choose.
        chosen = self._choose([(n, a) for n, a in sorted(self.notes.items()) if not a.is_choke])
        chosen.update(self.preferred)
        return chosen

    def _choose_chokes(self) -> dict[int, int]:
        # The choke of a GM cymbal is the one nearest the note played for its hits (vendors
        # put a cymbal's choke beside its hit: 49/50, 55/56); on a tie, a plain note before an
        # uncertain one, then the lower.
        chosen: dict[int, int] = {}
        for gm in sorted({a.gm for a in self.notes.values() if a.is_choke}):
            hit = self._from_gm.get(gm)
            chosen[gm] = min((n for n, a in self.notes.items() if a.is_choke and a.gm == gm),
                             key=lambda n: (0 if hit is None else abs(n - hit),
                                            n in self.uncertain, n))
        return chosen

    @property
    def gm_notes(self) -> frozenset[int]:
        """The GM notes this kit can play."""
        return frozenset(self._from_gm)

    def to_gm(self, note: int, cc4: int | None = None) -> int | None:
        """GM note for a vendor note (many-to-one), None if the map has no GM meaning for it
        or the note is no hit (a choke: see choke_of).

        cc4 is the last hi-hat pedal value (CC4) on the channel; it decides open/closed for
        the notes the map lists under hihat_pedal and is ignored for all others."""
        art = self.notes.get(note)
        if art is None or art.is_choke:
            return None
        if cc4 is not None and note in self.hihat_pedal:
            return GM_CLOSED_HH if cc4 >= self.hihat_closed_at else GM_OPEN_HH
        return art.gm

    def from_gm(self, gm: int) -> int | None:
        """The vendor note to play for a GM note, None if this kit has nothing for it."""
        return self._from_gm.get(gm)

    def choke_of(self, note: int) -> int | None:
        """The GM cymbal a choke note stops, None if the note is no choke."""
        art = self.notes.get(note)
        return art.gm if art is not None and art.is_choke else None

    def choke_for(self, gm: int) -> int | None:
        """The note that stops this kit's cymbal for GM note gm, None if it has none."""
        return self._chokes.get(gm)

    @property
    def folds(self) -> Mapping[int, int]:
        """{GM note: stand-in note} for the GM notes the kit plays on a note of another GM note."""
        return MappingProxyType({gm: n for gm, n in self.preferred.items() if self.notes[n].gm != gm})

    def note_name(self, note: int, convention: str | None = None) -> str:
        """Note name in `convention` ("C3" or "C4": the name of MIDI 60), default the vendor's."""
        return note_name(note, convention or self.middle_c)
