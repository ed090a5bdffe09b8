"""Broken files at start: `drumd serve` stops before opening any port, says which file is
wrong, exits non-zero and leaves every file it was given as it was."""
import subprocess
import sys
from pathlib import Path

import pytest

DRUMD = str(Path(sys.executable).with_name("drumd"))


@pytest.fixture
def take(tmp_path):
    p = tmp_path / "take.mid"
    p.write_bytes(b"MThd previous take")
    return p


def serve(*args):
    return subprocess.run([DRUMD, "serve", "--api", "jack", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("what", ["checkpoint", "map", "config"])
def test_a_corrupt_file_is_named_and_nothing_is_overwritten(tmp_path, take, what):
    bad = {"checkpoint": tmp_path / "model.pt", "map": tmp_path / "kit.yaml",
           "config": tmp_path / "drumd.yaml"}[what]
    bad.write_bytes({"checkpoint": b"PK\x03\x04 truncated",
                     "map": b"name: kit\nnotes:\n  36: [kick\n",
                     "config": b"bpm: [120\n"}[what])
    before = {p: p.read_bytes() for p in (bad, take)}
    flag = {"checkpoint": ["--checkpoint", str(bad)], "map": ["--out-map", str(bad)],
            "config": ["--config", str(bad)]}[what]
    r = serve(*flag, "--record", str(take), "--stats", str(tmp_path / "stats.json"))
    assert r.returncode != 0
    assert str(bad) in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in (bad, take)} == before
    assert not (tmp_path / "stats.json").exists()
