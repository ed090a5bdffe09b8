"""Remapping MIDI files: exact ticks, untouched non-drum events, paired note-offs, real GMD data."""
import io
import os
from pathlib import Path

import mido
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from drumd.mappings import DROP, Translator, load_map
from drumd.mappings.basics import smf
from drumd.mappings.basics.midifile import RemapStats, remap_file, remap_smf, save_midi

GMD = Path(__file__).parents[1].parent / "shared/data/gmd/groove"
GMD_FILE = GMD / "drummer7/session3/117_rock_95_beat_4-4.mid"  # small; Roland 22, 26, 55, 58, CC4
MAPS = ("gm", "ezdrummer2", "ezdrummer3", "superior-drummer3", "studio-drummer",
        "addictive-drums2", "roland-td", "ssd5", "mt-power2", "hydrogen-gm", "getgood-invasion")


@pytest.fixture(autouse=True)
def no_user_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def build(events, ticks_per_beat=480, type_=0) -> mido.MidiFile:
    """MidiFile from (absolute tick, message) pairs with tempo/time-signature/name meta."""
    timed = [(0, mido.MetaMessage("track_name", name="drums")),
             (0, mido.MetaMessage("set_tempo", tempo=500000)),
             (0, mido.MetaMessage("time_signature", numerator=7, denominator=8))]
    timed += sorted(events, key=lambda e: e[0])
    track, last = mido.MidiTrack(), 0
    for tick, msg in timed:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return mido.MidiFile(type=type_, ticks_per_beat=ticks_per_beat, tracks=[track])


def remap_midi(mid: mido.MidiFile, tr, channels=(9,), stats=None) -> mido.MidiFile:
    """remap_smf on a file mido builds, read back by mido (a reader independent of drumd's)."""
    buf = io.BytesIO()
    mid.save(file=buf)
    out = remap_smf(smf.parse(buf.getvalue()), tr, channels, stats)
    return mido.MidiFile(file=io.BytesIO(smf.encode(out)))


def read_midi(path) -> mido.MidiFile:
    return mido.MidiFile(path)


def absolute(track):
    tick, out = 0, []
    for msg in track:
        tick += msg.time
        out.append((tick, msg.copy(time=0)))
    return out


def notes(start, dur, note, vel=100, ch=9, off_as_note_on=False):
    off = (mido.Message("note_on", note=note, velocity=0, channel=ch) if off_as_note_on
           else mido.Message("note_off", note=note, velocity=64, channel=ch))
    return [(start, mido.Message("note_on", note=note, velocity=vel, channel=ch)), (start + dur, off)]


@st.composite
def performances(draw, src: str, keep=lambda note: True):
    """Random drum notes of map src that keep(note) (plus CC4 and a piano on channel 1) as a
    MidiFile."""
    vendor = sorted(n for n in load_map(src).notes if keep(n))
    events = []
    for _ in range(draw(st.integers(0, 30))):
        events += notes(draw(st.integers(0, 4000)), draw(st.integers(1, 400)),
                        draw(st.sampled_from(vendor)), draw(st.integers(1, 127)),
                        off_as_note_on=draw(st.booleans()))
    for _ in range(draw(st.integers(0, 8))):
        events.append((draw(st.integers(0, 4000)),
                       mido.Message("control_change", control=4, value=draw(st.integers(0, 127)), channel=9)))
    events += notes(draw(st.integers(0, 4000)), 100, 60, ch=0)
    return build(events)


