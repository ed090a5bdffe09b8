"""Files that know their map (#15): render and audition read a file's notes in the drum map
the file names (the `drumd map: NAME` text drumd writes), --map overrides it with a warning."""
import mido
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main
from drumd.daemon.cli.audio import midi_hits
from drumd.mappings import load_map
from drumd.mappings.basics.midifile import Track, note_events, write_midi


@pytest.fixture(autouse=True)
def no_user_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_render_of_a_generated_vendor_file_equals_its_gm_render(tmp_path):
    for name in ("ezdrummer2", "gm"):
        r = run("generate", tmp_path / f"{name}.mid", "--style", "funk", "--bars", "2",
                "--seed", "3", "--map", name)
        assert r.exit_code == 0, r.stdout + r.stderr
    ezd = [m.note for m in mido.MidiFile(tmp_path / "ezdrummer2.mid").tracks[0] if m.type == "note_on"]
    gm = [m.note for m in mido.MidiFile(tmp_path / "gm.mid").tracks[0] if m.type == "note_on"]
    assert ezd != gm, "the same groove in EZdrummer's notes: otherwise this test shows nothing"
    r = run("render", tmp_path / "ezdrummer2.mid", tmp_path / "ezd.wav")
    assert r.exit_code == 0 and r.stderr == "", r.stdout + r.stderr
    assert r.stdout.endswith("notes read as map ezdrummer2 (named in the file)\n")
    n = len(ezd)
    assert f": {n} hits," in r.stdout, "every hi-hat and crash of EZdrummer's file is heard"
    r = run("render", tmp_path / "gm.mid", tmp_path / "gm.wav")
    assert r.exit_code == 0 and "notes read as map gm (named in the file)" in r.stdout
    assert (tmp_path / "ezd.wav").read_bytes() == (tmp_path / "gm.wav").read_bytes()


def test_map_flag_overrides_the_file_map_and_says_so(tmp_path):
    f = tmp_path / "ezd.mid"
    # EZdrummer 2: 22 closed hi-hat (GM 42), 55 main crash (GM 49); read as GM, 22 is nothing
    # and 55 a splash
    write_midi(f, [Track("drums", note_events([(0, 22, 100), (240, 55, 100), (480, 36, 100)]),
                         "ezdrummer2")])
    assert [p for _, p, _ in midi_hits(f, drum_map=load_map("ezdrummer2"))] == [42, 49, 36]
    r = run("render", f, tmp_path / "as-gm.wav", "--map", "gm")
    assert r.exit_code == 0
    assert r.stderr == (f"warning: {f}: written for drum map ezdrummer2; reading it as gm, "
                        "as --map says\n")
    assert ": 2 hits," in r.stdout and r.stdout.endswith("notes read as map gm (--map)\n")
    # the same map under an alias is no disagreement
    r = run("render", f, tmp_path / "alias.wav", "--map", "ezd")
    assert r.exit_code == 0 and r.stderr == "" and ": 3 hits," in r.stdout


def test_a_file_without_a_map_is_gm_and_an_unknown_map_is_one_line(tmp_path):
    plain = tmp_path / "plain.mid"
    write_midi(plain, [Track("drums", note_events([(0, 36, 100), (240, 42, 100)]))])
    r = run("render", plain, tmp_path / "p.wav")
    assert r.exit_code == 0 and r.stdout.endswith("notes read as General MIDI (the file names no map)\n")
    odd = tmp_path / "odd.mid"
    write_midi(odd, [Track("drums", note_events([(0, 36, 100)]), "my-own-kit")])
    r = run("render", odd, tmp_path / "o.wav")
    assert r.exit_code == 1 and r.stderr == (
        f"Error: {odd}: written for drum map 'my-own-kit', which is not known here; give "
        "--map NAME (see `drumd maps list`) to say how to read its notes\n")
    assert not (tmp_path / "o.wav").exists()
    r = run("render", odd, tmp_path / "o.wav", "--map", "gm")
    assert r.exit_code == 0 and "written for drum map my-own-kit" in r.stderr


