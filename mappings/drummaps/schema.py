"""Drum-map YAML -> DrumMap, validated; every error names the file and line.

The text is composed to a YAML node tree rather than loaded to dicts: nodes keep their
line numbers, and duplicate keys (which PyYAML's loader silently collapses to the last one)
stay visible.

File layout (see maps/*.yaml):
  name, title                 required strings; name is the id users type
  aliases                     other ids for the same map
  product                     {vendor, product, version}
  octave                      {middle_c: C3 | C4}: what the vendor's UI calls MIDI 60
  channel                     default MIDI channel 1-16 (10)
  sources, remarks            lists of strings
  uncertain                   notes whose meaning or GM choice is a guess
  hihat_pedal                 {closed_at: CC4 value, notes: [...]}: notes whose openness
                              follows CC4 (>= closed_at: GM 42, below: GM 46)
  notes                       {note: {name, gm (GM note 35-81 or null), class, kind}}; kind
                              is hit (the default) or choke: a note that stops a ringing
                              cymbal, whose gm and class are the cymbal's
  preferred                   {GM note: note}: what to play for a GM note; where the kit has
                              no hit of that GM note, a stand-in hit of another (a fold)
"""
from __future__ import annotations

import re
from types import MappingProxyType

import yaml

from drumd.mappings.drummaps.drummap import (CLASSES, GM_RANGE, KINDS, MIDDLE_C, Articulation, DrumMap,
                                             MapError, fold_problem)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ID = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
_ID_HELP = "lower-case letters, digits, '.', '_' or '-'"

# key -> required?
_TOP = {"name": True, "title": True, "aliases": False, "product": False, "octave": False,
        "channel": False, "sources": False, "remarks": False, "uncertain": False,
        "hihat_pedal": False, "notes": True, "preferred": False}
_NOTE = {"name": True, "gm": True, "class": True, "kind": False}
_PRODUCT = {"vendor": False, "product": False, "version": False}
_OCTAVE = {"middle_c": True}
_PEDAL = {"closed_at": True, "notes": True}


