"""Output paths that are not plain files: a pipe (or device) is refused, never replaced by the
atomic save's rename; a symbolic link keeps pointing where it did, at the new file."""
import os

from click.testing import CliRunner

from drumd.daemon.cli import main
from drumd.mappings.files import atomic_open

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
