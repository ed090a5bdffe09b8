"""`drumd remap`: files, folders, --in-place, refusing to overwrite input, errors."""
import os

import mido
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main


@pytest.fixture(autouse=True)
def no_user_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def write_song(path, drum_notes=(22, 55, 27), channel=9):
    """Roland notes on `channel`, a piano note on channel 1, tempo and time signature."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=600000),
                            mido.MetaMessage("time_signature", numerator=3, denominator=4),
                            mido.Message("note_on", note=60, velocity=90, channel=0)])
    for n in drum_notes:
        track += [mido.Message("note_on", note=n, velocity=100, channel=channel, time=120),
                  mido.Message("note_on", note=n, velocity=0, channel=channel, time=7)]
    track += [mido.Message("note_off", note=60, channel=0, time=5), mido.MetaMessage("end_of_track")]
    path.parent.mkdir(parents=True, exist_ok=True)
    mido.MidiFile(ticks_per_beat=96, tracks=[track]).save(path)


def drum_notes(path, channel=9):
    return [m.note for m in mido.MidiFile(path).tracks[0]
            if m.type == "note_on" and m.velocity and m.channel == channel]


def run(*args):
    return CliRunner().invoke(main, ["remap", *map(str, args)])


def test_remap_file_with_summary_of_unmapped_notes(tmp_path):
    write_song(tmp_path / "in.mid")
    r = run(tmp_path / "in.mid", tmp_path / "out.mid", "--from", "td", "--to", "ezdrummer")
    assert r.exit_code == 0, r.output
    assert drum_notes(tmp_path / "out.mid") == [22, 55]
    assert "remapped 1 file from roland-td to ezdrummer2: 3 notes, 1 unmapped, 1 dropped" in r.output
    row = next(line for line in r.output.splitlines() if line.split()[:2] == ["1", "27"])
    assert "AUX (HEAD)" in row and "GM 52 Chinese Cymbal: not in ezdrummer2" in row and "dropped" in row
    ticks = [m.time for m in mido.MidiFile(tmp_path / "out.mid").tracks[0]]
    assert ticks == [0, 0, 0, 120, 7, 120, 7, 120 + 7 + 5, 0]  # the dropped pair's time moves on
    assert drum_notes(tmp_path / "in.mid") == [22, 55, 27]  # input untouched


def test_remap_nearest_and_pass(tmp_path):
    write_song(tmp_path / "in.mid")
    r = run(tmp_path / "in.mid", tmp_path / "near.mid", "--from", "td", "--to", "ezd", "--unmapped", "nearest")
    assert r.exit_code == 0 and drum_notes(tmp_path / "near.mid") == [22, 55, 55]
    assert "-> 55 desc: main crash" in r.output
    r = run(tmp_path / "in.mid", tmp_path / "pass.mid", "--from", "td", "--to", "ezd", "--unmapped", "pass")
    assert r.exit_code == 0 and drum_notes(tmp_path / "pass.mid") == [22, 55, 27] and "kept as 27" in r.output


def test_channel_option(tmp_path):
    write_song(tmp_path / "in.mid", channel=3)
    r = run(tmp_path / "in.mid", tmp_path / "a.mid", "--from", "td", "--to", "gm")
    # channel 10 only: nothing there, so the file is examined and the channels it uses named (#13)
    assert r.exit_code == 1 and not (tmp_path / "a.mid").exists()
    assert "no notes on channel 10; notes on channel 1 (1), 4 (3): use --channel 4" in r.output
    r = run(tmp_path / "in.mid", tmp_path / "b.mid", "--from", "td", "--to", "gm", "--channel", "4")
    assert r.exit_code == 0 and drum_notes(tmp_path / "b.mid", 3) == [42, 49, 52]
    r = run(tmp_path / "in.mid", tmp_path / "c.mid", "--from", "td", "--to", "gm", "--channel", "all")
    piano = [m for m in mido.MidiFile(tmp_path / "c.mid").tracks[0] if m.type.startswith("note") and m.channel == 0]
    assert r.exit_code == 0 and drum_notes(tmp_path / "c.mid", 3) == [42, 49, 52]
    assert piano == [] and "1 unmapped, 1 dropped" in r.output  # note 60 is no Roland drum
    r = run(tmp_path / "in.mid", tmp_path / "d.mid", "--from", "td", "--to", "gm", "--channel", "17")
    assert r.exit_code == 2 and "expected a MIDI channel 1-16 or 'all'" in r.output


def test_remap_folder_mirrors_the_tree(tmp_path):
    for rel in ("a.mid", "x/b.MID", "x/y/c.midi"):
        write_song(tmp_path / "in" / rel)
    (tmp_path / "in" / "notes.txt").write_text("not midi")
    r = run(tmp_path / "in", tmp_path / "out", "--from", "td", "--to", "gm")
    assert r.exit_code == 0, r.output
    assert "remapped 3 files from roland-td to gm: 9 notes, 0 unmapped" in r.output
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*"))
    assert written == ["a.mid", "x", "x/b.MID", "x/y", "x/y/c.midi"]
    assert drum_notes(tmp_path / "out/x/y/c.midi") == [42, 49, 52]


def test_folder_with_a_bad_file_writes_the_rest_and_fails(tmp_path):
    write_song(tmp_path / "in" / "good.mid")
    (tmp_path / "in" / "bad.mid").write_bytes(b"MThd\x00\x00")
    r = run(tmp_path / "in", tmp_path / "out", "--from", "td", "--to", "gm")
    assert r.exit_code == 1
    assert f"{tmp_path / 'in' / 'bad.mid'}: not a readable MIDI file" in r.output
    assert (tmp_path / "out" / "good.mid").is_file() and not (tmp_path / "out" / "bad.mid").exists()


def test_refuses_to_overwrite_the_input(tmp_path):
    write_song(tmp_path / "in.mid")
    before = (tmp_path / "in.mid").read_bytes()
    for out in (tmp_path / "in.mid", tmp_path / "sub" / ".." / "in.mid", tmp_path):
        r = run(tmp_path / "in.mid", out, "--from", "td", "--to", "gm")
        assert r.exit_code == 1 and "OUT is IN; refusing to overwrite the input" in r.output
    os.link(tmp_path / "in.mid", tmp_path / "hardlink.mid")
    r = run(tmp_path / "in.mid", tmp_path / "hardlink.mid", "--from", "td", "--to", "gm")
    assert r.exit_code == 1 and "OUT is IN" in r.output
    write_song(tmp_path / "dir" / "a.mid")
    r = run(tmp_path / "dir", tmp_path / "dir" / "out", "--from", "td", "--to", "gm")
    assert r.exit_code == 1 and "OUT is inside IN" in r.output
    r = run(tmp_path / "in.mid", "--from", "td", "--to", "gm")
    assert r.exit_code == 2 and "missing OUT (or give --in-place" in r.output
    assert (tmp_path / "in.mid").read_bytes() == before


def test_in_place_is_atomic_and_keeps_the_mode(tmp_path):
    write_song(tmp_path / "in.mid")
    os.chmod(tmp_path / "in.mid", 0o604)
    inode = (tmp_path / "in.mid").stat().st_ino
    r = run(tmp_path / "in.mid", "--from", "td", "--to", "gm", "--in-place")
    assert r.exit_code == 0, r.output
    assert drum_notes(tmp_path / "in.mid") == [42, 49, 52]
    st = (tmp_path / "in.mid").stat()
    assert st.st_ino != inode and st.st_mode & 0o777 == 0o604  # replaced, not rewritten in place
    assert os.listdir(tmp_path) == ["in.mid"]  # no temporary file left
    r = run(tmp_path / "in.mid", tmp_path / "other.mid", "--from", "gm", "--to", "td", "--in-place")
    assert r.exit_code == 2 and "--in-place rewrites IN; leave out OUT" in r.output


def test_in_place_folder(tmp_path):
    write_song(tmp_path / "in" / "a.mid")
    write_song(tmp_path / "in" / "s" / "b.mid")
    r = run(tmp_path / "in", "--from", "td", "--to", "gm", "--in-place")
    assert r.exit_code == 0 and drum_notes(tmp_path / "in" / "s" / "b.mid") == [42, 49, 52]
    assert sorted(p.name for p in (tmp_path / "in").rglob("*")) == ["a.mid", "b.mid", "s"]


def test_bad_input_errors_name_the_file(tmp_path):
    (tmp_path / "junk.mid").write_text("hello")
    r = run(tmp_path / "junk.mid", tmp_path / "out.mid", "--from", "td", "--to", "gm")
    assert r.exit_code == 1 and f"Error: {tmp_path / 'junk.mid'}: not a readable MIDI file" in r.output
    assert not (tmp_path / "out.mid").exists()
    r = run(tmp_path / "missing.mid", tmp_path / "out.mid", "--from", "td", "--to", "gm")
    assert r.exit_code == 1 and r.output == f"Error: {tmp_path / 'missing.mid'}: no such file or folder\n"
    write_song(tmp_path / "in.mid")
    r = run(tmp_path / "in.mid", tmp_path / "out.mid", "--from", "td", "--to", "bfd3")
    assert r.exit_code == 1 and "unknown drum map 'bfd3'; known maps:" in r.output and "ezdrummer2" in r.output
    r = run(tmp_path / "in", tmp_path / "out", "--from", "td", "--to", "gm")
    assert r.exit_code == 1 and "in: no such file or folder" in r.output
    (tmp_path / "empty").mkdir()
    r = run(tmp_path / "empty", tmp_path / "out", "--from", "td", "--to", "gm")
    assert r.exit_code == 1 and "no .mid or .midi files" in r.output