class _Reader:
    def __init__(self, filename: str):
        self.filename = filename
        self.construct = yaml.constructor.SafeConstructor()

    def fail(self, node, msg: str):
        raise MapError(f"{self.filename}:{node.start_mark.line + 1}: {msg}")

    def scalar(self, node, what: str):
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"{what}: expected a single value, got a {_kind(node)}")
        try:
            return self.construct.construct_object(node)
        except yaml.YAMLError as e:  # e.g. an unknown !tag
            self.fail(node, f"{what}: {getattr(e, 'problem', None) or e}")

    def string(self, node, what: str) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str) or not value.strip():
            self.fail(node, f"{what}: expected a non-empty string, got {value!r}")
        return value

    def ident(self, node, what: str) -> str:
        value = self.string(node, what)
        if not _ID.match(value):
            self.fail(node, f"{what}: expected an id of {_ID_HELP}, got {value!r}")
        return value

    def integer(self, node, what: str, lo: int, hi: int, expected: str) -> int:
        value = self.scalar(node, what)
        if type(value) is not int or not lo <= value <= hi:
            self.fail(node, f"{what}: expected {expected}, got {value!r}")
        return value

    def note(self, node, what: str) -> int:
        return self.integer(node, what, 0, 127, "a MIDI note number 0-127")

    def sequence(self, node, what: str) -> list:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{what}: expected a list, got a {_kind(node)}")
        return node.value

    def pairs(self, node, what: str, key) -> list[tuple[object, object, object]]:
        """(key value, key node, value node) of a mapping; duplicate keys are errors."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what}: expected a mapping, got a {_kind(node)}")
        seen, out = {}, []
        for k, v in node.value:
            value = key(k)
            if value in seen:
                self.fail(k, f"{what}: duplicate key {value!r} (first at line {seen[value]})")
            seen[value] = k.start_mark.line + 1
            out.append((value, k, v))
        return out

    def fields(self, node, what: str, spec: dict[str, bool]) -> dict:
        """Value nodes of a mapping with fixed keys; unknown or missing keys are errors."""
        found = {}
        for name, k, v in self.pairs(node, what, lambda k: self.scalar(k, f"{what} key")):
            if name not in spec:
                self.fail(k, f"{what}: unknown key {name!r}; expected one of: {', '.join(spec)}")
            found[name] = v
        for name, required in spec.items():
            if required and name not in found:
                self.fail(node, f"{what}: missing key {name!r}")
        return found


def _kind(node) -> str:
    return {yaml.MappingNode: "mapping", yaml.SequenceNode: "list"}.get(type(node), "value")


def parse_map(text: str, filename: str, expect_name: str | None = None, **extra) -> DrumMap:
    """DrumMap from YAML text. filename names the file in errors; expect_name, when given, is the
    id the map must carry (files in the map folders are found by file name); extra goes to
    DrumMap (path, origin)."""
    r = _Reader(filename)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        where = (f" ({e.context} at line {e.context_mark.line + 1})"
                 if e.problem and e.context and e.context_mark else "")
        raise MapError(f"{filename}{line}: not valid YAML: {e.problem or e.context}{where}") from None
    except yaml.YAMLError as e:
        raise MapError(f"{filename}: not valid YAML: {e}") from None
    if root is None:
        raise MapError(f"{filename}:1: empty file; expected a drum map (name, title, notes)")
    top = r.fields(root, "drum map", _TOP)

    name = r.ident(top["name"], "name")
    if expect_name is not None and name != expect_name:
        r.fail(top["name"], f"name: expected {expect_name!r} (the file name), got {name!r}")
    notes = _notes(r, top["notes"])
    uncertain = _note_list(r, top.get("uncertain"), "uncertain", notes)
    pedal_notes, closed_at = frozenset(), 64
    if "hihat_pedal" in top:
        pedal = r.fields(top["hihat_pedal"], "hihat_pedal", _PEDAL)
        closed_at = r.integer(pedal["closed_at"], "hihat_pedal closed_at", 1, 127,
                              "a CC4 value 1-127 from which the hi-hat counts as closed")
        pedal_notes = _note_list(r, pedal["notes"], "hihat_pedal notes", notes)
    middle_c = "C4"
    if "octave" in top:
        node = r.fields(top["octave"], "octave", _OCTAVE)["middle_c"]
        middle_c = r.scalar(node, "octave middle_c")
        if middle_c not in MIDDLE_C:
            r.fail(node, f"octave middle_c: expected one of {', '.join(MIDDLE_C)} "
                         f"(the name the vendor gives MIDI note 60), got {middle_c!r}")
    product = {}
    if "product" in top:
        product = {k: r.string(v, f"product {k}")
                   for k, v in r.fields(top["product"], "product", _PRODUCT).items()}
    aliases = ()
    if "aliases" in top:
        aliases = tuple(r.ident(n, "aliases") for n in r.sequence(top["aliases"], "aliases"))
    channel = 10
    if "channel" in top:
        channel = r.integer(top["channel"], "channel", 1, 16, "a MIDI channel 1-16")
    return DrumMap(
        name=name,
        title=r.string(top["title"], "title"),
        notes=MappingProxyType(notes),
        preferred=MappingProxyType(_preferred(r, top.get("preferred"), notes)),
        channel=channel,
        aliases=aliases,
        product=MappingProxyType(product),
        middle_c=middle_c,
        sources=_strings(r, top.get("sources"), "sources"),
        remarks=_strings(r, top.get("remarks"), "remarks"),
        uncertain=uncertain,
        hihat_pedal=pedal_notes,
        hihat_closed_at=closed_at,
        **extra,
    )


def _notes(r: _Reader, node) -> dict[int, Articulation]:
    notes = {}
    for note, _, v in r.pairs(node, "notes", lambda k: r.note(k, "notes key")):
        what = f"notes {note}"
        f = r.fields(v, what, _NOTE)
        gm = r.scalar(f["gm"], f"{what} gm")
        if gm is not None and (type(gm) is not int or gm not in GM_RANGE):
            r.fail(f["gm"], f"{what} gm: expected a GM percussion note {GM_RANGE.start}-"
                            f"{GM_RANGE.stop - 1} or null (no GM equivalent), got {gm!r}")
        cls = r.scalar(f["class"], f"{what} class")
        if cls not in CLASSES:
            r.fail(f["class"], f"{what} class: expected one of {', '.join(CLASSES)}, got {cls!r}")
        kind = "hit"
        if "kind" in f:
            kind = r.scalar(f["kind"], f"{what} kind")
            if kind not in KINDS:
                r.fail(f["kind"], f"{what} kind: expected one of {', '.join(KINDS)}, got {kind!r}")
            if kind == "choke" and gm is None:
                r.fail(f["gm"], f"{what} gm: a choke names the GM cymbal it stops, got null")
        notes[note] = Articulation(r.string(f["name"], f"{what} name"), gm, cls, kind)
    if not notes:
        r.fail(node, "notes: expected at least one note")
    return notes


def _note_list(r: _Reader, node, what: str, notes: dict) -> frozenset[int]:
    if node is None:
        return frozenset()
    out = set()
    for item in r.sequence(node, what):
        n = r.note(item, what)
        if n not in notes:
            r.fail(item, f"{what}: note {n} is not under notes")
        if n in out:
            r.fail(item, f"{what}: note {n} listed twice")
        out.add(n)
    return frozenset(out)


def _preferred(r: _Reader, node, notes: dict) -> dict[int, int]:
    if node is None:
        return {}
    # a GM note the kit has hits of plays one of them; one it has none of may fold onto another
    own = {a.gm for a in notes.values() if a.gm is not None and not a.is_choke}
    out = {}
    for gm, k, v in r.pairs(node, "preferred", lambda k: r.scalar(k, "preferred key")):
        if type(gm) is not int or gm not in GM_RANGE:
            r.fail(k, f"preferred: expected a GM note {GM_RANGE.start}-{GM_RANGE.stop - 1} "
                      f"as key, got {gm!r}")
        note = r.note(v, f"preferred {gm}")
        if note not in notes:
            r.fail(v, f"preferred {gm}: note {note} is not under notes")
        if notes[note].is_choke:
            r.fail(v, f"preferred {gm}: expected a hit, but note {note} is a choke")
        if notes[note].gm != gm and gm in own:
            r.fail(v, f"preferred {gm}: expected a note that maps to GM {gm}, "
                      f"but note {note} maps to GM {notes[note].gm}")
        if notes[note].gm != gm and (why := fold_problem(gm, notes[note].cls)):
            r.fail(v, f"preferred {gm}: {why}")
        out[gm] = note
    return out


def _strings(r: _Reader, node, what: str) -> tuple[str, ...]:
    if node is None:
        return ()
    return tuple(r.string(item, what) for item in r.sequence(node, what))
