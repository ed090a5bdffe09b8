"""`drumd render --soundfont` (#15): a MIDI file played by FluidSynth from a SoundFont's kit,
the file's notes read in its map and played on the kit's (GM unless --soundfont-map says)."""
import os
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
from click.testing import CliRunner

from audio_jack import TPB, write_midi
from drumd.daemon.cli import main
from drumd.daemon.cli.audio import audition, render, render_hits
from drumd.daemon.sound.soundfont import FLUIDSYNTH_MISSING, FluidSource, SoundFontError, load_fluidsynth
from test_plugin_jack import centroid
from test_synth_render import SR, onsets, read_wav, seconds_at

FLUIDR3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
BLACK_PEARL = Path("/usr/lib/lv2/avldrums.lv2/Black_Pearl_4_LV2.sf2")  # avldrums.lv2's own kit


def has_fluidsynth() -> bool:
    try:
        load_fluidsynth()
    except SoundFontError:
        return False
    return True


def needs(sf: Path):
    if not has_fluidsynth():
        return pytest.mark.skip(reason="libfluidsynth is not installed (scripts/install test)")
    return pytest.mark.skipif(not sf.is_file(), reason=f"{sf} is not installed (scripts/install test)")


@pytest.fixture(autouse=True)
def no_user_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def run(command, *args):
    """COMMAND through the `drumd` group, as a user runs it (its one error handler included)."""
    name = [] if command is main else [command.name]
    return CliRunner().invoke(main, [*name, *(str(a) for a in args)])


KICK, SNARE, HAT, TOM = 36, 38, 42, 48


@needs(FLUIDR3)
def test_fluidr3_render_sounds_each_note_at_its_time(tmp_path):
    tempo = ((0, 120.0), (TPB * 6, 97.0))  # a tempo change halfway
    pitches = [KICK, HAT, SNARE, HAT, TOM, HAT, KICK, SNARE, HAT, KICK, TOM, HAT]
    rng = np.random.default_rng(5)
    ticks = np.cumsum(rng.integers(250, 380, len(pitches)))  # off the grid, 0.25-0.4 s apart
    notes = [(int(t), p, int(rng.integers(90, 128))) for t, p in zip(ticks, pitches)]
    write_midi(tmp_path / "in.mid", notes, tempo)

    r = run(render, tmp_path / "in.mid", tmp_path / "out.wav", "--soundfont", FLUIDR3)
    assert r.exit_code == 0, r.output
    assert r.output.endswith("played by FluidR3_GM.sf2 (kit 'Standard', gm notes)\n")
    x, rate = read_wav(tmp_path / "out.wav")
    assert rate == SR
    expected = np.array([seconds_at(t, tempo) for t, _, _ in notes]) * SR
    found = onsets(x)
    assert len(found) == len(expected), np.round(found / SR, 3).tolist()
    late_ms = (found - expected) / SR * 1000
    # FluidSynth starts a voice on its 64-frame grid (+-0.67 ms); the samples' own attack adds
    # up to 2 ms (FluidR3's kick and snare rise slowly: measured 0.3-2.3 ms in all)
    assert np.all((late_ms > -1.0) & (late_ms < 3.0)), np.round(late_ms, 2).tolist()
    c = {p: [centroid(x, int(f)) for f, (_, q, _) in zip(found, notes) if q == p]
         for p in (KICK, SNARE, HAT)}
    # FluidR3's own drums, not the built-in kit's: kick about 160 Hz, snare 360 Hz, hat 11 kHz
    assert max(c[KICK]) < 300 < min(c[SNARE]) and max(c[SNARE]) < 1000 < 5000 < min(c[HAT]), c
    assert np.abs(x).max() > 0.1  # a playing level