def test_audition_reads_the_file_map_before_opening_any_audio(tmp_path):
    # audition reads the file (in its map) before it opens the audio output: an unknown file
    # map is its one line, whether or not this machine has audio
    odd = tmp_path / "odd.mid"
    write_midi(odd, [Track("drums", note_events([(0, 36, 100)]), "my-own-kit")])
    r = run("audition", odd)
    assert r.exit_code == 1 and "written for drum map 'my-own-kit'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def ezd_file(path, map_name="ezdrummer2"):
    # EZdrummer 2: 22 closed hi-hat (GM 42), 55 main crash (GM 49), 36 kick
    write_midi(path, [Track("drums", note_events([(0, 22, 100), (240, 55, 100), (480, 36, 100)]),
                            map_name)])
    return path


def notes_of(path):
    return [m.note for m in mido.MidiFile(path).tracks[0] if m.type == "note_on" and m.velocity]


def test_remap_reads_the_file_map_without_from_and_warns_when_from_disagrees(tmp_path):
    f = ezd_file(tmp_path / "ezd.mid")
    r = run("remap", f, tmp_path / "gm.mid", "--to", "gm")
    assert r.exit_code == 0 and r.stderr == "", r.stdout + r.stderr
    assert r.stdout.startswith("remapped 1 file from ezdrummer2 to gm: 3 notes, 0 unmapped")
    assert notes_of(tmp_path / "gm.mid") == [42, 49, 36]
    # --from overrides the file's map, with a warning; an alias of it is no disagreement
    r = run("remap", f, tmp_path / "as-gm.mid", "--from", "gm", "--to", "ezdrummer2")
    assert r.exit_code == 0 and r.stderr == (
        f"warning: {f}: written for drum map ezdrummer2; reading it as gm, as --from says\n")
    assert run("remap", f, tmp_path / "alias.mid", "--from", "ezd", "--to", "gm").stderr == ""
    # a file naming no map is GM; one naming an unknown map asks for --from, in one line
    plain = ezd_file(tmp_path / "plain.mid", None)
    r = run("remap", plain, tmp_path / "p.mid", "--to", "ezdrummer2")
    assert r.exit_code == 0 and r.stdout.startswith("remapped 1 file from gm to ezdrummer2")
    odd = ezd_file(tmp_path / "odd.mid", "my-own-kit")
    r = run("remap", odd, tmp_path / "o.mid", "--to", "gm")
    assert r.exit_code == 1 and r.stderr == (
        f"Error: {odd}: written for drum map 'my-own-kit', which is not known here; give "
        "--from NAME (see `drumd maps list`) to say how to read its notes\n")
    assert not (tmp_path / "o.mid").exists()


def test_remap_of_a_folder_reads_each_file_in_its_own_map(tmp_path):
    (tmp_path / "in").mkdir()
    ezd_file(tmp_path / "in" / "a.mid")
    ezd_file(tmp_path / "in" / "b.mid", "gm")
    r = run("remap", tmp_path / "in", tmp_path / "out", "--to", "gm")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert r.stdout.startswith("remapped 2 files from ezdrummer2, gm to gm")
    assert notes_of(tmp_path / "out" / "a.mid") == [42, 49, 36]
    assert notes_of(tmp_path / "out" / "b.mid") == [55, 36]  # GM has no 22; 55 is its splash


def test_primer_is_read_in_the_file_map_and_primer_map_overrides_with_a_warning(tmp_path, caplog):
    from drumd.engine.data.stepfiles import read_primer
    f = ezd_file(tmp_path / "ezd.mid")
    hits = sorted(p for s in read_primer(f).steps for h in s.hits for p in [h.pitch])
    gm = sorted(p for s in read_primer(f, "gm").steps for h in s.hits for p in [h.pitch])
    assert hits != gm, "read as GM, EZdrummer's hi-hat is nothing and its crash a splash"
    assert hits == sorted(p for s in read_primer(f, "ezdrummer2").steps for h in s.hits for p in [h.pitch])
    assert "written for drum map ezdrummer2; reading it as gm, as --primer-map says" in caplog.text