def drum_hits(mid, m):
    """(tick, GM note, velocity) of every note-on on channel 10, as map m reads it (with the
    last CC4 value, like the engine and the daemon)."""
    hits, cc4 = [], None
    for t, msg in absolute(mid.tracks[0]):
        if msg.type == "control_change" and msg.control == 4 and msg.channel == 9:
            cc4 = msg.value
        elif msg.type == "note_on" and msg.velocity and msg.channel == 9:
            gm = m.to_gm(msg.note, cc4)
            hits.append((t, gm if gm is not None or m.choke_of(msg.note) is None
                         else ("choke", m.choke_of(msg.note)), msg.velocity))
    return hits


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), src=st.sampled_from(MAPS), dst=st.sampled_from(MAPS))
def test_remap_keeps_ticks_and_everything_but_drum_note_numbers(data, src, dst):
    tr = Translator(src, dst, "pass")  # pass drops only chokes with no choke to go to, and notes
    # that would land on a choke: without those, events pair up one to one
    tables = (tr.table, tr.table_cc4_open, tr.table_cc4_closed)
    mid = data.draw(performances(src, keep=lambda n: all(t[n] != DROP for t in tables)))
    out = remap_midi(mid, tr, channels={9})
    before, after = absolute(mid.tracks[0]), absolute(out.tracks[0])
    assert len(before) == len(after) and out.ticks_per_beat == mid.ticks_per_beat
    for (t0, m0), (t1, m1) in zip(before, after):
        assert t0 == t1
        if m0.type in ("note_on", "note_off") and m0.channel == 9:
            assert m1 == m0.copy(note=m1.note)  # only the note number may change
        else:
            assert m1 == m0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), a=st.sampled_from(MAPS), b=st.sampled_from(MAPS))
def test_file_round_trip_a_b_a_keeps_the_gm_content(tmp_path_factory, data, a, b):
    mid = data.draw(performances(a))
    ma, mb = load_map(a), load_map(b)
    d = tmp_path_factory.mktemp("rt")
    mid.save(d / "a.mid")
    stats = RemapStats()
    remap_file(d / "a.mid", d / "b.mid", Translator(a, b), stats=stats)
    remap_file(d / "b.mid", d / "a2.mid", Translator(b, a), stats=stats)
    back = read_midi(d / "a2.mid")
    # Notes whose GM meaning b can play come back with that meaning, at the same tick and
    # velocity; the others are dropped (default policy) and counted.
    # Chokes go choke to choke or are dropped (never a hit).
    ab, ba = Translator(a, b), Translator(b, a)
    back_choke = {c: ba.table[ab.table[c]] for c in ma.notes if ma.choke_of(c) is not None
                  and ab.table[c] != DROP and ba.table[ab.table[c]] != DROP}
    expected = [h for h in drum_hits(mid, ma) if h[1] in mb.gm_notes
                or isinstance(h[1], tuple) and any(("choke", ma.choke_of(c)) == h[1]
                                                   for c in back_choke)]
    assert drum_hits(back, ma) == expected
    hits = len(drum_hits(mid, ma))
    assert (stats.files, stats.notes, stats.dropped) == (2, hits + len(expected), hits - len(expected))


def test_dropped_notes_take_their_note_off_along_and_give_time_to_the_next_event():
    mid = build(notes(0, 10, 36) + notes(100, 10, 27) + notes(200, 10, 22))  # 27: AUX
    tr = Translator("roland-td", "ezdrummer2")  # EZD2 has no china for the AUX pad
    out = absolute(remap_midi(mid, tr).tracks[0])
    drums = [(t, m.type, m.note) for t, m in out if m.type.startswith("note")]
    assert drums == [(0, "note_on", 36), (10, "note_off", 36), (200, "note_on", 22), (210, "note_off", 22)]
    assert out[-1][0] == 210 and tr.unmapped == {27: 1}


def test_note_off_follows_its_note_on_when_cc4_moves():
    # EZD2 note 7 is a CC-controlled hat: open at note-on (CC4 0), closed before its note-off.
    events = [(0, mido.Message("control_change", control=4, value=0, channel=9))]
    events += notes(10, 100, 7)
    events += [(50, mido.Message("control_change", control=4, value=127, channel=9))]
    events += notes(60, 10, 7) + notes(200, 10, 7)
    out = absolute(remap_midi(build(events), Translator("ezdrummer2", "gm")).tracks[0])
    drums = [(t, m.type, m.note) for t, m in out if m.type.startswith("note")]
    # The second hit (closed) overlaps the first; offs pair first-in first-out.
    assert drums == [(10, "note_on", 46), (60, "note_on", 42), (70, "note_off", 46),
                     (110, "note_off", 42), (200, "note_on", 42), (210, "note_off", 42)]


def test_polytouch_chokes_follow_the_sounding_note():
    events = notes(0, 100, 55) + [(50, mido.Message("polytouch", note=55, value=127, channel=9)),
                                  (300, mido.Message("polytouch", note=55, value=127, channel=9))]
    out = remap_midi(build(events), Translator("roland-td", "superior-drummer3"))
    assert [m.note for m in out.tracks[0] if m.type in ("note_on", "note_off", "polytouch")] == [86, 86, 86, 86]


