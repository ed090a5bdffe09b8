"""Chokes (#15): notes that stop a ringing cymbal are their own kind in a drum map. A choke
goes to the destination's choke of the same cymbal or is dropped and reported; it never
becomes a hit, and no hit becomes a choke."""
import mido
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main as drumd
from drumd.mappings import DROP, POLICIES, MapError, Translator, list_maps, load_map
from drumd.mappings.drummaps.schema import parse_map


@pytest.fixture(autouse=True)
def no_user_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_ezdrummer2_chokes_are_chokes_not_crash_hits():
    m = load_map("ezdrummer2")
    # 50 stops the crash on 49 (GM 57), 56 the main crash on 55 (GM 49), 58 the cymbal on 57
    assert {n: m.choke_of(n) for n in (50, 56, 58)} == {50: 57, 56: 49, 58: 57}
    assert all(m.to_gm(n) is None for n in (50, 56, 58))
    assert (m.choke_for(49), m.choke_for(57)) == (56, 50)  # beside the hit each GM crash plays
    assert (m.from_gm(49), m.from_gm(57)) == (55, 49)
    assert m.choke_of(55) is None and m.choke_of(200) is None


@pytest.mark.parametrize("dst, want", [
    # SD3: 83 crash.1.mute beside its crash 1 on 86; 50 crash.2.mute beside crash 2 on 49
    ("superior-drummer3", {50: 50, 56: 83, 58: 50}),
    ("addictive-drums2", {50: 80, 56: 78, 58: 80}),  # [Cymbal 2] Choke, [Cymbal 1] Choke
    ("avl-drumkits", {50: 58, 56: 50, 58: 58}),  # Crash 2 Choked, Crash1 Choked
])
def test_ezdrummer2_chokes_go_to_the_same_cymbals_choke(dst, want):
    for policy in POLICIES:
        tr = Translator("ezdrummer2", dst, policy)
        assert {n: tr.note(n) for n in want} == want
        assert not tr.unmapped and not tr.chokes_dropped


@pytest.mark.parametrize("policy", POLICIES)
def test_chokes_without_a_choke_are_dropped_and_counted_whatever_the_policy(policy):
    tr = Translator("ezdrummer2", "gm", policy)
    assert [tr.note(n) for n in (50, 56, 58, 55)] == [None, None, None, 49]
    assert tr.chokes_dropped == {50: 1, 56: 1, 58: 1} and not tr.unmapped


def test_no_choke_becomes_a_hit_and_no_hit_a_choke_between_any_two_maps():
    maps = list_maps()
    for src in maps:
        for dst in maps:
            for policy in POLICIES:
                tr = Translator(src, dst, policy)
                for table in (tr.table, tr.table_cc4_open, tr.table_cc4_closed):
                    for note, out in enumerate(table):
                        if out == DROP:
                            continue
                        was, now = src.choke_of(note) is not None, dst.choke_of(out) is not None
                        assert was == now, (src.name, dst.name, policy, note, out)


def test_remap_says_how_many_chokes_it_dropped_and_why(tmp_path):
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for note in (55, 56, 49, 50, 36, 56):  # crash, its choke, crash 2, its choke, kick, choke
        track.append(mido.Message("note_on", note=note, velocity=100, channel=9))
        track.append(mido.Message("note_off", note=note, velocity=0, channel=9, time=120))
    mid.save(tmp_path / "in.mid")
    r = CliRunner().invoke(drumd, ["remap", str(tmp_path / "in.mid"), str(tmp_path / "gm.mid"),
                                   "--from", "ezdrummer2", "--to", "gm", "--unmapped", "nearest"])
    assert r.exit_code == 0, r.output
    assert r.output == ("remapped 1 file from ezdrummer2 to gm: 6 notes, 0 unmapped, 3 dropped "
                        "(of which 3 cymbal chokes: gm has no choke for GM 49 Crash Cymbal 1, "
                        "GM 57 Crash Cymbal 2; a choke never becomes a hit)\n")
    out = [m.note for m in mido.MidiFile(tmp_path / "gm.mid").tracks[0] if m.type == "note_on" and m.velocity]
    assert out == [49, 57, 36]
    r = CliRunner().invoke(drumd, ["remap", str(tmp_path / "in.mid"), str(tmp_path / "sd3.mid"),
                                   "--from", "ezdrummer2", "--to", "superior-drummer3"])
    assert r.exit_code == 0 and r.output.endswith("6 notes, 0 unmapped, 0 dropped\n")
    out = [m.note for m in mido.MidiFile(tmp_path / "sd3.mid").tracks[0] if m.type == "note_on" and m.velocity]
    assert out == [86, 83, 49, 50, 36, 83]


def test_gm_to_a_vendor_map_never_plays_a_choke():
    for m in list_maps():
        for policy in POLICIES:
            table = Translator("gm", m, policy).table
            played = {table[g] for g in range(35, 82)} - {DROP}
            assert not {n for n in played if m.choke_of(n) is not None}, (m.name, policy)


HEAD = "name: x\ntitle: X\nnotes:\n  49: {name: Crash, gm: 49, class: crash}\n"


@pytest.mark.parametrize("extra, error", [
    ("  50: {name: Grab, gm: 49, class: crash, kind: grab}\n",
     "x.yaml:5: notes 50 kind: expected one of hit, choke, got 'grab'"),
    ("  50: {name: Grab, gm: null, class: crash, kind: choke}\n",
     "x.yaml:5: notes 50 gm: a choke names the GM cymbal it stops, got null"),
    ("  50: {name: Grab, gm: 49, class: crash, kind: choke}\npreferred:\n  49: 50\n",
     "x.yaml:7: preferred 49: expected a hit, but note 50 is a choke"),
])
def test_bad_kinds_are_one_line_naming_file_and_line(extra, error):
    with pytest.raises(MapError) as e:
        parse_map(HEAD + extra, "x.yaml")
    assert str(e.value) == error
