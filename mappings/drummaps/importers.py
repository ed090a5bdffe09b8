"""`drumd maps import`: a drum map from the note names a DAW or plugin already has.

Three formats, told apart by their content (not their file name):
  MIDNAM        MIDINameDocument XML: <Note Number="36" Name="Kick"/> in a <NoteNameList>
  Cubase .drm   <DrumMap> XML: <list name="Map"> of <item>s with <int name="INote|ONote">
                and <string name="Name">; the plugin's note is ONote (what Cubase sends)
  Reaper        text lines "NOTE NAME"; comments start with # ; or //, "CC<n> NAME" lines
                name controllers and are skipped

Each name is read as words (camelCase and "Crash1Chk" split, abbreviations such as Ctr, Chk,
Sidestk, HH, BD known) and given a GM note, a class and a kind (a cymbal choke, stop, mute or
grab is a choke). Toms are ordered high to low by their names (floor below rack; high, mid,
low; "Tom 1" above "Tom 2"), then by note number, and spread over GM's toms; GM toms the kit
has none of fold onto its nearest tom. A name that says too little ("Tom" among several
toms, "Cymbal", "Hi-Hat" without open or closed) is marked uncertain; a name that says
nothing drumd knows is left out and reported.

XML is read with the stdlib's expat parser with every entity declaration refused, so a file
can neither reach outside itself (external entities) nor expand (billion laughs).
"""
from __future__ import annotations

import json
import re
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path

from drumd.mappings.drummaps.drummap import MapError

BLANK_NAMES = {"", "~", "-", "--", "---", "----", "n/a", "none", "empty", "unused"}


@dataclass
class NoteNames:
    """What a file says: its format, a title if it has one, and (note, name, line) rows."""
    fmt: str
    title: str | None
    rows: list[tuple[int, str, int]]
    notes: list[str] = field(default_factory=list)  # remarks on reading (lists skipped, duplicates)


# --- reading ------------------------------------------------------------------------------

