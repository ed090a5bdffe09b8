"""Finding drum maps: built-in ones shipped in maps/, user ones in the config folder, files."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from drumd.mappings.drummaps.drummap import Articulation, DrumMap, MapError
from drumd.mappings.drummaps.schema import parse_map

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "maps"  # mappings/maps: the built-in maps are data, beside the code


def user_dir() -> Path:
    """$XDG_CONFIG_HOME/drumd/maps (default ~/.config/drumd/maps); read on every call so tests
    and long-running processes see changes."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "drumd" / "maps"


def read_map(path: str | os.PathLike, origin: str = "file",
             expect_name: str | None = None) -> DrumMap:
    """Parse one map file (cached until the file changes)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:
        raise MapError(f"{path}: cannot read ({e.strerror})") from None
    return _read_cached(path, st.st_mtime_ns, st.st_size, origin, expect_name)


@lru_cache(maxsize=128)
def _read_cached(path: Path, _mtime_ns: int, _size: int, origin: str,
                 expect_name: str | None) -> DrumMap:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise MapError(f"{path}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise MapError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return parse_map(text, str(path), expect_name, path=path, origin=origin)


def _folder_maps(folder: Path, origin: str) -> list[DrumMap]:
    # A map in a folder is found by file name, so its name must match it.
    if not folder.is_dir():
        return []
    return [read_map(p, origin, p.stem) for p in sorted(folder.glob("*.yaml"))]


def list_maps() -> list[DrumMap]:
    """Every available map by name; a user map replaces the built-in map of the same name."""
    maps = {m.name: m for m in _folder_maps(BUILTIN_DIR, "builtin")}
    maps.update((m.name, m) for m in _folder_maps(user_dir(), "user"))
    return [maps[name] for name in sorted(maps)]


def _looks_like_path(spec: str) -> bool:
    return os.sep in spec or "/" in spec or spec.endswith((".yaml", ".yml"))


def load_map(spec: str | os.PathLike | DrumMap) -> DrumMap:
    """A map by name or alias (user maps first, then built-ins), or from a YAML file path."""
    if isinstance(spec, DrumMap):
        return spec
    if isinstance(spec, os.PathLike) or _looks_like_path(spec):
        return read_map(spec)
    name = spec.lower()
    for folder, origin in ((user_dir(), "user"), (BUILTIN_DIR, "builtin")):
        if (folder / f"{name}.yaml").is_file():
            return read_map(folder / f"{name}.yaml", origin, name)
    maps = list_maps()
    for m in maps:
        if name in m.aliases:
            return m
    # A user map may replace a built-in one without repeating its aliases.
    for m in _folder_maps(BUILTIN_DIR, "builtin"):
        if name in m.aliases:
            return load_map(m.name)
    known = ", ".join(f"{m.name} ({', '.join(m.aliases)})" if m.aliases else m.name for m in maps)
    raise MapError(f"unknown drum map {spec!r}; known maps: {known}. A path to a .yaml file "
                   f"also works; user maps go in {user_dir()}")


def gm_note(gm: int) -> Articulation | None:
    """The GM1 percussion note (name, class) from the built-in gm map, None outside 35-81."""
    return read_map(BUILTIN_DIR / "gm.yaml", "builtin", "gm").notes.get(gm)


def gm_classes() -> Mapping[int, str]:
    """The one GM pitch -> drum class table: {GM note 35-81: class (drummap.CLASSES)}, from
    the built-in gm map (maps/gm.yaml). The engine's model classes (engine.encoding) and the
    synth's voices (daemon.synth) are both reductions of it."""
    m = read_map(BUILTIN_DIR / "gm.yaml", "builtin", "gm")
    return MappingProxyType({gm: art.cls for gm, art in sorted(m.notes.items())})


def gm_name(gm: int) -> str | None:
    """'Closed Hi-Hat' for 42, None outside 35-81."""
    art = gm_note(gm)
    return art.name if art else None


def map_for_file(path, named: str | None, chosen: str | None,
                 option: str = "--map") -> tuple[DrumMap | None, str, str | None]:
    """The drum map to read a MIDI file's notes in, for every command that reads one (render,
    audition, remap --from, generate --primer-map): the map `chosen` by the command's `option`,
    else the one the file names (`named`: its "drumd map:" meta event, read_drum_notes's
    map_name), else None for General MIDI.

    Returns (the map or None, which one it is for the command's summary line, a warning or None:
    the option overrides a different map the file names). Raises MapError, one line: `chosen`
    is no map; the file names a map not known here (asking for `option`)."""
    if chosen is not None:
        m = load_map(chosen)
        warning = None
        if named is not None and _known(named) is not m:
            warning = (f"{path}: written for drum map {named}; reading it as {m.name}, "
                       f"as {option} says")
        return m, f"map {m.name} ({option})", warning
    if named is not None:
        m = _known(named)
        if m is None:
            raise MapError(f"{path}: written for drum map {named!r}, which is not known here; "
                           f"give {option} NAME (see `drumd maps list`) to say how to read its notes")
        return m, f"map {m.name} (named in the file)", None
    return None, "General MIDI (the file names no map)", None


def _known(name: str) -> DrumMap | None:
    try:
        return load_map(name)
    except MapError:
        return None
