"""Bad drum maps: every error names the file, the line and what was expected."""
import re

import pytest

from drumd.mappings import MapError, load_map, read_map

GOOD = """\
name: mykit
title: My kit
octave: {middle_c: C3}
channel: 10
uncertain: [38]
hihat_pedal: {closed_at: 96, notes: [42]}
notes:
  36: {name: Kick, gm: 36, class: kick}
  38: {name: Snare, gm: 38, class: snare}
  42: {name: Hat, gm: 42, class: closed_hh}
preferred:
  36: 36
"""


@pytest.fixture(autouse=True)
def user_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "drumd" / "maps"


def check(tmp_path, text: str, line: int, expected: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(MapError) as e:
        read_map(path)
    assert str(e.value).startswith(f"{path}:{line}: "), str(e.value)
    assert re.search(expected, str(e.value)), str(e.value)


def test_the_base_map_is_good(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    m = read_map(tmp_path / "good.yaml")
    assert (m.name, m.middle_c, m.hihat_pedal, m.uncertain) == ("mykit", "C3", {42}, {38})


@pytest.mark.parametrize("old, new, line, expected", [
    # YAML syntax
    ("  38: {name: Snare, gm: 38, class: snare}", "  38: {name: Snare, gm: 38, class: snare",
     10, "not valid YAML"),
    # unknown keys
    ("channel: 10", "chanel: 10", 4, "unknown key 'chanel'; expected one of: name, title"),
    ("  38: {name: Snare, gm: 38, class: snare}", "  38: {name: Snare, gmm: 38, class: snare}",
     9, "notes 38: unknown key 'gmm'"),
    # note numbers
    ("  38: {name: Snare", "  128: {name: Snare", 9, "notes key: expected a MIDI note number 0-127, got 128"),
    ("  38: {name: Snare", "  D1: {name: Snare", 9, "expected a MIDI note number 0-127, got 'D1'"),
    ("  38: {name: Snare", "  36: {name: Snare", 9, "notes: duplicate key 36 \\(first at line 8\\)"),
    ("title: My kit", "title: My kit\nname: other", 3, "duplicate key 'name' \\(first at line 1\\)"),
    # gm targets
    ("gm: 38, class: snare", "class: snare", 9, "notes 38: missing key 'gm'"),
    ("gm: 38, class: snare", "gm: 99, class: snare", 9, "gm: expected a GM percussion note 35-81 or null \\(no GM equivalent\\), got 99"),
    ("gm: 38, class: snare", "gm: snare, class: snare", 9, "got 'snare'"),
    ("gm: 38, class: snare", "gm: true, class: snare", 9, "got True"),
    # classes
    ("class: snare}", "class: drum}", 9, "notes 38 class: expected one of kick, snare, .*got 'drum'"),
    # preferred
    ("  36: 36\n", "  36: 35\n", 12, "preferred 36: note 35 is not under notes"),
    ("  36: 36\n", "  38: 36\n", 12, "preferred 38: expected a note that maps to GM 38, but note 36 maps to GM 36"),
    ("  36: 36\n", "  99: 36\n", 12, "preferred: expected a GM note 35-81 as key, got 99"),
    ("  36: 36\n", "  36: 36\n  36: 36\n", 13, "preferred: duplicate key 36"),
    # other fields
    ("uncertain: [38]", "uncertain: [38, 40]", 5, "uncertain: note 40 is not under notes"),
    ("uncertain: [38]", "uncertain: [38, 38]", 5, "uncertain: note 38 listed twice"),
    ("uncertain: [38]", "uncertain: 38", 5, "uncertain: expected a list, got a value"),
    ("closed_at: 96", "closed_at: 200", 6, "closed_at: expected a CC4 value 1-127"),
    ("notes: [42]}", "notes: [44]}", 6, "hihat_pedal notes: note 44 is not under notes"),
    ("channel: 10", "channel: 0", 4, "channel: expected a MIDI channel 1-16, got 0"),
    ("middle_c: C3", "middle_c: C5", 3, "octave middle_c: expected one of C3, C4"),
    ("name: mykit", "name: My Kit", 1, "name: expected an id of lower-case letters"),
    ("name: mykit", "name: !foo mykit", 1, "name: could not determine a constructor"),
    ("title: My kit\n", "", 1, "drum map: missing key 'title'"),
    ("  36: {name: Kick, gm: 36, class: kick}", "  36: [Kick, 36, kick]", 8,
     "notes 36: expected a mapping, got a list"),
])
def test_bad_map(tmp_path, old, new, line, expected):
    assert old in GOOD
    check(tmp_path, GOOD.replace(old, new, 1), line, expected)


def test_empty_file(tmp_path):
    check(tmp_path, "# nothing\n", 1, "empty file; expected a drum map")


def test_not_a_mapping(tmp_path):
    check(tmp_path, "- a\n- b\n", 1, "drum map: expected a mapping, got a list")


def test_user_map_name_must_match_its_file(user_maps):
    user_maps.mkdir(parents=True)
    path = user_maps / "kit.yaml"
    path.write_text(GOOD)
    with pytest.raises(MapError, match=re.escape(f"{path}:1: name: expected 'kit' (the file name), got 'mykit'")):
        load_map("kit")


def test_not_utf8(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"name: \xff\n")
    with pytest.raises(MapError, match=f"{re.escape(str(path))}: not UTF-8 text"):
        read_map(path)