def read_note_names(path: Path) -> NoteNames:
    """The note names in a MIDNAM, Cubase .drm or Reaper note-name file; MapError (one line
    naming the file, and the line where there is one) if it is none of them or has none."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MapError(f"{path}: cannot read ({e.strerror})") from None
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    found = _read_xml(path, data) if head.startswith(b"<") else _read_reaper(path, data)
    if not found.rows:
        raise MapError(f"{path}: no note names found; expected a MIDNAM NoteNameList of "
                       "<Note Number=.. Name=..>, a Cubase drum map's Map items, or Reaper "
                       "lines 'NOTE NAME' (a note number 0-127, then its name)")
    return found


def _note_number(path: Path, line: int, text: str, what: str) -> int:
    try:
        n = int(text.strip())
    except ValueError:
        n = -1
    if not 0 <= n <= 127:
        raise MapError(f"{path}:{line}: {what}: expected a MIDI note number 0-127, got {text!r}")
    return n


def _add(found: NoteNames, seen: dict, path: Path, note: int, name: str, line: int) -> None:
    name = " ".join(name.split())
    if name.lower() in BLANK_NAMES:
        return
    if note in seen:
        if seen[note][0] != name:
            found.notes.append(f"note {note} is named twice (line {seen[note][1]} "
                               f"{seen[note][0]!r}, line {line} {name!r}): kept the first")
        return
    seen[note] = (name, line)
    found.rows.append((note, name, line))


def _read_reaper(path: Path, data: bytes) -> NoteNames:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # Reaper on Windows writes ANSI files
    found, seen, title = NoteNames("Reaper note names", None, []), {}, None
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(("#", ";", "//")):
            comment = line.lstrip("#;/ ").strip()
            if title is None and comment and "name map" not in comment.lower() \
                    and "note names" not in comment.lower():
                title = comment
            continue
        if re.match(r"CC\d+\s", line, re.IGNORECASE):
            continue
        m = re.match(r"(\d+)\s+(.*)\Z", line)
        if not m:
            raise MapError(f"{path}:{i}: expected 'NOTE NAME' (a note number 0-127, then its "
                           f"name), a comment (# or ;) or a 'CC<n> NAME' line, got {line[:60]!r}")
        _add(found, seen, path, _note_number(path, i, m[1], "note"), m[2], i)
    found.title = title
    return found


class _Forbidden(Exception):
    pass


def _read_xml(path: Path, data: bytes) -> NoteNames:
    p = xml.parsers.expat.ParserCreate()
    stack: list[tuple[str, dict]] = []
    state = {"root": None, "title": None, "lists": [], "item": None}

    def refuse(*_):
        raise _Forbidden()

    p.EntityDeclHandler = refuse
    p.UnparsedEntityDeclHandler = refuse
    p.ExternalEntityRefHandler = refuse
    rows_by_list: dict[str, list[tuple[int, str, int]]] = {}

    def start(tag, attrs):
        line = p.CurrentLineNumber
        local = tag.rsplit(":", 1)[-1]
        if state["root"] is None:
            state["root"] = local
            if local not in ("MIDINameDocument", "DrumMap"):
                hint = (" (a MuseScore drumset, also called .drm)" if local == "museScore" else "")
                raise MapError(f"{path}:{line}: expected a MIDINameDocument (MIDNAM) or a "
                               f"Cubase <DrumMap>, got <{local}>{hint}")
        parent = stack[-1] if stack else None
        if state["root"] == "MIDINameDocument":
            if local == "NoteNameList":
                state["lists"].append(attrs.get("Name") or f"list {len(state['lists']) + 1}")
                rows_by_list.setdefault(state["lists"][-1], [])
            elif local == "Note" and state["lists"] and any(t == "NoteNameList" for t, _ in stack):
                if "Number" not in attrs or "Name" not in attrs:
                    raise MapError(f"{path}:{line}: <Note>: expected Number and Name attributes")
                rows_by_list[state["lists"][-1]].append(
                    (_note_number(path, line, attrs["Number"], "Note Number"), attrs["Name"], line))
            elif local == "Model" and state["title"] is None:
                state["title"] = ""  # filled by the text handler
        else:  # Cubase DrumMap
            if local == "item" and parent and parent[0] == "list" and parent[1].get("name") == "Map":
                state["item"] = {"line": line}
            elif state["item"] is not None and parent and parent[0] == "item":
                if local in ("int", "string") and "name" in attrs:
                    state["item"][attrs["name"]] = (attrs.get("value", ""), line)
            elif local == "string" and attrs.get("name") == "Name" and len(stack) == 1:
                state["title"] = attrs.get("value")
        stack.append((local, attrs))

    def end(tag):
        local, _ = stack.pop()
        if local == "item" and state["item"] is not None and stack and stack[-1][0] == "list":
            item, state["item"] = state["item"], None
            name = item.get("Name", ("", 0))[0]
            note_text, line = item.get("ONote") or item.get("INote") or (None, item["line"])
            if note_text is None:
                raise MapError(f"{path}:{item['line']}: Map item: expected <int name=\"INote\"> "
                               "or <int name=\"ONote\">")
            rows_by_list.setdefault("Map", []).append(
                (_note_number(path, line, note_text, "ONote"), name, line))

    def text(s):
        if stack and stack[-1][0] == "Model" and state["title"] is not None and \
                state["root"] == "MIDINameDocument":
            state["title"] += s

    p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = start, end, text
    try:
        p.Parse(data, True)
    except _Forbidden:
        raise MapError(f"{path}:{p.CurrentLineNumber}: entity declarations are not read "
                       "(drumd reads note names only; remove the <!ENTITY ...>)") from None
    except xml.parsers.expat.ExpatError as e:
        raise MapError(f"{path}:{e.lineno}: not well-formed XML: "
                       f"{xml.parsers.expat.ErrorString(e.code)} (column {e.offset + 1})") from None
    fmt = "MIDNAM" if state["root"] == "MIDINameDocument" else "Cubase drum map"
    found = NoteNames(fmt, (state["title"] or "").strip() or None, [])
    chosen = next((name for name, rows in rows_by_list.items() if rows), None)
    seen: dict = {}
    for note, name, line in rows_by_list.get(chosen, []):
        _add(found, seen, path, note, name, line)
    others = [n for n in rows_by_list if n != chosen and rows_by_list[n]]
    if others:
        found.notes.append(f"read NoteNameList {chosen!r}; not read: "
                           + ", ".join(repr(n) for n in others))
    return found


# --- guessing -----------------------------------------------------------------------------

_SYNONYMS = {
    "kik": "kick", "kck": "kick", "bd": "kick", "kickdrum": "kick", "bassdrum": "kick",
    "snr": "snare", "sn": "snare", "sd": "snare", "snaredrum": "snare",
    "sidestk": "sidestick", "xstick": "sidestick", "crossstick": "sidestick",
    "rimclick": "sidestick", "handclap": "clap", "claps": "clap",
    "hh": "hat", "hats": "hat", "hihat": "hat", "hihats": "hat", "hat": "hat",
    "toms": "tom", "tomtom": "tom", "crsh": "crash", "chinese": "china",
    "cym": "cymbal", "cymbals": "cymbal", "cymb": "cymbal",
    "chk": "choke", "choked": "choke", "chokes": "choke", "stop": "choke", "stopped": "choke",
    "mute": "mute", "muted": "mute", "mutes": "mute", "grab": "choke",
    "close": "closed", "cls": "closed", "tight": "closed", "shut": "closed",
    "opn": "open", "opened": "open", "semi": "open", "half": "open", "loose": "open",
    "swish": "open", "ped": "pedal", "foot": "pedal", "chick": "pedal",
    "ctr": "center", "centre": "center", "cntr": "center",
    "hi": "high", "hgh": "high", "lo": "low", "tamb": "tambourine", "tambo": "tambourine",
    "tamborine": "tambourine", "shaker": "maracas", "maraca": "maracas", "clave": "claves",
    "woodblock": "block", "timbales": "timbale", "timbal": "timbale", "bongos": "bongo",
    "congas": "conga", "tri": "triangle", "vibra": "vibraslap", "rimshots": "rimshot",
    "shank": "edge", "bow": "tip", "cowbells": "cowbell",
}
_COMPOUNDS = {"floortom": ["floor", "tom"], "racktom": ["rack", "tom"],
              "belltip": ["bell", "tip"], "hattip": ["hat", "tip"]}
_CYMBAL_GM = {"crash": 49, "ride": 51, "china": 52, "splash": 55}
_PERC = ("bongo", "conga", "timbale", "agogo", "cabasa", "maracas", "whistle", "guiro",
         "claves", "block", "cuica", "triangle", "vibraslap")
_TOM_WORDS = {"high", "mid", "low", "floor", "rack"}
GM_TOMS = (50, 48, 47, 45, 43, 41)  # high to low
# GM notes for n toms, high to low (the common layouts: Roland's 48/45/43/41, EZdrummer's
# 48/45/41, a 2-tom kit's rack 48 and floor 41 as the built-in avl-drumkits map)
_SPREAD = {1: (47,), 2: (48, 41), 3: (48, 45, 41), 4: (48, 45, 43, 41), 5: (50, 48, 45, 43, 41),
           6: GM_TOMS}


def words(name: str) -> list[str]:
    """'Crash1Chk' -> ['crash', '1', 'choke']; 'Hi-Hat Open' -> ['hat', 'open']."""
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", s)
    raw = re.findall(r"[a-z]+|\d+", s.lower())
    out: list[str] = []
    i = 0
    while i < len(raw):
        w, nxt = raw[i], raw[i + 1] if i + 1 < len(raw) else ""
        pair = w + nxt
        if w in ("hi", "high") and nxt in ("hat", "hats"):
            out.append("hat"); i += 2; continue
        if pair in ("bassdrum", "sidestick", "crossstick", "rimclick", "cowbell", "woodblock",
                    "handclap", "rimshot", "tomtom", "vibraslap"):
            out.append(_SYNONYMS.get(pair, pair)); i += 2; continue
        if w == "rim" and nxt == "only" or w == "x" and nxt == "stick":
            out.append("sidestick"); i += 2; continue
        if w in ("f", "r") and nxt in ("tom", "toms"):  # SD's "F.Tom 1", "R.Tom 2"
            out += ["floor" if w == "f" else "rack", "tom"]; i += 2; continue
        if w in _COMPOUNDS:
            out += _COMPOUNDS[w]; i += 1; continue
        out.append(_SYNONYMS.get(w, w))
        i += 1
    return out


@dataclass
class Guess:
    """What guess_map made of one note of an imported list: its GM note (None: left out), class and
    kind; when `uncertain`, `why` says so in words (a comment in the YAML written, a column of the
    import report)."""
    note: int
    name: str
    gm: int | None = None
    cls: str | None = None
    kind: str = "hit"
    uncertain: bool = False
    why: str = ""


def _gm_tables():
    from drumd.mappings.drummaps.loader import BUILTIN_DIR, read_map
    gm = read_map(BUILTIN_DIR / "gm.yaml", "builtin", "gm")
    return {g: a.cls for g, a in gm.notes.items()}, {g: words(a.name) for g, a in gm.notes.items()}


def _number(ws: list[str]) -> int | None:
    nums = [int(w) for w in ws if w.isdigit()]
    return nums[0] if nums else None


def guess_map(rows: list[tuple[int, str, int]]) -> tuple[list[Guess], list[Guess]]:
    """(placed, left out): each note's GM note, class and kind guessed from its name."""
    gm_cls, gm_words = _gm_tables()
    placed, left, toms, crashes = [], [], [], []
    for note, name, _ in rows:
        g, ws = Guess(note, name), words(name)
        s = set(ws)
        cymbal = next((c for c in ("china", "splash", "ride", "crash") if c in s), None)
        if "hat" in s and cymbal in (None, "splash"):
            if "pedal" in s or "splash" in s:
                g.gm = 44
            elif "open" in s:
                g.gm = 46
            elif "closed" in s:
                g.gm = 42
            else:
                g.gm, g.uncertain, g.why = 42, True, "a hi-hat, neither open nor closed: closed"
        elif "cowbell" in s:
            g.gm = 56
        elif cymbal or "cymbal" in s:
            if cymbal is None:
                cymbal, g.uncertain, g.why = "crash", True, "a cymbal of no kind: a crash"
            g.kind = "choke" if s & {"choke", "mute"} else "hit"
            if cymbal == "ride":
                if "bell" in s:
                    g.gm = 53
                elif s & {"edge", "crash"} or _number(ws) == 2:
                    g.gm = 59
                else:
                    g.gm = 51
            elif cymbal == "crash":
                crashes.append((g, ws))
            else:
                g.gm = _CYMBAL_GM[cymbal]
        elif "tom" in s or "floor" in s:
            toms.append((g, ws))
        elif "sidestick" in s or ("stick" in s and "side" in s):
            g.gm = 37
        elif "snare" in s:
            g.gm = 40 if s & {"rim", "rimshot", "edge", "electric"} else 38
            if "rim" in s and not s & {"rimshot", "edge"}:
                g.uncertain, g.why = True, "a snare rim: a rimshot (GM 40) or a rim click (37)?"
        elif "kick" in s or ("bass" in s and "drum" in s):
            g.gm = 35 if "acoustic" in s or (_number(ws) or 1) >= 2 else 36
        elif "clap" in s:
            g.gm = 39
        elif "tambourine" in s:
            g.gm = 54
        elif s & set(_PERC):
            g.gm, g.uncertain = _perc(s, gm_words)
        elif "bell" in s:
            g.gm, g.uncertain, g.why = 53, True, "a bell of no cymbal: the ride bell"
        elif s & {"rim", "rimshot"}:
            g.gm, g.uncertain, g.why = 37, True, "a rim of no drum: the snare's side stick"
        else:
            left.append(g)
            continue
        placed.append(g)
    _place_crashes(crashes)
    _place_toms(toms)
    for g in placed:
        if g.cls is None:
            g.cls = gm_cls[g.gm]
    return sorted(placed, key=lambda g: g.note), left


