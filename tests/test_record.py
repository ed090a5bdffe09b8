"""Takes line up with the song (issue #18): a recording's tick 0 is the song position where the
take started, every event's tick its song position (grid.STEP_TICKS per 16th at PPQN 480), with
the tempo map. Recorder on given positions and times; then a whole Session on the internal
clock with fake ports. Through real JACK: tests/test_record_jack.py."""
import queue
import time

import pytest

from drumd.daemon.cli import config
from drumd.daemon.play.record import Recorder
from drumd.daemon.play.voicing import PlayerInput, Voicing
from drumd.mappings.basics.grid import PPQN, STEP_TICKS
from drumd.mappings.basics.midifile import read_drum_notes
from test_daemon import FakePort, FakeSampler

ON, OFF = 0x99, 0x89


def test_tick_zero_is_the_song_position_the_take_started_from(tmp_path):
    r = Recorder(tmp_path / "take.mid", start_time=0.0, bpm=120.0)
    # The DAW starts from bar 3 (Song Position 32) 1.37 s after drumd's launch: nothing of
    # the launch time may show in the file.
    r.started(1.37, 32, 120.0)
    for pos in (32, 36.0, 40, 47):                         # sent on the grid
        r.add("drumd out", 1.37 + (pos - 32) * 0.125, [ON, 36, 100], pos)
        r.add("drumd out", 1.43 + (pos - 32) * 0.125, [OFF, 36, 0])  # placed by time
    r.write()
    f = read_drum_notes(tmp_path / "take.mid")
    assert f.ticks_per_beat == PPQN
    assert [n.tick for n in f.notes] == [0, 4 * STEP_TICKS, 8 * STEP_TICKS, 15 * STEP_TICKS]


def test_the_tempo_map_is_placed_by_song_position(tmp_path):
    r = Recorder(tmp_path / "take.mid", start_time=0.0, bpm=100.0)
    r.started(2.0, 16, 120.0)
    r.tempo(4.0, 120.2, pos=32)        # under 0.5 %: not a change
    r.tempo(4.0, 150.0, pos=32)        # bar 2 of the take at 150
    r.add("drumd out", 4.1, [ON, 38, 90], 33)
    r.add("drumd out", 4.2, [ON, 36, 90])  # by time: 0.2 s at 150 BPM after 16th 32 is 16th 34
    _, tempos = r.tracks_and_tempos()
    assert tempos == [(0, 120.0), (16 * STEP_TICKS, 150.0)]
    tracks, _ = r.tracks_and_tempos()
    assert [t for t, m in tracks[0].events if m.type == "note_on"] == [17 * STEP_TICKS, 18 * STEP_TICKS]


def test_what_was_played_before_the_start_comes_in_whole_bars_earlier(tmp_path):
    r = Recorder(tmp_path / "take.mid", start_time=0.0, bpm=120.0)
    r.add("player in", 0.5, [ON, 38, 80])   # the player, before the DAW rolls
    r.started(1.0, 20, 120.0)               # 1 s later the song is at 16th 20 (bar 2 beat 2)
    r.add("drumd out", 1.0, [ON, 36, 100], 20)
    tracks, tempos = r.tracks_and_tempos()
    ticks = {t.name: [k for k, m in t.events if m.type == "note_on"] for t in tracks}
    # the player's hit at 16th 16 (0.5 s = 4 16ths before): a bar of lead-in, from 16th 4
    assert ticks == {"drumd out": [16 * STEP_TICKS], "player in": [12 * STEP_TICKS]}
    assert tempos == [(0, 120.0)]


def test_a_jump_back_writes_the_next_lap_over_the_same_bars(tmp_path):
    r = Recorder(tmp_path / "take.mid", start_time=0.0, bpm=120.0)
    r.started(0.0, 8, 120.0)
    r.add("drumd out", 0.0, [ON, 36, 100], 8)
    r.started(3.5, 8, 120.0)               # the DAW's loop end: back to 16th 8
    r.add("drumd out", 3.5, [ON, 42, 100], 8)
    tracks, _ = r.tracks_and_tempos()
    assert [(k, m.note) for k, m in tracks[0].events] == [(0, 36), (0, 42)]


def test_without_a_start_the_take_is_timed_from_the_recorder_start(tmp_path):
    r = Recorder(tmp_path / "take.mid", start_time=100.0, bpm=120.0)
    r.add("player in", 100.5, [ON, 38, 90])
    tracks, tempos = r.tracks_and_tempos()
    assert [k for k, _ in tracks[1].events] == [PPQN] and tempos == [(0, 120.0)]


@pytest.mark.parametrize("bpm", [240.0, 97.0])
def test_a_quantized_session_on_the_internal_clock_records_on_the_grid(tmp_path, bpm):
    """The bug of #18: every hit 0.19 of a 16th after the file's grid (the recorder counted
    from drumd's launch, the clock from 0.1 s later)."""
    from drumd.daemon.play.session import Session
    settings = config.resolve(None, {"clock": "internal", "bpm": bpm, "quantize": 1.0})
    take = tmp_path / "take.mid"
    rec = Recorder(take, time.perf_counter(), bpm)
    time.sleep(0.05)  # launch and first step further apart than a file tick
    s = Session(settings, FakeSampler(), FakePort(), FakePort(), queue.SimpleQueue(),
                Voicing("gm", 10), PlayerInput("gm"), rec)
    s.start()
    time.sleep(1.0)
    s.shutdown()
    f = read_drum_notes(take)
    ticks = [n.tick for n in f.notes]
    assert len(ticks) >= 6 and ticks[0] == 0  # a kick on every 16th from drumd's step 0
    assert ticks == [k * STEP_TICKS for k in range(len(ticks))]
    assert [round(60e6 / us, 3) for _, us in f.tempos] == [bpm]


def test_a_take_carries_the_sessions_meter_and_its_bars(tmp_path):
    """--meter 3/4: the file says 3/4, and a lead-in before the start is whole 3/4 bars."""
    import mido
    r = Recorder(tmp_path / "take.mid", start_time=0.0, bpm=120.0, meter=(3, 4))
    r.add("player in", 0.5, [ON, 38, 80])   # 4 16ths before the start at 16th 20
    r.started(1.0, 20, 120.0)
    r.add("drumd out", 1.0, [ON, 36, 100], 20)
    r.write()
    tracks, _ = r.tracks_and_tempos()
    ticks = {t.name: [k for k, m in t.events if m.type == "note_on"] for t in tracks}
    assert ticks == {"drumd out": [12 * STEP_TICKS], "player in": [8 * STEP_TICKS]}  # from 16th 8
    sigs = [(m.numerator, m.denominator) for tr in mido.MidiFile(tmp_path / "take.mid").tracks
            for m in tr if m.type == "time_signature"]
    assert sigs == [(3, 4)]


def test_the_meter_setting_is_checked(tmp_path):
    cfg = tmp_path / "drumd.yaml"
    cfg.write_text("meter: 6/8\n")
    assert config.resolve(str(cfg), {})["meter"] == "6/8"
    cfg.write_text("bpm: 100\nmeter: 9/8\n")
    with pytest.raises(config.ConfigError, match=r"drumd.yaml:2: meter: .*4/4, 3/4, 6/8"):
        config.load(cfg)
