"""MIDI files (issue #13): one reader of drum hits for every command, a clear one-line answer
for every bad file, flams and drags kept by `generate --include-primer`, and output paths that
are never a folder or a silent mkdir."""
import struct
import subprocess
import sys
from pathlib import Path

import mido
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main as drumd
from drumd.daemon.cli.audio import midi_hits
from drumd.engine.data.gmd import DataError, read_onsets
from drumd.engine.data.stepfiles import read_primer
from drumd.mappings import load_map
from drumd.mappings.basics.files import OutputPathError, atomic_open
from drumd.mappings.basics.midifile import MAX_STEPS, MidiFileError, read_drum_notes

TPB = 480
STEP = TPB // 4
KICK, SNARE, HAT, OPEN_HAT, CRASH = 36, 38, 42, 46, 49
GG_HAT = 17  # GetGood Invasion: a hi-hat whose openness follows CC4 (127 = closed)


def track(events, channel=9):
    """events: (tick, message or (kind, note/control, value)); note-ons get a note-off 60 later."""
    ev = []
    for tick, m in events:
        if isinstance(m, tuple):
            kind, a, b = m
            if kind == "on":
                ev.append((tick, 1, mido.Message("note_on", channel=channel, note=a, velocity=b)))
                ev.append((tick + 60, 0, mido.Message("note_off", channel=channel, note=a)))
            else:
                ev.append((tick, 1, mido.Message("control_change", channel=channel, control=a, value=b)))
        else:
            ev.append((tick, 1, m))
    ev.sort(key=lambda e: (e[0], e[1]))
    out, last = mido.MidiTrack(), 0
    for tick, _, m in ev:
        out.append(m.copy(time=tick - last))
        last = tick
    return out


def save(path, *tracks, type=1, tpb=TPB):
    mid = mido.MidiFile(type=type, ticks_per_beat=tpb)
    mid.tracks.extend(tracks)
    mid.save(path)
    return Path(path)


def beat(bars=2):
    """Kick on 1 and 3, snare on 2 and 4, 8th hats: (tick, ("on", pitch, velocity))."""
    out = []
    for b in range(bars):
        for i in range(0, 16, 2):
            t = (b * 16 + i) * STEP
            out.append((t, ("on", HAT, 80)))
            if i in (0, 8):
                out.append((t, ("on", KICK, 100)))
            if i in (4, 12):
                out.append((t, ("on", SNARE, 100)))
    return out


def tempo_track(bpm=100):
    return mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))])


# --- one channel of drums -----------------------------------------------------------------
def test_a_bass_line_on_channel_1_is_not_read_as_drums(tmp_path):
    bass = [(t * STEP, ("on", p, 90)) for t, p in enumerate([40, 43, 45, 47, 38, 41] * 5)]
    f = save(tmp_path / "song.mid", tempo_track(), track(beat(), channel=9), track(bass, channel=0))
    p = read_primer(f)
    pitches = sorted({h.pitch for s in p.steps for h in s.hits})
    assert pitches == [KICK, SNARE, HAT] and p.bars == 2
    assert sum(len(s.hits) for s in p.steps) == len(beat())
    assert sorted(n.note for n in read_drum_notes(f).notes) == sorted(e[1][1] for e in beat())
    assert sorted(p for _, p, _ in midi_hits(f)) == sorted(e[1][1] for e in beat())


