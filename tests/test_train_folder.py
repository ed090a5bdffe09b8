"""`drumd train --data DIR` on a folder of drum MIDI files (#14): styles from the subfolders, a
vendor map, files skipped with their reason, a seeded validation share, then generate from it."""
import json
from pathlib import Path

import mido
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main as drumd
from drumd.engine.data.encoding import CLASS_NAMES
from drumd.engine.data.library import load_library
from drumd.engine.model.checkpoint import load_checkpoint
from drumd.mappings import load_map

from engine_fixtures import TINY_MODEL

EZD = load_map("ezdrummer2")
KICK, SNARE, HAT, RIDE = (EZD.from_gm(p) for p in (36, 38, 42, 51))


def groove(bars=4, cymbal=HAT, kicks=(0, 8), meter=(4, 4), channel=10, tpb=480, swing=0):
    """(tick, note, velocity) of a simple groove: a cymbal on 8ths, snare on the backbeats."""
    per_bar = 16 * meter[0] // meter[1]
    hits = []
    for b in range(bars):
        for s in range(0, per_bar, 2):
            hits.append((b * per_bar + s, cymbal, 80 + 10 * (s % 4 == 0)))
        for s in kicks:
            if s < per_bar:
                hits.append((b * per_bar + s, KICK, 110))
        for s in (4, 12):
            if s < per_bar:
                hits.append((b * per_bar + s, SNARE, 100))
    return [(step * tpb // 4 + (swing if step % 4 == 2 else 0), note, vel) for step, note, vel in hits]


def write(path: Path, hits, meter=(4, 4), channel=10, tpb=480, end=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    mid = mido.MidiFile(type=0, ticks_per_beat=tpb)
    events = [(0, mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1])),
              (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100)))]
    for tick, note, vel in hits:
        events.append((tick, mido.Message("note_on", channel=channel - 1, note=note, velocity=vel)))
        events.append((tick + tpb // 8, mido.Message("note_off", channel=channel - 1, note=note)))
    events.sort(key=lambda e: e[0])
    track, last = mido.MidiTrack(), 0
    for tick, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, (end or last) - last)))
    mid.tracks.append(track)
    mid.save(path)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """loops/rock: 3 grooves, a 3/4 waltz and a 9/8 groove (a meter drumd does not know); loops/funk: 2 grooves, one on channel 1, a text
    file named .mid, one with no notes, one under a bar; loops/top.mid at the top."""
    root = tmp_path_factory.mktemp("lib") / "loops"
    write(root / "rock" / "beat1.mid", groove())
    write(root / "rock" / "beat2.mid", groove(kicks=(0, 6, 8)))
    write(root / "rock" / "sub" / "beat3.midi", groove(bars=6, tpb=96), tpb=96)
    write(root / "rock" / "waltz.mid", groove(meter=(3, 4), kicks=(0,)), meter=(3, 4))
    write(root / "rock" / "nine.mid", groove(meter=(9, 8), kicks=(0,)), meter=(9, 8))
    write(root / "funk" / "ride1.mid", groove(cymbal=RIDE, kicks=(0, 3, 10), swing=40))
    write(root / "funk" / "ride2.mid", groove(cymbal=RIDE, kicks=(0, 10), swing=40))
    write(root / "funk" / "chan1.mid", groove(cymbal=RIDE), channel=1)
    (root / "funk" / "notes.mid").write_text("these are my favourite loops\n")
    write(root / "funk" / "silent.mid", [], end=4 * 480 * 4)
    write(root / "funk" / "short.mid", [(0, KICK, 100), (240, SNARE, 100)], end=480)
    write(root / "top.mid", groove(bars=2))
    (root / "readme.txt").write_text("not MIDI, not read")
    return root


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


TINY = ["--set", f"model={json.dumps(TINY_MODEL)}", "--set", "batch_size=8",
        "--set", "seq_len=32", "--set", "max_iters=20", "--set", "eval_interval=10",
        "--set", "warmup_iters=5", "--set", "progress=false", "--set", "threads=1"]


def test_the_library_is_read_in_its_map_with_reasons(library):
    lib = load_library(library, "ezdrummer2", seed=1)
    read = {f.rel.as_posix(): f for f in lib.read}
    assert sorted(read) == ["funk/chan1.mid", "funk/ride1.mid", "funk/ride2.mid", "rock/beat1.mid",
                            "rock/beat2.mid", "rock/sub/beat3.midi", "rock/waltz.mid", "top.mid"]
    assert read["rock/waltz.mid"].perf.meter == (3, 4) and read["rock/beat1.mid"].perf.meter == (4, 4)
    assert {f.style for f in lib.read} == {"rock", "funk", "loops"}
    assert read["funk/chan1.mid"].channel == 1 and read["rock/beat1.mid"].channel == 10
    skipped = {f.rel.as_posix(): (f.skipped, f.why) for f in lib.files if f.perf is None}
    assert skipped["rock/nine.mid"] == ("meter not supported", "meter 9/8 not supported (drumd "
                                        "knows 4/4, 3/4, 6/8, 12/8, 5/4, 7/8, 5/8)")
    assert skipped["funk/notes.mid"][0] == "unreadable"
    assert "not a readable MIDI file" in skipped["funk/notes.mid"][1]
    assert skipped["funk/silent.mid"][0] == "no drum notes"
    assert skipped["funk/short.mid"][0] == "too short"
    assert len(skipped) == 4
    # translated from ezdrummer2 to GM: the ride files ride, the hat files play the hi-hat
    ride, hat = CLASS_NAMES.index("ride"), CLASS_NAMES.index("closed_hh")
    funk = read["funk/ride1.mid"].perf
    assert (funk.velocity[:, ride] > 0).sum() == 32 and (funk.velocity[:, hat] > 0).sum() == 0
    beat3 = read["rock/sub/beat3.midi"].perf
    assert (beat3.velocity[:, hat] > 0).sum() == 48 and read["rock/sub/beat3.midi"].bars == 6
    assert abs(funk.offset[2, ride] - 40 / 120) < 1e-6  # the swing's microtiming is kept
    # one held out (10 % of 8, at least one), seeded, never a style's last file
    assert len(lib.validation_files) == 1 and lib.validation_files[0].as_posix() != "top.mid"
    assert load_library(library, "ezdrummer2", seed=1).validation_files == lib.validation_files
    assert len(lib.train) == 7 and len(lib.validation) == 1
    report = lib.report()
    assert "files read: 8 of 12 (7 to train on, 1 held out" in report
    assert "files skipped: 4" in report and "meter not supported: 1" in report
    assert "funk/chan1.mid: channel 1" in report
    assert "bars per style: funk 12, loops 2, rock 18" in report
    assert "bars per meter: 3/4 4, 4/4 28, 9/8 4 (skipped: not a meter drumd knows)" in report


