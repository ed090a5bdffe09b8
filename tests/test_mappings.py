"""drumd.mappings: shipped maps, lookups, user maps, Translator tables and policies."""
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from drumd.mappings import (CLASSES, DROP, GM_RANGE, NEIGHBOURS, POLICIES, DrumMap, MapError,
                            Translator, gm_name, list_maps, load_map, note_name)

SHIPPED = ("gm", "ezdrummer2", "ezdrummer3", "superior-drummer3", "studio-drummer",
           "addictive-drums2", "roland-td", "ssd5", "mt-power2", "hydrogen-gm", "getgood-invasion",
           "avl-drumkits")


@pytest.fixture(autouse=True)
def user_maps(tmp_path, monkeypatch) -> Path:
    """An empty user map folder, so the developer's own maps never leak into tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "drumd" / "maps"


def test_every_required_map_ships_and_is_builtin():
    found = {m.name: m for m in list_maps()}
    assert set(SHIPPED) <= set(found)
    assert all(found[name].origin == "builtin" for name in SHIPPED)


def test_aliases_are_unique_and_resolve():
    maps = list_maps()
    names = {m.name for m in maps}
    aliases = [a for m in maps for a in m.aliases]
    assert len(aliases) == len(set(aliases)) and not names & set(aliases)
    for alias, name in {"ezdrummer": "ezdrummer2", "sd3": "superior-drummer3", "td": "roland-td",
                        "ad2": "addictive-drums2", "EZD3": "ezdrummer3"}.items():
        assert load_map(alias).name == name


@pytest.mark.parametrize("name", SHIPPED)
def test_gm_vendor_gm_is_identity_with_explicit_preferred(name):
    m = load_map(name)
    covered = {a.gm for a in m.notes.values() if a.gm is not None and not a.is_choke}
    assert covered | set(m.folds) == m.gm_notes and not covered & set(m.folds)
    assert set(m.preferred) == m.gm_notes, "shipped maps name their preferred note explicitly"
    for gm in covered:
        assert m.to_gm(m.from_gm(gm)) == gm
    for gm, note in m.folds.items():
        assert m.from_gm(gm) == note and not m.notes[note].is_choke
    assert all(a.cls in CLASSES and (a.gm is None or a.gm in GM_RANGE) for a in m.notes.values())
    assert m.sources and m.channel == 10


def test_gm_map_is_the_gm1_key_map():
    m = load_map("gm")
    assert sorted(m.notes) == list(GM_RANGE)
    assert all(m.from_gm(g) == g for g in GM_RANGE)
    assert gm_name(42) == "Closed Hi-Hat" and gm_name(20) is None


@pytest.mark.parametrize("name, note, gm", [
    ("roland-td", 22, 42), ("roland-td", 26, 46), ("roland-td", 55, 49), ("roland-td", 52, 57),
    ("roland-td", 58, 43), ("ezdrummer2", 55, 49), ("ezdrummer2", 49, 57), ("ezdrummer2", 22, 42),
    ("getgood-invasion", 36, 43), ("ssd5", 52, 51), ("mt-power2", 44, 46), ("hydrogen-gm", 57, 55),
    ("addictive-drums2", 48, 44), ("ezdrummer2", 0, None), ("gm", 82, None),
])
def test_to_gm_known_notes(name, note, gm):
    assert load_map(name).to_gm(note) == gm


@pytest.mark.parametrize("name, gm, note", [
    ("ezdrummer2", 42, 22), ("ezdrummer2", 49, 55), ("ezdrummer2", 57, 49), ("ezdrummer3", 49, 86),
    ("superior-drummer3", 44, 21), ("roland-td", 49, 49), ("ssd5", 49, 55), ("gm", 60, 60),
    ("ezdrummer2", 52, None), ("roland-td", 60, None),
])
def test_from_gm_preferred_notes(name, gm, note):
    assert load_map(name).from_gm(gm) == note


def test_cc4_decides_openness_only_for_pedal_notes():
    ezd = load_map("ezdrummer2")
    assert ezd.hihat_pedal == {7, 8, 9, 18, 19, 20}
    assert ezd.to_gm(7) == 42  # pedal unknown: the map's own gm
    assert ezd.to_gm(7, cc4=127) == 42 and ezd.to_gm(7, cc4=ezd.hihat_closed_at) == 42
    assert ezd.to_gm(7, cc4=ezd.hihat_closed_at - 1) == 46 and ezd.to_gm(7, cc4=0) == 46
    assert ezd.to_gm(22, cc4=0) == 42 and ezd.to_gm(25, cc4=127) == 46
    # Roland modules already resolve the pedal into 42/46 (see the map's remarks).
    td = load_map("roland-td")
    assert not td.hihat_pedal and td.to_gm(46, cc4=90) == 46 and td.to_gm(42, cc4=0) == 42


@pytest.mark.parametrize("note, c3, c4", [(36, "C1", "C2"), (60, "C3", "C4"), (0, "C-2", "C-1"),
                                          (22, "A#-1", "A#0"), (127, "G8", "G9")])
def test_note_names_in_both_conventions(note, c3, c4):
    assert note_name(note, "C3") == c3 and note_name(note, "C4") == c4
    assert load_map("ezdrummer2").note_name(note) == c3  # Toontrack: 36 is C1
    assert load_map("ezdrummer2").note_name(note, "C4") == c4


def test_user_map_overrides_builtin_and_keeps_its_aliases(user_maps):
    user_maps.mkdir(parents=True)
    (user_maps / "ezdrummer2.yaml").write_text(
        "name: ezdrummer2\ntitle: my EZD\nnotes:\n  36: {name: Kick, gm: 36, class: kick}\n")
    m = load_map("ezdrummer")
    assert (m.origin, m.title, m.from_gm(36)) == ("user", "my EZD", 36)
    assert {x.name: x.origin for x in list_maps()}["ezdrummer2"] == "user"


def test_user_map_alias_and_path_loading(user_maps, tmp_path):
    user_maps.mkdir(parents=True)
    text = ("name: mykit\ntitle: Mine\naliases: [mine]\nnotes:\n"
            "  10: {name: Kick, gm: 36, class: kick}\n  11: {name: Kick 2, gm: 36, class: kick}\n")
    (user_maps / "mykit.yaml").write_text(text)
    assert load_map("mine").name == "mykit"
    assert load_map("mykit").from_gm(36) == 10  # no preferred entry: lowest plain note
    (tmp_path / "elsewhere.yaml").write_text(text)
    m = load_map(str(tmp_path / "elsewhere.yaml"))
    assert (m.name, m.origin) == ("mykit", "file") and load_map(tmp_path / "elsewhere.yaml") == m


def test_unknown_map_lists_the_known_ones():
    with pytest.raises(MapError, match=r"unknown drum map 'nope'; known maps: .*roland-td \(td"):
        load_map("nope")
    with pytest.raises(MapError, match="missing.yaml: cannot read"):
        load_map("missing.yaml")


def test_neighbours_cover_every_class():
    assert set(NEIGHBOURS) == set(CLASSES)
    assert all(n[0] == cls and set(n) <= set(CLASSES) for cls, n in NEIGHBOURS.items())


def test_translator_roland_to_ezdrummer():
    tr = Translator("roland-td", "ezdrummer2")
    assert len(tr.table) == 128 and all(-1 <= x <= 127 for x in tr.table)
    assert (tr.note(22), tr.note(26), tr.note(55), tr.note(49), tr.note(52)) == (22, 25, 55, 55, 49)
    assert tr.note(27) is None and tr.note(0) is None  # AUX (GM china): EZD2 has no china
    assert tr.unmapped == {27: 1, 0: 1}
    assert tr.table_cc4_open is tr.table_cc4_closed is tr.table  # Roland has no pedal notes


def test_translator_policies():
    drop, keep = Translator("gm", "ezdrummer2", "drop"), Translator("gm", "ezdrummer2", "pass")
    near = Translator("gm", "ezdrummer2", "nearest")
    assert drop.table[60] == DROP and keep.table[60] == 60
    assert near.note(60) == 2           # Hi Bongo (perc) -> the shaker pad (perc)
    assert near.note(55) == 49          # splash -> nearest crash by GM number: 57 -> EZD 49
    assert near.note(52) == 55          # china -> crash 49 (closer than 57) -> EZD 55
    assert near.note(50) == 48          # high tom 50 -> high tom 48
    assert near.note(56) == 2           # cowbell -> perc
    assert near.note(20) is None        # not in the GM map: no class, dropped
    aux = Translator("roland-td", "ezdrummer2", "nearest")
    assert aux.note(27) == 55           # AUX pad: class "other", GM guess china -> crash
    assert near.unmapped == {60: 1, 55: 1, 52: 1, 50: 1, 56: 1, 20: 1}
    assert near.note(36) == 36 and 36 not in near.unmapped
    with pytest.raises(ValueError, match="unmapped must be one of"):
        Translator("gm", "gm", "guess")


def test_translator_cc4_tables():
    tr = Translator("ezdrummer2", "gm")
    assert (tr.table[7], tr.table_cc4_open[7], tr.table_cc4_closed[7]) == (42, 46, 42)
    assert tr.table_for(None) is tr.table and tr.table_for(0) is tr.table_cc4_open
    assert tr.table_for(127) is tr.table_cc4_closed
    assert tr.note(7, cc4=10) == 46 and tr.note(7, cc4=120) == 42 and tr.note(22, cc4=0) == 42
    assert not tr.unmapped


maps_ = st.sampled_from(SHIPPED)


@settings(max_examples=60, deadline=None)
@given(src=maps_, dst=maps_, policy=st.sampled_from(POLICIES), cc4=st.none() | st.integers(0, 127),
       notes=st.lists(st.integers(0, 127), max_size=20))
def test_translator_agrees_with_the_maps(src, dst, policy, cc4, notes):
    tr = Translator(src, dst, policy)
    s, d = tr.src, tr.dst
    for n in notes:
        out = tr.note(n, cc4)
        assert (DROP if out is None else out) == tr.table_for(cc4)[n]
        if s.choke_of(n) is not None:  # a choke: a choke or nothing, whatever the policy
            assert not tr.is_unmapped(n, cc4)
            assert out is None or d.choke_of(out) is not None
            continue
        assert out is None or d.choke_of(out) is None, "a hit never lands on a choke"
        gm = s.to_gm(n, cc4)
        if gm is not None and gm in d.gm_notes:
            assert d.to_gm(out) == gm or d.folds.get(gm) == out
            assert not tr.is_unmapped(n, cc4)
        else:
            assert tr.is_unmapped(n, cc4)
            if policy == "pass":
                assert out == (None if n in d.notes and d.notes[n].is_choke else n)
            elif policy == "drop":
                assert out is None
    assert sum(tr.unmapped.values()) == sum(tr.is_unmapped(n, cc4) for n in notes)
    assert sum(tr.chokes_dropped.values()) == sum(
        s.choke_of(n) is not None and tr.table_for(cc4)[n] == DROP for n in notes)


def test_drummap_rejects_inconsistent_preferred():
    notes = {36: load_map("gm").notes[36]}
    with pytest.raises(MapError, match="preferred 38: a stand-in for GM 38 .* not kick"):
        DrumMap("x", "X", notes, preferred={38: 36})
    with pytest.raises(MapError, match="preferred 36: 37 must name a hit"):
        DrumMap("x", "X", {**notes, 37: load_map("gm").notes[37]}, preferred={36: 37})