@needs(FLUIDR3)
def test_a_vendor_file_through_a_gm_soundfont_is_its_gm_render(tmp_path):
    """An EZdrummer-mapped file is read as GM first: through FluidR3 it sounds exactly as the
    same groove written in GM notes (its hats and crash, not EZdrummer's note numbers in GM)."""
    for name in ("ezdrummer2", "gm"):
        r = run(main, "generate", tmp_path / f"{name}.mid", "--style", "funk", "--bars", "2",
                "--seed", "3", "--map", name)
        assert r.exit_code == 0, r.output
    ezd = [m.note for m in mido.MidiFile(tmp_path / "ezdrummer2.mid").tracks[0] if m.type == "note_on"]
    gm = [m.note for m in mido.MidiFile(tmp_path / "gm.mid").tracks[0] if m.type == "note_on"]
    assert ezd != gm, "the same groove in EZdrummer's notes: otherwise this test shows nothing"
    for name in ("ezdrummer2", "gm"):
        r = run(render, tmp_path / f"{name}.mid", tmp_path / f"{name}.wav", "--soundfont", FLUIDR3)
        assert r.exit_code == 0 and f"notes read as map {name} (named in the file)" in r.output, r.output
    assert (tmp_path / "ezdrummer2.wav").read_bytes() == (tmp_path / "gm.wav").read_bytes()
    r = run(render, tmp_path / "ezdrummer2.mid", tmp_path / "raw.wav", "--soundfont", FLUIDR3,
            "--map", "gm")  # its notes taken as GM: other sounds
    assert r.exit_code == 0 and r.output.startswith("warning: ")
    assert (tmp_path / "raw.wav").read_bytes() != (tmp_path / "gm.wav").read_bytes()


@needs(BLACK_PEARL)
def test_avl_soundfont_plays_gm_through_its_map(tmp_path):
    """AVL Drumkits' SoundFont is not GM: its 48 is a hi-hat swish. With --soundfont-map
    avl-drumkits, GM's Hi-Mid Tom (48) plays its rack tom; without, the swish (and a warning)."""
    write_midi(tmp_path / "t.mid", [(240, TOM, 110), (720, KICK, 110)])
    r = run(render, tmp_path / "t.mid", tmp_path / "mapped.wav", "--soundfont", BLACK_PEARL,
            "--soundfont-map", "avl-drumkits")
    assert r.exit_code == 0 and "(kit 'Black_Pearl_4pc', avl-drumkits notes)" in r.output, r.output
    assert "warning" not in r.output
    r = run(render, tmp_path / "t.mid", tmp_path / "raw.wav", "--soundfont", BLACK_PEARL)
    assert r.exit_code == 0
    assert r.output.startswith(f"warning: {BLACK_PEARL}: its kit 'Black_Pearl_4pc' is not in the GM drum bank")
    at = [int(seconds_at(t, ((0, 120.0),)) * SR) for t in (240, 720)]
    mapped, _ = read_wav(tmp_path / "mapped.wav")
    raw, _ = read_wav(tmp_path / "raw.wav")
    for x in (mapped, raw):
        assert [len(onsets(x[a - 2400:a + 2400])) for a in at] == [1, 1]  # each hit sounds once
    tom, swish = centroid(mapped, at[0]), centroid(raw, at[0])
    assert tom < 1000 and swish > 5000, (tom, swish)
    assert centroid(mapped, at[1]) < 300 and centroid(raw, at[1]) < 300  # 36 is its kick either way


@needs(FLUIDR3)
def test_render_in_small_blocks_is_the_whole_render():
    """Hits inside a block are started where they fall, not at the block's start."""
    hits = [(0.011, KICK, 100), (0.2, HAT, 90), (0.2013, SNARE, 120), (0.35, 46, 80), (0.37, HAT, 60)]
    whole = render_hits(hits, SR, 8192, FluidSource(FLUIDR3, SR, max_block=8192))
    small = render_hits(hits, SR, 100, FluidSource(FLUIDR3, SR, max_block=100))
    n = min(len(whole), len(small))  # where the ring is found over differs by a block
    assert np.array_equal(whole[:n], small[:n])
    assert np.abs(whole[n:]).max(initial=0) < 1e-4 and np.abs(small[n:]).max(initial=0) < 1e-4


@needs(FLUIDR3)
def test_a_hit_struck_again_within_its_gate_is_not_cut(tmp_path):
    """A note-off releases every voice of its key: the first crash's must not end the second."""
    one = render_hits([(0.1, 49, 110)], SR, source=FluidSource(FLUIDR3, SR))
    two = render_hits([(0.1 - 0.03, 49, 110), (0.1, 49, 110)], SR, source=FluidSource(FLUIDR3, SR))
    late = slice(int(0.5 * SR), int(1.0 * SR))  # well after both gates
    ring = np.sqrt(np.mean(two[late] ** 2)) / np.sqrt(np.mean(one[late] ** 2))
    assert ring > 0.8, ring