def test_a_file_without_drums_on_channel_10_names_the_channels_it_has(tmp_path):
    f = save(tmp_path / "ch2.mid", track(beat(), channel=1), track(beat(1)[:12], channel=0))
    with pytest.raises(MidiFileError, match=r"ch2.mid: no notes on channel 10; notes on channel "
                                            r"1 \(12\), 2 \(24\): use --channel 2"):
        read_drum_notes(f)
    assert len(read_drum_notes(f, channel=2).notes) == 24
    r = CliRunner().invoke(drumd, ["render", str(f), str(tmp_path / "x.wav")])
    assert r.exit_code == 1 and "use --channel 2" in r.output and len(r.output.splitlines()) == 1
    out = tmp_path / "out.mid"
    r = CliRunner().invoke(drumd, ["generate", str(out), "--primer", str(f), "--bars", "1"])
    assert r.exit_code == 1 and "use --primer-channel 2" in r.output and not out.exists()
    r = CliRunner().invoke(drumd, ["generate", str(out), "--primer", str(f), "--bars", "1",
                                   "--primer-channel", "2", "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert "after 2 primer bars" in r.output


# --- the hi-hat pedal ---------------------------------------------------------------------
def test_a_pedal_cc_on_another_track_at_the_notes_tick_applies_to_it(tmp_path):
    hats = track([(0, ("on", GG_HAT, 100)), (TPB, ("on", GG_HAT, 100))])
    pedal = track([(0, ("cc", 4, 0)), (TPB, ("cc", 4, 127))])  # closed exactly at the 2nd hat
    f = save(tmp_path / "hh.mid", hats, pedal)  # the pedal's track after the notes' track
    gg = load_map("getgood-invasion")
    assert [p for _, p, _ in midi_hits(f, drum_map=gg)] == [OPEN_HAT, HAT]
    onsets, _ = read_onsets(f, lambda n, cc4: gg.to_gm(n, cc4=cc4))
    assert [p for _, p, _ in onsets] == [OPEN_HAT, HAT]
    out = tmp_path / "gm.mid"
    r = CliRunner().invoke(drumd, ["remap", str(f), str(out), "--from", "getgood-invasion", "--to", "gm"])
    assert r.exit_code == 0, r.output
    assert [m.note for m in mido.merge_tracks(mido.MidiFile(out).tracks)
            if m.type == "note_on" and m.velocity] == [OPEN_HAT, HAT]


def test_within_one_track_the_files_own_order_is_kept(tmp_path):
    """A CC4 written after the note at the same tick of the same track comes after it (the
    Groove MIDI Dataset has a few such: its training data reads exactly as before)."""
    t = mido.MidiTrack([mido.Message("control_change", channel=9, control=4, value=0),
                        mido.Message("note_on", channel=9, note=GG_HAT, velocity=90, time=TPB),
                        mido.Message("control_change", channel=9, control=4, value=127),
                        mido.Message("note_on", channel=9, note=GG_HAT, velocity=90, time=TPB)])
    f = save(tmp_path / "order.mid", t, type=0)
    assert [n.cc4 for n in read_drum_notes(f).notes] == [0, 127]


# --- every file gets a clear answer ---------------------------------------------------------
def _valid(path):
    return save(path, tempo_track(), track(beat()))


def _running_status(path):
    body = bytes([0x00, 0x24, 0x64, 0x60, 0x24, 0x00, 0x00, 0xFF, 0x2F, 0x00])  # data first
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, TPB)
                     + b"MTrk" + struct.pack(">I", len(body)) + body)
    return path


def _smpte(path):
    _valid(path)
    data = bytearray(path.read_bytes())
    data[12:14] = bytes([0xE7, 0x28])  # -25 frames per second, 40 ticks per frame
    path.write_bytes(bytes(data))
    return path


