"""A missing or unusable input file: drumd's one line naming it, exit status 1, in every command
(mappings.clitypes.InputPath), never click's usage text."""
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main

# (arguments with {bad} for the input, what follows "{bad}: " when it does not exist)
COMMANDS = [
    (["render", "{bad}", "{tmp}/out.wav"], "no such file"),
    (["audition", "{bad}"], "no such file"),
    (["remap", "{bad}", "{tmp}/out.mid", "--from", "gm", "--to", "gm"], "no such file or folder"),
    (["generate", "{tmp}/out.mid", "--primer", "{bad}"], "no such file"),
    (["generate", "{tmp}/out.mid", "--checkpoint", "{bad}"], "no such file"),
    (["serve", "--config", "{bad}"], "no such file"),
    (["serve", "--checkpoint", "{bad}"], "no such file"),
    (["maps", "check", "{bad}"], "no such file"),
    (["train", "--config", "{bad}"], "no such file"),
    (["eval", "{bad}", "--out", "{tmp}/eval"], "no such file"),
]


def run(args, bad, tmp):
    return CliRunner().invoke(main, [a.format(bad=bad, tmp=tmp) for a in args])


@pytest.mark.parametrize("args,missing", COMMANDS, ids=lambda a: a[0] if isinstance(a, list) else "")
def test_a_missing_input_is_one_line_naming_it(tmp_path, args, missing):
    bad = tmp_path / "nope.mid"
    r = run(args, bad, tmp_path)
    assert r.exit_code == 1, r.output
    assert r.output == f"Error: {bad}: {missing}\n"
    assert not list(tmp_path.iterdir())  # and nothing was written


@pytest.mark.parametrize("args,_", [c for c in COMMANDS if c[0][0] != "remap"],
                         ids=lambda a: a[0] if isinstance(a, list) else "")
def test_a_folder_given_as_an_input_file_is_named(tmp_path, args, _):
    folder = tmp_path / "songs"
    folder.mkdir()
    r = run(args, folder, tmp_path)
    assert r.exit_code == 1 and r.output == f"Error: {folder}: is a folder; expected a file\n"


def test_a_path_through_a_file_is_no_such_file(tmp_path):
    (tmp_path / "a.mid").write_bytes(b"")
    bad = tmp_path / "a.mid" / "b.mid"
    r = run(["render", "{bad}", "{tmp}/out.wav"], bad, tmp_path)
    assert r.exit_code == 1 and r.output == f"Error: {bad}: no such file\n"