def test_the_wrong_map_says_so(library, tmp_path):
    """Read as GM, the ezdrummer2 hi-hat (22) is no drum: the hats are lost, and a file of
    notes the map does not play is skipped naming the map."""
    lib = load_library(library, "gm", seed=1)
    beat1 = next(f for f in lib.read if f.rel.name == "beat1.mid").perf
    assert (beat1.velocity[:, CLASS_NAMES.index("closed_hh")] > 0).sum() == 0
    write(tmp_path / "hats.mid", [(t * 240, HAT, 90) for t in range(32)])
    write(tmp_path / "beat.mid", groove())
    write(tmp_path / "beat2.mid", groove())
    lib = load_library(tmp_path, "gm")
    (hats,) = [f for f in lib.files if f.perf is None]
    assert hats.skipped == "no drum notes" and "32 notes" in hats.why and "map gm" in hats.why
    assert "--map" in hats.why


def test_train_on_a_folder_then_generate(library, tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(drumd, ["train", "--data", str(library), "--map", "ezd2", "--out", str(run),
                                   *TINY])
    assert r.exit_code == 0, r.output
    assert "files read: 8 of 12" in r.output and "nine.mid: meter 9/8 not supported" in r.output
    assert (run / "data_report.txt").read_text().startswith(f"data: {library} (map ezdrummer2, channel 10)")
    held = (run / "validation.txt").read_text().split()
    assert len(held) == 1 and (library / held[0]).is_file()
    ck = load_checkpoint(run / "best.pt")
    assert ck.styles == ["funk", "loops", "rock"]
    assert ck.meta["data_map"] == "ezdrummer2" and len(ck.meta["data_checksum"]) == 16
    assert ck.meta["library"]["validation_files"] == held
    assert "rock" in ck.meta["warmup"] and ck.meters == ["4/4", "3/4"]
    assert {k.split("@")[0] for k in ck.meta["warmup"]} <= set(ck.styles)
    out = tmp_path / "rock.mid"
    r = CliRunner().invoke(drumd, ["generate", str(out), "--checkpoint", str(run / "best.pt"),
                                   "--style", "rock", "--bars", "2", "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert sum(m.time for m in mido.MidiFile(out).tracks[0]) == 2 * 16 * 120


@pytest.mark.parametrize("case", ["empty", "unusable", "missing", "one file"])
def test_nothing_to_train_on_is_one_line(tmp_path, case):
    data = tmp_path / "loops"
    if case != "missing":
        data.mkdir()
    if case == "unusable":
        (data / "a.mid").write_text("text")
        write(data / "b.mid", groove(meter=(9, 8)), meter=(9, 8))
    if case == "one file":  # nothing skipped, and nothing left to hold out
        write(data / "rock" / "a.mid", groove())
    r = CliRunner().invoke(drumd, ["train", "--data", str(data), "--out", str(tmp_path / "run"), *TINY])
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and str(data) in lines[0], r.output
    assert {"empty": "no .mid or .midi files", "missing": "no such folder",
            "unusable": "2 MIDI file(s), none can be read (1 unreadable, 1 meter not supported",
            "one file": "1 MIDI file(s), only rock/a.mid can be read; training needs at least two"}[case] in lines[0]
    assert not (tmp_path / "run" / "best.pt").exists()


def test_folder_options_are_refused_for_the_dataset(tmp_path):
    (tmp_path / "info.csv").write_text("midi_filename,split,style,beat_type,bpm,drummer\n")
    r = CliRunner().invoke(drumd, ["train", "--data", str(tmp_path), "--map", "ezd2",
                                   "--out", str(tmp_path / "run")])
    assert r.exit_code == 1 and "map apply to folders" in r.output, r.output


def test_an_unknown_map_is_one_line(library, tmp_path):
    r = CliRunner().invoke(drumd, ["train", "--data", str(library), "--map", "nosuchkit",
                                   "--out", str(tmp_path / "run")])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
    assert "nosuchkit" in r.output


def test_one_file_per_style_still_holds_one_out(tmp_path):
    write(tmp_path / "rock" / "a.mid", groove())
    write(tmp_path / "funk" / "b.mid", groove(cymbal=RIDE))
    lib = load_library(tmp_path, "ezdrummer2", seed=3)
    assert len(lib.train) == 1 and len(lib.validation) == 1
    (style,) = {p.style for p in lib.validation}
    assert f"style {style}: its only file is held out" in lib.report()