def _truncated(path):
    _valid(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def _huge_delta(path):
    t = mido.MidiTrack([mido.Message("note_on", channel=9, note=KICK, velocity=100, time=2 ** 28 - 1),
                        mido.Message("note_off", channel=9, note=KICK, time=60)])
    return save(path, t, type=0)


BAD = {
    "empty": (lambda p: (p.write_bytes(b""), p)[1], "the file is empty"),
    "truncated": (_truncated, "ends in the middle of a track"),
    "text": (lambda p: (p.write_text("these are my drums\n"), p)[1], "starts with text"),
    "running-status": (_running_status, "starts with running status"),
    "smpte": (_smpte, "SMPTE frames"),
    "huge-delta": (_huge_delta, "16th notes long"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_file_is_refused_by_name_in_one_line_by_every_command(tmp_path, case):
    make, reason = BAD[case]
    f = make(tmp_path / f"{case}.mid")
    with pytest.raises(MidiFileError, match=reason):
        read_drum_notes(f)
    with pytest.raises(DataError, match=reason):
        read_primer(f)
    runner = CliRunner()
    commands = {
        "render": ["render", str(f), str(tmp_path / "x.wav")],
        "audition": ["audition", str(f)],
        "generate": ["generate", str(tmp_path / "x.mid"), "--primer", str(f), "--bars", "1"],
        "remap": ["remap", str(f), str(tmp_path / "y.mid"), "--from", "gm", "--to", "ezdrummer2"],
    }
    for name, args in commands.items():
        if name == "remap" and case in ("smpte", "huge-delta"):
            continue  # remap only renumbers notes: these it can copy as they are
        r = runner.invoke(drumd, args)
        assert r.exit_code == 1, (name, r.output)
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and f"{case}.mid" in lines[0] and reason in lines[0], (name, r.output)
        assert "Traceback" not in r.output and "Aborted" not in r.output
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "x.mid").exists()


def test_a_huge_delta_time_is_refused_before_anything_is_allocated(tmp_path):
    f = _huge_delta(tmp_path / "far.mid")
    with pytest.raises(MidiFileError, match=f"over {MAX_STEPS:,}"):
        read_drum_notes(f)
    ok = save(tmp_path / "near.mid", mido.MidiTrack([
        mido.Message("note_on", channel=9, note=KICK, velocity=100, time=(MAX_STEPS - 1) * STEP)]), type=0)
    assert read_drum_notes(ok).notes[0].tick == (MAX_STEPS - 1) * STEP


def test_type_2_patterns_are_read_one_after_another(tmp_path):
    one = track([(0, ("on", KICK, 100)), (8 * STEP, ("on", SNARE, 100))])
    one.append(mido.MetaMessage("end_of_track", time=16 * STEP - one_length(one)))
    two = track([(0, ("on", CRASH, 110))])
    f = save(tmp_path / "patterns.mid", one, two, type=2)
    assert [(n.tick, n.note) for n in read_drum_notes(f).notes] == [(0, KICK), (8 * STEP, SNARE),
                                                                    (16 * STEP, CRASH)]


def one_length(t):
    return sum(m.time for m in t)


def test_meta_and_sysex_anywhere_and_a_missing_end_of_track_are_fine(tmp_path):
    t = mido.MidiTrack([mido.Message("sysex", data=[1, 2, 3]),
                        mido.Message("note_on", channel=9, note=KICK, velocity=100),
                        mido.MetaMessage("text", text="verse", time=STEP),
                        mido.Message("note_on", channel=9, note=SNARE, velocity=100, time=STEP),
                        mido.Message("note_on", channel=9, note=SNARE, velocity=0)])  # zero-length
    f = tmp_path / "loose.mid"
    mido.MidiFile(type=0, ticks_per_beat=TPB, tracks=[t]).save(f)
    data = f.read_bytes()
    assert data.endswith(b"\xff\x2f\x00")  # mido adds an end of track: take it out
    body = data[22:-4]
    f.write_bytes(data[:18] + struct.pack(">I", len(body)) + body)
    assert [(n.tick, n.note) for n in read_drum_notes(f).notes] == [(0, KICK), (2 * STEP, SNARE)]


# --- flams and drags survive --include-primer -----------------------------------------------
def test_flams_and_drags_of_the_primer_are_written_back_whole(tmp_path):
    grace = STEP // 4  # a 64th before the stroke: all in one 16th
    strokes = [(4 * STEP - grace, ("on", SNARE, 50)), (4 * STEP, ("on", SNARE, 110)),  # flam
               (12 * STEP - 2 * grace, ("on", SNARE, 45)), (12 * STEP - grace, ("on", SNARE, 50)),
               (12 * STEP, ("on", SNARE, 115))]  # drag
    f = save(tmp_path / "flams.mid", tempo_track(), track([(0, ("on", KICK, 100)), *strokes,
                                                          (16 * STEP - 1, ("on", HAT, 1))]))
    out = tmp_path / "out.mid"
    r = CliRunner().invoke(drumd, ["generate", str(out), "--primer", str(f), "--include-primer",
                                   "--bars", "1", "--seed", "2", "--map", "ezdrummer2"])
    assert r.exit_code == 0, r.output
    ez = load_map("ezdrummer2")
    tick, snares = 0, []
    for m in mido.MidiFile(out).tracks[0]:
        tick += m.time
        if m.type == "note_on" and m.velocity and tick < 16 * STEP and m.note == ez.from_gm(SNARE):
            snares.append((tick, m.velocity))
    assert snares == [(t, e[2]) for t, e in strokes]


# --- output paths -----------------------------------------------------------------------------
def test_atomic_open_never_makes_a_folder(tmp_path):
    with pytest.raises(OutputPathError, match="does not exist"):
        with atomic_open(tmp_path / "no" / "such" / "x.bin") as fh:
            fh.write(b"x")
    assert not (tmp_path / "no").exists()
    with pytest.raises(OutputPathError, match="is a folder"):
        with atomic_open(tmp_path) as fh:
            fh.write(b"x")


def test_outputs_that_are_folders_or_in_missing_folders_are_refused(tmp_path):
    f = _valid(tmp_path / "in.mid")
    missing = tmp_path / "nonexistent-dir"
    runner = CliRunner()
    cases = [
        (["generate", str(tmp_path), "--bars", "1"], "is a folder"),
        (["generate", str(missing / "x.mid"), "--bars", "1"], "nonexistent-dir does not exist"),
        (["generate", str(missing / "all"), "--style", "all", "--bars", "1"], "does not exist"),
        (["render", str(f), str(missing / "x.wav")], "nonexistent-dir does not exist"),
        (["render", str(f), str(tmp_path)], "is a folder; expected a file name"),
        (["remap", str(f), str(missing / "x.mid"), "--from", "gm", "--to", "ezdrummer2"],
         "nonexistent-dir does not exist"),
    ]
    for args, message in cases:
        r = runner.invoke(drumd, args)
        assert r.exit_code != 0 and message in r.output, (args, r.output)
        assert "Traceback" not in r.output
    assert not missing.exists()


def test_style_all_makes_its_folder_but_not_its_parent(tmp_path, monkeypatch):
    r = CliRunner().invoke(drumd, ["generate", str(tmp_path / "grooves"), "--style", "all",
                                   "--bars", "1", "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "grooves").glob("*.mid"))) >= 10


def test_a_primer_over_512_bars_is_refused_quickly(tmp_path):
    t = mido.MidiTrack([mido.Message("note_on", channel=9, note=KICK, velocity=100)])
    t.append(mido.Message("note_on", channel=9, note=KICK, velocity=100, time=600 * 16 * STEP))
    f = save(tmp_path / "long.mid", t, type=0)
    r = CliRunner().invoke(drumd, ["generate", str(tmp_path / "x.mid"), "--primer", str(f)])
    assert r.exit_code == 1 and "long.mid: a primer of 600 bars" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_a_text_file_as_checkpoint_is_one_whole_sentence(tmp_path):
    f = tmp_path / "model.pt"
    f.write_text("these are not weights\n")
    r = CliRunner().invoke(drumd, ["generate", str(tmp_path / "x.mid"), "--checkpoint", str(f)])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1
    assert r.output.strip() == (f"Error: {f}: not a drumd checkpoint: it starts with text "
                                "(b'these ar'), not the zip archive that torch.save writes "
                                "(a .pt file from `drumd train`).")


def test_remap_of_a_file_with_its_drums_on_another_channel_says_which(tmp_path):
    f = save(tmp_path / "ch2.mid", track(beat(), channel=1))
    r = CliRunner().invoke(drumd, ["remap", str(f), str(tmp_path / "y.mid"), "--from", "gm",
                                   "--to", "ezdrummer2"])
    assert r.exit_code == 1 and not (tmp_path / "y.mid").exists()
    assert r.output.strip() == f"Error: {f}: no notes on channel 10; notes on channel 2 (24): use --channel 2"
    r = CliRunner().invoke(drumd, ["remap", str(f), str(tmp_path / "y.mid"), "--from", "gm",
                                   "--to", "ezdrummer2", "--channel", "2"])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("flag", ["--record", "--stats"])
def test_serve_checks_its_output_files_before_it_starts(tmp_path, flag):
    """They are written when drumd stops: a missing folder then would lose the take."""
    drumd_exe = str(Path(sys.executable).with_name("drumd"))
    r = subprocess.run([drumd_exe, "serve", "--api", "jack", flag, str(tmp_path / "no" / "x")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"Error: {tmp_path / 'no' / 'x'}: folder {tmp_path / 'no'} does not exist " \
                               "(create it first; drumd does not)"
    assert not (tmp_path / "no").exists()


def test_a_tempo_of_zero_is_ignored(tmp_path):
    t = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=0),
                        mido.Message("note_on", channel=9, note=KICK, velocity=100, time=TPB)])
    f = save(tmp_path / "t0.mid", t, type=0)
    assert read_drum_notes(f).bpm == 120.0 and midi_hits(f) == [(0.5, KICK, 100)]
    assert read_primer(f).bpm == 120.0
