"""drumd.mappings: vendor drum maps <-> General MIDI (pure data + functions).

    m = load_map("roland-td")            # name, alias, or path to a YAML map
    m.to_gm(22) -> 42; m.from_gm(42) -> 42
    tr = Translator("roland-td", "ezdrummer2", unmapped="nearest")
    tr.note(55) -> 55; tr.table[55] -> 55  # O(1) tables for real-time use
    load_map("ezd").choke_of(56) -> 49   # a choke stops a cymbal (GM 49); to_gm(56) -> None
"""
from drumd.mappings.drummaps.drummap import CLASSES, GM_RANGE, KINDS, Articulation, DrumMap, MapError, note_name
from drumd.mappings.drummaps.loader import (BUILTIN_DIR, gm_classes, gm_name, list_maps, load_map, read_map,
                                            user_dir)
from drumd.mappings.drummaps.translate import DROP, NEIGHBOURS, POLICIES, Translator

__all__ = ["Articulation", "BUILTIN_DIR", "CLASSES", "DROP", "DrumMap", "GM_RANGE", "KINDS", "MapError",
           "NEIGHBOURS", "POLICIES", "Translator", "gm_classes", "gm_name", "list_maps", "load_map",
           "note_name", "read_map", "user_dir"]
