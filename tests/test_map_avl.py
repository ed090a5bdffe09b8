"""The built-in avl-drumkits map (#15): AVL Drumkits LV2's Black Pearl and Red Zeppelin, a
4-piece kit whose 48 is a hi-hat swish and 50 a crash choke where GM has toms."""
import mido
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main as drumd
from drumd.mappings import DROP, POLICIES, MapError, Translator, gm_classes, load_map
from drumd.mappings.drummaps.schema import parse_map

GM_TOMS = (41, 43, 45, 47, 48, 50)
FLOOR, RACK = {41, 43}, {45, 47}
CYMBALS = {"crash", "china", "splash", "ride", "ride_bell"}


@pytest.fixture(autouse=True)
def no_user_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_the_map_is_the_plugins_midnam_note_list():
    m = load_map("avldrums")
    assert m.name == "avl-drumkits" and m.origin == "builtin" and load_map("black-pearl") is m
    assert sorted(m.notes) == list(range(36, 62))
    # names as the plugin's MIDNAM gives them (x42/avldrums.lv2 src/avldrums.c mn_drums)
    assert [m.notes[n].name for n in (41, 45, 48, 50, 52, 58)] == [
        "Floor Tom Center", "Tom Center", "Swish Hat", "Crash1 Choked", "Ride Choked",
        "Crash 2 Choked"]
    assert {n for n, a in m.notes.items() if a.is_choke} == {50, 52, 58}
    assert [m.choke_for(g) for g in (49, 51, 57)] == [50, 52, 58]
    assert any("avldrums.lv2" in s for s in m.sources)


@pytest.mark.parametrize("policy", POLICIES)
def test_gm_toms_land_on_its_two_toms_low_on_the_floor_tom(policy):
    tr = Translator("gm", "avl-drumkits", policy)
    out = {g: tr.note(g) for g in GM_TOMS}
    assert set(out.values()) <= FLOOR | RACK
    assert {g for g, n in out.items() if n in FLOOR} == {41, 43, 45}  # drumd's low toms
    assert {g for g, n in out.items() if n in RACK} == {47, 48, 50}
    assert not tr.unmapped
    # a fill down GM's toms moves down the kit, rack tom to floor tom, never back up
    drums = ["rack" if out[g] in RACK else "floor" for g in reversed(GM_TOMS)]
    assert drums == sorted(drums, reverse=True)


@pytest.mark.parametrize("policy", POLICIES)
def test_cymbals_on_cymbals_and_nothing_on_the_swish_or_the_chokes(policy):
    m = load_map("avl-drumkits")
    table = Translator("gm", m, policy).table
    classes = gm_classes()
    for gm in range(35, 82):
        out = table[gm]
        if out == DROP:
            continue
        assert out not in (50, 52, 58), gm
        if classes[gm] in CYMBALS:
            assert m.notes[out].cls in CYMBALS and not m.notes[out].is_choke, gm
        if out == 48:
            assert classes[gm] == "open_hh"
    assert table[48] in RACK and table[50] in RACK


def test_a_gm_tom_fill_remapped_to_avl_plays_only_its_toms(tmp_path):
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for note in (50, 48, 47, 45, 43, 41):
        track.append(mido.Message("note_on", note=note, velocity=100, channel=9))
        track.append(mido.Message("note_off", note=note, velocity=0, channel=9, time=120))
    mid.save(tmp_path / "fill.mid")
    r = CliRunner().invoke(drumd, ["remap", str(tmp_path / "fill.mid"), str(tmp_path / "avl.mid"),
                                   "--from", "gm", "--to", "avl-drumkits"])
    assert r.exit_code == 0 and r.output.endswith("6 notes, 0 unmapped, 0 dropped\n"), r.output
    out = [m.note for m in mido.MidiFile(tmp_path / "avl.mid").tracks[0]
           if m.type == "note_on" and m.velocity]
    assert out == [47, 45, 45, 41, 43, 41]


def test_a_fold_stays_in_its_family_one_line_naming_file_and_line():
    text = ("name: x\ntitle: X\nnotes:\n  36: {name: Kick, gm: 36, class: kick}\n"
            "  41: {name: Floor, gm: 41, class: low_tom}\npreferred:\n  45: 36\n")
    with pytest.raises(MapError) as e:
        parse_map(text, "x.yaml")
    assert str(e.value) == ("x.yaml:7: preferred 45: a stand-in for GM 45 (low_tom) must be "
                            "of its family (tom), not kick")
    assert parse_map(text.replace("45: 36", "45: 41"), "x.yaml").from_gm(45) == 41
