"""`drumd maps list|show|check`."""
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main


@pytest.fixture(autouse=True)
def user_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "drumd" / "maps"


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_list_shows_builtin_and_user_maps(user_maps):
    user_maps.mkdir(parents=True)
    (user_maps / "mine.yaml").write_text(
        "name: mine\ntitle: My own kit\nnotes:\n  36: {name: Kick, gm: 36, class: kick}\n")
    r = run("maps", "list")
    assert r.exit_code == 0, r.output
    lines = {line.split()[0]: line for line in r.output.splitlines() if line.strip()}
    assert "127" in lines["ezdrummer2"] and "builtin" in lines["ezdrummer2"] and "EZdrummer 2" in lines["ezdrummer2"]
    assert "user" in lines["mine"] and "My own kit" in lines["mine"]
    assert str(user_maps) in r.output


def test_list_names_a_broken_user_map(user_maps):
    user_maps.mkdir(parents=True)
    (user_maps / "bad.yaml").write_text("name: bad\ntitle: x\nnotes: {36: {name: K, gm: 36}}\n")
    r = run("maps", "list")
    assert r.exit_code == 1 and f"{user_maps / 'bad.yaml'}:3: notes 36: missing key 'class'" in r.output


def test_show_prints_both_octave_conventions_gm_names_and_flags():
    r = run("maps", "show", "ezd")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("ezdrummer2: Toontrack EZdrummer 2")
    rows = {line.split()[0]: line.split() for line in r.output.splitlines() if line[:1].isdigit()}
    assert rows["36"][:3] == ["36", "C1", "C2"] and rows["36"][-1] == "*"
    assert rows["55"][-3:] == ["1", "crash", "*"]  # "Crash Cymbal 1", class, preferred for GM 49
    assert rows["7"][-1] == "?p" and "Closed Hi-Hat" in " ".join(rows["7"])
    assert "sources:" in r.output and "hi-hat openness from CC4" in r.output


def test_show_unknown_map_lists_known_ones():
    r = run("maps", "show", "bfd3")
    assert r.exit_code == 1 and "unknown drum map 'bfd3'; known maps:" in r.output and "roland-td" in r.output


def test_check_ok(tmp_path):
    path = tmp_path / "kit.yaml"
    path.write_text("name: kit\ntitle: Kit\nnotes:\n  10: {name: Kick, gm: 36, class: kick}\n"
                    "  11: {name: Snare, gm: 38, class: snare}\npreferred: {36: 10}\n")
    r = run("maps", "check", str(path))
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"OK {path}: kit (Kit): 2 notes, plays 2 GM notes, 0 uncertain")
    assert "without a `preferred` entry (lowest plain note chosen): 38 -> 11" in r.output


@pytest.mark.parametrize("text, line, expected", [
    ("name: kit\ntitle: Kit\nnotes:\n  200: {name: K, gm: 36, class: kick}\n", 4,
     "expected a MIDI note number 0-127"),
    ("name: kit\ntitle: Kit\nnotes:\n  36: {name: K, gm: 36, class: kick}\n"
     "  38: {name: S, gm: 38, class: snare}\npreferred: {38: 36}\n", 6,
     "preferred 38: expected a note that maps to GM 38"),
    ("name: kit\ntitle: Kit\nnotes:\n  36: {name: K, gm: 36, class: kick}\npreferred: {38: 36}\n", 5,
     "preferred 38: a stand-in for GM 38 (snare) must be of its family (snare), not kick"),
    ("name: kit\ntitle: [Kit\n", 3, "not valid YAML"),
])
def test_check_bad_file_exits_1_naming_file_and_line(tmp_path, text, line, expected):
    path = tmp_path / "kit.yaml"
    path.write_text(text)
    r = run("maps", "check", str(path))
    assert r.exit_code == 1 and f"Error: {path}:{line}: " in r.output and expected in r.output


def test_check_every_shipped_map():
    from drumd.mappings import BUILTIN_DIR
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        r = run("maps", "check", str(path))
        assert r.exit_code == 0 and r.output.startswith("OK") and "without" not in r.output, r.output