# --- errors: one line naming the file, non-zero, nothing written --------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.sf2", "{p}: no such SoundFont file"),
    (lambda d: d, "{p}: a folder, not a SoundFont (.sf2) file"),
    (lambda d: (d / "a.mid").write_bytes(b"MThd\0\0\0\6\0\0\0\1\1\xe0") and d / "a.mid",
     "{p}: not a SoundFont 2 file (expected a RIFF 'sfbk' header, as .sf2 files have)"),
    (lambda d: (d / "cut.sf2").write_bytes(b"RIFF\xff\xff\0\0sfbkLIST") and d / "cut.sf2",
     "{p}: FluidSynth cannot load this SoundFont (damaged or not a SoundFont 2 file)"),
])
def test_a_bad_soundfont_is_one_line_naming_it(tmp_path, make, message):
    if "FluidSynth" in message and not has_fluidsynth():
        pytest.skip("libfluidsynth is not installed")
    sf = make(tmp_path)
    write_midi(tmp_path / "in.mid", [(0, KICK, 100)])
    (tmp_path / "keep.wav").write_bytes(b"mine")
    r = run(render, tmp_path / "in.mid", tmp_path / "keep.wav", "--soundfont", sf)
    assert r.exit_code == 1 and r.output == f"Error: {message.format(p=sf)}\n", r.output
    assert (tmp_path / "keep.wav").read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".wav") == ["keep.wav"]
    if "FluidSynth" not in message:  # known before any audio device opens (a damaged one: after)
        r = run(audition, tmp_path / "in.mid", "--soundfont", sf)
        assert r.exit_code == 1 and r.output == f"Error: {message.format(p=sf)}\n", r.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_soundfont_is_one_line(tmp_path):
    sf = tmp_path / "locked.sf2"
    sf.write_bytes(b"RIFF\0\0\0\0sfbk")
    sf.chmod(0)
    write_midi(tmp_path / "in.mid", [(0, KICK, 100)])
    r = run(render, tmp_path / "in.mid", tmp_path / "o.wav", "--soundfont", sf)
    assert r.exit_code == 1 and r.output == f"Error: {sf}: cannot read (Permission denied)\n"


def test_without_fluidsynth_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # import fails as without libfluidsynth
    sf = tmp_path / "kit.sf2"
    sf.write_bytes(b"RIFF\0\0\0\0sfbk")
    write_midi(tmp_path / "in.mid", [(0, KICK, 100)])
    for command, args in ((render, [tmp_path / "o.wav"]), (audition, [])):
        r = run(command, tmp_path / "in.mid", *args, "--soundfont", sf)
        assert r.exit_code == 1 and r.output == f"Error: {FLUIDSYNTH_MISSING}\n", r.output
    assert "apt-get install libfluidsynth3" in FLUIDSYNTH_MISSING
    r = run(render, tmp_path / "in.mid", tmp_path / "o.wav")  # the built-in kit needs none of it
    assert r.exit_code == 0, r.output


@needs(FLUIDR3)
def test_a_rate_fluidsynth_cannot_play_is_one_line(tmp_path):
    write_midi(tmp_path / "in.mid", [(240, KICK, 100)])  # at 0.25 s
    r = run(render, tmp_path / "in.mid", tmp_path / "o.wav", "--soundfont", FLUIDR3, "--rate", "192000")
    assert r.exit_code == 1 and r.output == ("Error: FluidSynth does not play at 192000 Hz (FluidSynth 2: "
                                             "8000-96000 Hz); give a rate it plays for --soundfont\n")
    assert not (tmp_path / "o.wav").exists()
    r = run(render, tmp_path / "in.mid", tmp_path / "o.wav", "--soundfont", FLUIDR3, "--rate", "96000")
    assert r.exit_code == 0, r.output
    x, rate = read_wav(tmp_path / "o.wav")
    assert rate == 96000 and 0.5 < len(x) / rate < 0.7  # its kick rings 0.36 s at 48 kHz too
    assert np.abs(onsets(x, rate) / rate - 0.25).min() < 0.003


def test_soundfont_map_errors_are_one_line(tmp_path):
    write_midi(tmp_path / "in.mid", [(0, KICK, 100)])
    r = run(render, tmp_path / "in.mid", tmp_path / "o.wav", "--soundfont-map", "gm")
    assert r.exit_code == 1 and r.output == ("Error: --soundfont-map names the map of a --soundfont's "
                                             "kit; give --soundfont FILE.sf2 too\n")
    if FLUIDR3.is_file():
        r = run(render, tmp_path / "in.mid", tmp_path / "o.wav", "--soundfont", FLUIDR3,
                "--soundfont-map", "no-such-kit")
        assert r.exit_code == 1 and r.output.startswith("Error: unknown drum map 'no-such-kit'; known")
        assert r.output.count("\n") == 1
