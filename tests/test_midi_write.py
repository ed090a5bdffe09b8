"""The one MIDI writer (mappings.midifile.write_midi): what it writes reads back through the one
reader (hits, tempo map, meter, map name), it saves atomically, and every command uses it."""
import os
import re
from pathlib import Path

import mido
import pytest

from drumd.daemon.play.record import Recorder
from drumd.engine.data.encoding import Hit, Step
from drumd.engine.data.stepfiles import read_primer, write_steps
from drumd.mappings import Translator, load_map
from drumd.mappings.basics.grid import PPQN
from drumd.mappings.basics.midifile import (MAP_TEXT, MidiFileError, Track, note_events,
                                            read_drum_notes, remap_file, write_midi)

ROOT = Path(__file__).resolve().parents[1]
HITS = [(0, 36, 100), (0, 42, 80), (240, 42, 60), (480, 38, 110), (480, 42, 70), (725, 36, 90),
        (1430, 49, 127)]


def test_written_hits_tempo_meter_and_map_read_back(tmp_path):
    path = tmp_path / "beat.mid"
    write_midi(path, [Track("drums", note_events(HITS, channel=10), "ezdrummer2")],
               tempos=[(0, 96.0), (960, 140.0)], meters=[(0, 3, 4), (1440, 4, 4)],
               end_tick=2880)
    f = read_drum_notes(path)
    assert [(n.tick, n.note, n.velocity) for n in f.notes] == sorted(HITS)
    assert f.tempos == [(0, mido.bpm2tempo(96.0)), (960, mido.bpm2tempo(140.0))]
    assert f.bpm == pytest.approx(96.0) and f.meter == (3, 4)
    assert f.map_name == "ezdrummer2" and f.ticks_per_beat == PPQN and f.end_tick == 2880
    mid = mido.MidiFile(path)
    assert mid.type == 0 and mid.tracks[0][1].text == MAP_TEXT + "ezdrummer2"
    signatures = [(m.numerator, m.denominator) for m in mid.tracks[0] if m.type == "time_signature"]
    assert signatures == [(3, 4), (4, 4)]


def test_note_offs_come_before_note_ons_at_one_tick(tmp_path):
    events = note_events([(0, 38, 100), (60, 38, 90)], channel=1, gate_ticks=60)
    assert [(t, m.type, m.channel) for t, m in events] == [
        (0, "note_on", 0), (60, "note_off", 0), (60, "note_on", 0), (120, "note_off", 0)]


def test_several_tracks_make_a_type_1_file_and_the_note_track_names_the_map(tmp_path):
    path = tmp_path / "take.mid"
    pads = Track("pads", note_events([(0, 60, 100)], channel=1), "roland-td")
    drums = Track("drums", note_events([(120, 36, 100)], channel=10), "ezdrummer2")
    write_midi(path, [pads, drums], tempos=[(0, 100.0)])
    mid = mido.MidiFile(path)
    assert mid.type == 1 and [t.name for t in mid.tracks] == ["tempo", "pads", "drums"]
    assert read_drum_notes(path).map_name == "ezdrummer2"  # the track of channel 10's notes
    assert read_drum_notes(path, channel=1).map_name == "roland-td"


def test_a_file_that_names_no_map_reads_as_none(tmp_path):
    path = tmp_path / "plain.mid"
    write_midi(path, [Track("drums", note_events(HITS))])
    assert read_drum_notes(path).map_name is None


def test_write_steps_reads_back_as_the_same_primer(tmp_path):
    path = tmp_path / "gen.mid"
    steps = [Step((Hit(36, 100), Hit(42, 80))), Step(), Step((Hit(42, 64, 0.1),)),
             Step((Hit(42, 70, -0.25),))] * 8 + [Step((Hit(38, 120),))] + [Step()] * 15
    n = write_steps(path, steps, 97.0, "ezdrummer2", meters=((0, 4, 4),))
    assert n == sum(len(s.hits) for s in steps)
    p = read_primer(path, "ezdrummer2")
    assert p.bpm == pytest.approx(97.0, abs=0.01) and p.meter == (4, 4) and len(p.steps) == 48
    got = [[(h.pitch, h.velocity, round(h.offset, 2)) for h in sorted(s.hits, key=lambda h: h.pitch)]
           for s in p.steps]
    want = [[(h.pitch, h.velocity, round(h.offset, 2)) for h in sorted(s.hits, key=lambda h: h.pitch)]
            for s in steps]
    assert got == want
    assert read_drum_notes(path).map_name == "ezdrummer2"