def test_channels_other_than_the_drums_are_untouched_unless_all():
    mid = build(notes(0, 10, 22) + notes(0, 10, 22, ch=3))
    tr = Translator("roland-td", "gm")
    only10 = [m.note for m in remap_midi(mid, tr).tracks[0] if m.type.startswith("note")]
    every = [m.note for m in remap_midi(mid, tr, channels=None).tracks[0] if m.type.startswith("note")]
    assert sorted(only10) == [22, 22, 42, 42] and every == [42, 42, 42, 42]


def test_type1_tracks_share_cc4_and_keep_their_events():
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=400000, time=0),
                                mido.Message("control_change", control=4, value=0, channel=9, time=5),
                                mido.MetaMessage("end_of_track", time=0)])
    drums = build(notes(10, 10, 46)).tracks[0]  # SSD5 46 follows CC4 -> open
    mid = mido.MidiFile(type=1, ticks_per_beat=96, tracks=[conductor, drums])
    out = remap_midi(mid, Translator("ssd5", "gm"))
    assert out.type == 1 and len(out.tracks) == 2
    assert absolute(out.tracks[0]) == absolute(conductor)
    assert [(t, m.note) for t, m in absolute(out.tracks[1]) if m.type.startswith("note")] == [(10, 46), (20, 46)]


def test_save_midi_keeps_the_old_file_on_failure_and_its_mode(tmp_path, monkeypatch):
    path = tmp_path / "a.mid"
    build(notes(0, 10, 36)).save(path)
    os.chmod(path, 0o640)
    before = path.read_bytes()

    def broken_save(self, filename=None, file=None):
        file.write(b"MThd partial")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(mido.MidiFile, "save", broken_save)
    with pytest.raises(Exception, match="a.mid: cannot write \\(No space left on device\\)"):
        save_midi(build(notes(0, 10, 38)), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["a.mid"]
    monkeypatch.undo()
    save_midi(build(notes(0, 10, 38)), path)
    assert path.stat().st_mode & 0o777 == 0o640 and os.listdir(tmp_path) == ["a.mid"]


@pytest.mark.skipif(not GMD_FILE.is_file(), reason=f"Groove MIDI Dataset not found at {GMD} "
                    "(../shared/data/gmd/groove beside the repository)")
def test_groove_midi_dataset_roland_to_ezdrummer_to_gm(tmp_path):
    td, ezd, gm = (load_map(n) for n in ("roland-td", "ezdrummer2", "gm"))
    remap_file(GMD_FILE, tmp_path / "ezd.mid", Translator(td, ezd))
    remap_file(tmp_path / "ezd.mid", tmp_path / "gm.mid", Translator(ezd, gm))
    remap_file(GMD_FILE, tmp_path / "direct.mid", Translator(td, gm))
    original, via_ezd = read_midi(GMD_FILE), read_midi(tmp_path / "gm.mid")
    assert via_ezd.tracks == read_midi(tmp_path / "direct.mid").tracks
    assert drum_hits(via_ezd, gm) == drum_hits(original, td)  # every GMD note survives

    pairs = list(zip(absolute(original.tracks[0]), absolute(read_midi(tmp_path / "ezd.mid").tracks[0]),
                     absolute(via_ezd.tracks[0])))
    chain = {(a.note, b.note, c.note) for (_, a), (_, b), (_, c) in pairs
             if a.type == "note_on" and a.velocity}
    # Roland hi-hat edge, crash-1 edge (GM splash number!) and the rest, via EZdrummer 2.
    assert chain == {(22, 22, 42), (26, 25, 46), (42, 22, 42), (46, 25, 46), (44, 21, 44),
                     (55, 55, 49), (36, 36, 36), (38, 38, 38), (40, 40, 40), (43, 43, 43),
                     (58, 43, 43), (45, 45, 45), (47, 45, 45), (48, 48, 48), (50, 48, 48),
                     (59, 59, 59)}
    others = [(a, c) for (_, a), (_, b), (_, c) in pairs if not a.type.startswith("note")]
    assert all(a == c for a, c in others) and any(a.type == "control_change" for a, _ in others)
    assert [t for t, _ in absolute(original.tracks[0])] == [t for t, _ in absolute(via_ezd.tracks[0])]
