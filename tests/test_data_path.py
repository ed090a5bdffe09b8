"""The training data's default place: beside a source checkout only; installed, --data or $DRUMD_DATA."""
from pathlib import Path

import pytest
from click.testing import CliRunner

import drumd.engine.data.gmd as data_mod
from drumd.daemon.cli import main as drumd
from drumd.engine.data.gmd import DataError, default_data_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """engine/data/gmd.py as a wheel installs it: site-packages/drumd/engine/data/gmd.py, no pyproject."""
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "drumd" / "engine" / "data").mkdir(parents=True)
    (site / "drumd" / "engine" / "data" / "gmd.py").write_text("")
    monkeypatch.setattr(data_mod, "__file__", str(site / "drumd" / "engine" / "data" / "gmd.py"))
    monkeypatch.delenv("DRUMD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_a_source_checkout_keeps_the_dev_default(monkeypatch):
    monkeypatch.delenv("DRUMD_DATA", raising=False)
    assert default_data_dir() == REPO.parent / "shared" / "data" / "gmd"
    monkeypatch.setenv("DRUMD_DATA", "/some/where")
    assert default_data_dir() == Path("/some/where")


def test_installed_there_is_no_default(installed, monkeypatch):
    with pytest.raises(DataError, match=r"--data .* \$DRUMD_DATA"):
        default_data_dir()
    monkeypatch.setenv("DRUMD_DATA", "/some/where")
    assert default_data_dir() == Path("/some/where")


@pytest.mark.parametrize("args", [["eval", "--out", "OUT"], ["train", "--out", "OUT"]])
def test_eval_and_train_installed_ask_for_data_in_one_line(installed, tmp_path, args):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    r = CliRunner().invoke(drumd, args)
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert "site-packages" not in r.output
    assert "--data" in lines[0] and "$DRUMD_DATA" in lines[0]
    assert "README 'Train your own model'" in lines[0]


def test_a_folder_without_the_dataset_names_the_readme_section(tmp_path):
    # a folder without info.csv is a library of the user's own files (eval and train read it):
    # one with no MIDI file in it says what was expected and where the README explains it
    for cmd in (["eval", "--out", str(tmp_path / "out")], ["train", "--out", str(tmp_path / "run")]):
        r = CliRunner().invoke(drumd, [*cmd, "--data", str(tmp_path)])
        assert r.exit_code == 1, r.output
        assert len(r.output.strip().splitlines()) == 1, r.output
        assert str(tmp_path) in r.output and "info.csv" in r.output and "no .mid" in r.output
        assert "README 'Train on your own loops'" in r.output
    readme = (REPO / "README.md").read_text()
    assert "### Train on your own loops" in readme
