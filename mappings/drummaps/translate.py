"""Translator: vendor note -> GM -> vendor note, as 128-entry tables for real-time use.

Unmapped notes (the source map lacks the note, has no GM meaning for it, or the destination
kit has nothing for its GM note) follow a policy:
  drop     leave them out
  pass     keep the source note number unchanged
  nearest  play the destination's closest stand-in: the first class in NEIGHBOURS[class of
           the source note] that the destination kit can play, and within that class the GM
           note numerically closest to the source's GM note (lower on ties; the lowest when
           the source note has no GM meaning). A note of class "other" (an instrument the
           map cannot name, e.g. an AUX pad) takes the class of its GM guess. Notes the
           source map lacks have no class and are dropped.
Whatever the policy does with them, unmapped notes are counted in Translator.unmapped.

Chokes (notes that stop a ringing cymbal, DrumMap kind "choke") are never hits: a source
choke plays the destination's choke of the same GM cymbal, else the choke of the cymbal that
cymbal's hits land on (under `nearest`, another crash), else it is dropped whatever the
policy, and counted in Translator.chokes_dropped. No hit lands on a choke (`pass` drops a
note whose number is a choke in the destination).
"""
from __future__ import annotations

from collections import Counter

from drumd.mappings.drummaps.drummap import DrumMap
from drumd.mappings.drummaps.loader import gm_note, load_map

POLICIES = ("drop", "pass", "nearest")
DROP = -1

# Stand-ins keep the drum's role in a groove: time-keepers stay time-keepers (hats, rides),
# accents stay accents (crash, china, splash), toms stay toms. A kick has no stand-in.
NEIGHBOURS = {
    "kick": ("kick",),
    "snare": ("snare", "sidestick", "clap"),
    "sidestick": ("sidestick", "snare"),
    "clap": ("clap", "snare"),
    "closed_hh": ("closed_hh", "pedal_hh", "ride"),
    "pedal_hh": ("pedal_hh", "closed_hh"),
    "open_hh": ("open_hh", "closed_hh"),
    "low_tom": ("low_tom", "mid_tom", "high_tom"),
    "mid_tom": ("mid_tom", "low_tom", "high_tom"),
    "high_tom": ("high_tom", "mid_tom", "low_tom"),
    "crash": ("crash", "china", "splash"),
    "china": ("china", "crash", "splash"),
    "splash": ("splash", "crash", "china"),
    "ride": ("ride", "ride_bell"),
    "ride_bell": ("ride_bell", "ride", "cowbell"),
    "cowbell": ("cowbell", "perc", "ride_bell"),
    "tambourine": ("tambourine", "perc"),
    "perc": ("perc", "cowbell", "tambourine"),
    "other": ("other", "perc"),
}

# Representative CC4 values for the open and closed tables (any value on the right side of
# the source map's threshold gives the same result).
_CC4_OPEN, _CC4_CLOSED = 0, 127


class Translator:
    """Vendor -> vendor note translation through GM.

    table, table_cc4_open, table_cc4_closed: tuples of 128 output notes (DROP = -1) for CC4
    unknown / below / at or above src.hihat_closed_at; they differ only for the source
    map's hihat_pedal notes. table_for(cc4) picks one. note() looks up and counts.

    src, dst: DrumMaps or anything load_map takes (MapError for an unknown name or a bad file);
    ValueError for an `unmapped` policy not in POLICIES.
    """

    def __init__(self, src: DrumMap | str, dst: DrumMap | str, unmapped: str = "drop"):
        if unmapped not in POLICIES:
            raise ValueError(f"unmapped must be one of {', '.join(POLICIES)}, not {unmapped!r}")
        self.src, self.dst, self.policy = load_map(src), load_map(dst), unmapped
        self.unmapped: Counter[int] = Counter()
        self.chokes_dropped: Counter[int] = Counter()  # source choke note -> count
        self._by_class: dict[str, list[int]] = {}
        for gm in sorted(self.dst.gm_notes):
            cls = self.dst.notes[self.dst.from_gm(gm)].cls
            self._by_class.setdefault(cls, []).append(gm)
        self._chokes = self._choke_table()
        self.table, self._indirect = self._build(None)
        if self.src.hihat_pedal:
            self.table_cc4_open, self._indirect_open = self._build(_CC4_OPEN)
            self.table_cc4_closed, self._indirect_closed = self._build(_CC4_CLOSED)
        else:
            self.table_cc4_open = self.table_cc4_closed = self.table
            self._indirect_open = self._indirect_closed = self._indirect

    def __repr__(self):
        return f"Translator({self.src.name!r}, {self.dst.name!r}, unmapped={self.policy!r})"

    def _choke_table(self) -> dict[int, int]:
        """{source choke note: destination choke note or DROP}."""
        out = {}
        for note, art in self.src.notes.items():
            if not art.is_choke:
                continue
            choke = self.dst.choke_for(art.gm)
            if choke is None:  # the cymbal its hits land on, if that one has a choke
                hit = self.dst.from_gm(art.gm)
                if hit is None and self.policy == "nearest":
                    hit = self._unmapped(None, art.gm, art.cls)
                if hit is not None and hit != DROP and self.dst.notes[hit].gm is not None:
                    choke = self.dst.choke_for(self.dst.notes[hit].gm)
            out[note] = DROP if choke is None else choke
        return out

    def _build(self, cc4: int | None) -> tuple[tuple[int, ...], frozenset[int]]:
        table, indirect = [], set()
        for note in range(128):
            if note in self._chokes:
                table.append(self._chokes[note])
                continue
            gm = self.src.to_gm(note, cc4)
            out = self.dst.from_gm(gm) if gm is not None else None
            if out is None:
                indirect.add(note)
                out = self._unmapped(note, gm)
            table.append(out)
        return tuple(table), frozenset(indirect)

    def _unmapped(self, note: int | None, gm: int | None, cls: str | None = None) -> int:
        if self.policy == "pass":
            dst = self.dst.notes.get(note)
            return DROP if dst is not None and dst.is_choke else note
        art = self.src.notes.get(note) if cls is None else None
        if self.policy == "nearest" and (art is not None or cls is not None):
            cls = cls or art.cls
            own = gm_note(gm).cls if cls == "other" and gm is not None else cls
            for cls in NEIGHBOURS[own]:
                candidates = self._by_class.get(cls)
                if candidates:
                    best = (candidates[0] if gm is None
                            else min(candidates, key=lambda c: (abs(c - gm), c)))
                    return self.dst.from_gm(best)
        return DROP

    def table_for(self, cc4: int | None) -> tuple[int, ...]:
        """The 128-note table (output note or DROP per input note) for the hi-hat pedal's CC4 value
        `cc4` (0-127; None: not known yet)."""
        if cc4 is None:
            return self.table
        return self.table_cc4_closed if cc4 >= self.src.hihat_closed_at else self.table_cc4_open

    def is_unmapped(self, note: int, cc4: int | None = None) -> bool:
        """True if the note has no direct equivalent (the policy decided its output)."""
        if cc4 is None:
            return note in self._indirect
        if cc4 >= self.src.hihat_closed_at:
            return note in self._indirect_closed
        return note in self._indirect_open

    def note(self, note: int, cc4: int | None = None) -> int | None:
        """Output note for a source note-on (None: drop it); unmapped notes and dropped
        chokes are counted."""
        if self.is_unmapped(note, cc4):
            self.unmapped[note] += 1
        out = self.table_for(cc4)[note]
        if out == DROP and note in self._chokes:
            self.chokes_dropped[note] += 1
        return None if out == DROP else out
