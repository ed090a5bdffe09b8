"""Output paths that are not plain files: a pipe (or device) is refused, never replaced by the
atomic save's rename; a symbolic link keeps pointing where it did, at the new file."""
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from drumd.daemon.cli import main
from drumd.mappings.basics.files import atomic_open

BEAT = (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x0c"
        b"\x00\x99\x24\x64\x60\x89\x24\x00\x00\xff\x2f\x00")


def test_a_pipe_as_output_is_refused_and_left_a_pipe(tmp_path):
    (tmp_path / "in.mid").write_bytes(BEAT)
    fifo = tmp_path / "out.wav"
    os.mkfifo(fifo)
    for args in (["render", str(tmp_path / "in.mid"), str(fifo)],
                 ["remap", str(tmp_path / "in.mid"), str(fifo), "--from", "gm", "--to", "ssd5"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1 and r.output == (
            f"Error: {fifo}: not a regular file (a device, pipe or socket); expected a file name\n")
        assert fifo.is_fifo()


def test_a_symlink_keeps_its_place_and_its_target_gets_the_file(tmp_path):
    (tmp_path / "takes").mkdir()
    target = tmp_path / "takes" / "real.mid"
    target.write_bytes(b"old")
    link = tmp_path / "latest.mid"
    link.symlink_to(target)
    with atomic_open(link) as f:
        f.write(b"new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in (tmp_path / "takes").iterdir()) == ["real.mid"]


def test_a_folder_as_output_is_one_line_in_every_command(tmp_path):
    (tmp_path / "in.mid").write_bytes(BEAT)
    folder = tmp_path / "songs"
    folder.mkdir()
    line = f"Error: {folder}: is a folder; expected a file name"
    for args in (["render", str(tmp_path / "in.mid"), str(folder)],
                 ["generate", str(folder), "--bars", "1"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1 and r.output == line + "\n", args
    # serve, in its own process (it enables faulthandler on the real stderr)
    for flag in ("--record", "--stats"):
        done = subprocess.run([str(Path(sys.executable).with_name("drumd")), "serve", flag,
                               str(folder)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and done.stderr == line + "\n", done.stderr