def _perc(s: set[str], gm_words: dict) -> tuple[int, bool]:
    # the GM note of that instrument whose name shares the most words (High/Low, Mute/Open)
    inst = next(w for w in _PERC if w in s)
    cands = [g for g, ws in gm_words.items() if inst in ws]
    score = {g: len(s & set(gm_words[g])) for g in cands}
    best = max(score.values())
    top = [g for g in cands if score[g] == best]
    return top[0], len(top) > 1


def _place_crashes(crashes: list) -> None:
    # the first crash (by its number, else note) is GM 49, the others 57; chokes follow theirs
    ids = sorted({_number(ws) for _, ws in crashes}, key=lambda n: (n is None, n or 0))
    first = ids[0] if ids else None
    for g, ws in crashes:
        g.gm = 49 if _number(ws) == first else 57


def _place_toms(toms: list) -> None:
    if not toms:
        return
    drums: dict[tuple, list] = {}
    for g, ws in toms:
        s = set(ws)
        height = None
        if "mid" in s:
            height = 1.5 + (0.5 if "high" in s else 0) - (0.5 if "low" in s else 0)
        elif "high" in s:
            height = 3.0
        elif "low" in s:
            height = 0.0
        key = ("floor" in s, height, _number(ws))
        drums.setdefault(key, []).append(g)
    # high to low: rack before floor, then by height word, "Tom 1" before "Tom 2", then the
    # higher note (vendors, like GM, put higher toms on higher notes)
    order = sorted(drums, key=lambda k: (k[0], -(k[1] if k[1] is not None else 1.5),
                                         k[2] if k[2] is not None else 0,
                                         -max(g.note for g in drums[k])))
    n = len(order)
    spread = _SPREAD.get(n) or GM_TOMS + (41,) * (n - 6)
    if n == 1 and order[0][0]:
        spread = (41,)
    unnamed = [k for k in order if k[1] is None and k[2] is None]
    racks = [k for k in order if not k[0]]
    for i, key in enumerate(order):
        gm = spread[i]
        cls = _tom_class(key, racks, len(racks) < n)
        doubt = ""
        if n == 1 and not key[0]:
            doubt = "the only tom, of no place (floor, rack, high, low): a mid tom"
        elif n > 6:
            doubt = "more than GM's six toms"
        elif key in unnamed and len([k for k in unnamed if k[0] == key[0]]) > 1:
            doubt = "toms named alike: ordered by note number"
        for g in drums[key]:
            g.gm, g.cls = gm, cls
            if doubt:
                g.uncertain, g.why = True, doubt