def test_recording_names_its_maps_and_meter(tmp_path):
    path = tmp_path / "take.mid"
    r = Recorder(path, start_time=0.0, bpm=120.0,
                 maps={"drumd out": "ezdrummer2", "player in": "roland-td"})
    r.add("player in", 0.25, [0x90, 38, 90])   # the pads on channel 1
    r.add("drumd out", 0.5, [0x99, 36, 100])
    r.add("drumd out", 0.6, [0x89, 36, 0])
    r.write()
    f = read_drum_notes(path)
    assert [(n.tick, n.note) for n in f.notes] == [(480, 36)] and f.map_name == "ezdrummer2"
    assert f.meter == (4, 4) and f.tempos == [(0, 500_000)]
    assert read_drum_notes(path, channel=1).map_name == "roland-td"


def test_remap_renames_the_map_a_file_names(tmp_path):
    src, dst = tmp_path / "gm.mid", tmp_path / "ezd.mid"
    write_midi(src, [Track("drums", note_events([(0, 42, 100), (120, 36, 90)]), "gm")])
    remap_file(src, dst, Translator("gm", "ezdrummer2"))
    f = read_drum_notes(dst)
    assert f.map_name == "ezdrummer2"
    hat = load_map("ezdrummer2").from_gm(42)
    assert hat != 42 and [(n.tick, n.note) for n in f.notes] == [(0, hat), (120, 36)]


def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "beat.mid"
    write_midi(path, [Track("drums", note_events(HITS), "gm")])
    before = path.read_bytes()

    def dies_half_way(self, filename=None, file=None):
        file.write(before[:20])
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(mido.MidiFile, "save", dies_half_way)
    with pytest.raises(MidiFileError, match=r"beat.mid: cannot write \(No space left on device\)"):
        write_midi(path, [Track("drums", note_events(HITS[:2]), "gm")])
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["beat.mid"]


@pytest.mark.parametrize("tempos, events, why", [
    ([(0, 1.0)], [], "cannot write this as a MIDI file"),   # 60 s per beat: over 24 bits
    ([(0, 120.0)], [(-10, mido.Message("note_on", note=36))], "before the start"),
])
def test_what_a_midi_file_cannot_hold_is_refused_and_nothing_is_written(tmp_path, tempos,
                                                                       events, why):
    path = tmp_path / "beat.mid"
    path.write_bytes(b"old")
    with pytest.raises(MidiFileError, match=why) as e:
        write_midi(path, [Track("drums", events)], tempos=tempos)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["beat.mid"]


@pytest.mark.parametrize("where, why", [("folder", "is a folder"),
                                        ("missing/x.mid", "does not exist")])
def test_output_paths_are_checked(tmp_path, where, why):
    (tmp_path / "folder").mkdir()
    with pytest.raises(MidiFileError, match=why):
        write_midi(tmp_path / where, [Track("drums", note_events(HITS))])
    assert not (tmp_path / "missing").exists()


WRITERS = ["engine", "daemon", "mappings", "scripts"]


def test_mido_files_are_made_only_by_the_one_writer():
    """No module but mappings/basics/midifile.py builds or saves a mido.MidiFile or MidiTrack."""
    found = []
    for folder in WRITERS:
        for p in (ROOT / folder).rglob("*.py"):
            if p.relative_to(ROOT) == Path("mappings/basics/midifile.py"):
                continue
            text = p.read_text()
            found += [f"{p.relative_to(ROOT)}: {m}"
                      for m in re.findall(r"MidiFile\(|MidiTrack\(|\.save\(file=", text)]
    assert not found