def _tom_class(key: tuple, racks: list, floors: bool) -> str:
    # a floor tom is low; else by the name's height word; else by place, as the vendor maps
    # class their toms: the highest rack tom high, the next mid, and then mid if the kit has
    # floor toms, low if it has none ("Tom 3" of four)
    floor, height, _ = key
    if floor:
        return "low_tom"
    if height is not None:
        return "high_tom" if height >= 2.5 else "low_tom" if height < 1 else "mid_tom"
    i = racks.index(key)
    if len(racks) == 1:
        return "mid_tom"
    if i == 0 and len(racks) >= 3 or i == 0 and floors:
        return "high_tom"
    if floors or i == 1 and len(racks) >= 3 or i == 0:
        return "mid_tom"
    return "low_tom"


# --- writing ------------------------------------------------------------------------------

def slug(text: str) -> str:
    """A map id from a name or file stem: lower case, runs of other characters than a-z, 0-9, '.',
    '_', '-' as one '-' ("Superior Drummer 3" -> "superior-drummer-3")."""
    s = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return s


def tom_folds(placed: list[Guess]) -> dict[int, int]:
    """{GM tom the kit has none of: the kit's note for the nearest GM tom it has}."""
    have: dict[int, int] = {}
    for g in placed:
        if g.kind == "hit" and g.gm in GM_TOMS:
            have.setdefault(g.gm, g.note)  # placed is in note order: the lowest note
    if not have:
        return {}
    out = {}
    for gm in GM_TOMS:
        if gm not in have:
            near = min(have, key=lambda h: (abs(GM_TOMS.index(h) - GM_TOMS.index(gm)), h))
            out[gm] = have[near]
    return out


def map_yaml(name: str, title: str, source: str, found: NoteNames, placed: list[Guess],
             left: list[Guess]) -> str:
    """The map as YAML text, in the layout of the built-in maps, a comment on each guess."""
    q = lambda s: json.dumps(s, ensure_ascii=False)  # a JSON string is a YAML string
    uncertain = sorted(g.note for g in placed if g.uncertain)
    lines = [
        "# drumd drum map (schema: drumd/mappings/drummaps/schema.py), written by `drumd maps import`.",
        "# Note numbers and names are the file's; every GM note, class and kind is guessed",
        "# from the name: check them (`drumd maps show`), fix what is wrong, and remove a note",
        "# from `uncertain` once you have heard it.",
        f"name: {name}",
        f"title: {q(title)}",
        "channel: 10",
        "sources:",
        f"  - {q(source)}",
        "remarks:",
        f"  - {q('GM notes, classes and kinds guessed from the note names by drumd maps import; uncertain: names that say too little to place them for sure')}",
    ]
    for g in left:
        lines.append(f"  - {q(f'left out: note {g.note} {g.name!r} (no drum drumd knows in the name)')}")
    for remark in found.notes:
        lines.append(f"  - {q(remark)}")
    lines.append(f"uncertain: [{', '.join(map(str, uncertain))}]")
    lines.append("notes:")
    for g in placed:
        kind = ", kind: choke" if g.kind == "choke" else ""
        why = f"  # {g.why}" if g.why else ""
        lines.append(f"  {g.note}: {{name: {q(g.name)}, gm: {g.gm}, class: {g.cls}{kind}}}{why}")
    folds = tom_folds(placed)
    if folds:
        lines.append("preferred:  # GM toms the kit has none of, on its nearest tom")
        for gm, note in sorted(folds.items()):
            lines.append(f"  {gm}: {note}")
    return "\n".join(lines) + "\n"
