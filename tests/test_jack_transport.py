"""`--clock jack` logic on given transport states (no server): the song position from JACK's
BBT fields (jack_position_t, JackPositionBBT), and the Clock following transport reports fed
with explicit times. Through a real JACK server and jack_transport:
tests/test_jack_transport_jack.py."""
import pytest

from drumd.daemon import config
from drumd.daemon.clock import JACK_TRANSPORT, Clock
from drumd.daemon.jacktransport import song_position


def bbt(bar, beat, tick, bpm=120.0, per_bar=4.0, beat_type=4.0, tpb=1920.0, frame=0, **more):
    return {"frame_rate": 48000, "frame": frame, "usecs": 0, "bar": bar, "beat": beat,
            "tick": tick, "bar_start_tick": 0.0, "beats_per_bar": per_bar, "beat_type": beat_type,
            "ticks_per_beat": tpb, "beats_per_minute": bpm, **more}


def test_song_position_from_bar_beat_tick():
    assert song_position(bbt(1, 1, 0), 100.0) == (0.0, 120.0, (4, 4))
    # bar 2 beat 2 and a half: 16 + 4 + 2 sixteenths
    assert song_position(bbt(2, 2, 960), 100.0) == (22.0, 120.0, (4, 4))
    # 6/8 at 120 eighths per minute: a beat is an 8th (2 sixteenths), the tempo 60 quarters
    assert song_position(bbt(2, 1, 0, bpm=120.0, per_bar=6.0, beat_type=8.0), 100.0) == (12.0, 60.0, (6, 8))
    # BBT describing a frame 2400 frames (50 ms) before `frame`: 0.4 of a 16th at 120
    assert song_position(bbt(1, 1, 0, bbt_offset=2400), 100.0)[0] == pytest.approx(0.4)


def test_without_a_timebase_master_frames_count_at_the_fallback_tempo():
    pos = {"frame_rate": 48000, "frame": 96000, "usecs": 0}
    assert song_position(pos, 90.0) == (2.0 * 90 / 60 * 4, 90.0, None)


def test_the_clock_follows_the_transport_rolling_tempo_relocation_and_stop():
    c = Clock(bpm=100.0)
    assert not c.transport(9.0, 0.0, 120.0, rolling=False)  # stopped: nothing happens
    assert c.transport(10.0, 16.0, 120.0, rolling=True)     # play from bar 2
    assert (c.running, c.source, c.start_step, c.epoch) == (True, JACK_TRANSPORT, 16, 1)
    assert c.time_of(17) == pytest.approx(10.125) and c.bpm == pytest.approx(120.0)
    # a report a period later, slightly off the line (a master's rounding): followed, no jump
    assert not c.transport(10.0053, 16.045, 120.0, rolling=True)
    assert c.position_at(10.0053) == pytest.approx(16.045)
    # a tempo change: the grid goes on from the reported point at the new tempo
    assert not c.transport(10.1, 16.8, 150.0, rolling=True)
    assert c.time_of(17.8) == pytest.approx(10.2) and c.epoch == 1
    # a locate while rolling: a new epoch, the first step the next whole 16th
    assert c.transport(10.2, 47.5, 150.0, rolling=True)
    assert (c.epoch, c.start_step) == (2, 48)
    assert c.transport(10.3, 48.3, 150.0, rolling=False)
    assert (c.running, c.epoch) == (False, 3)
    assert c.transport(12.0, 5.0, 150.0, rolling=True) and c.start_step == 5


def test_clock_jack_is_a_setting_and_a_flag(tmp_path):
    cfg = tmp_path / "drumd.yaml"
    cfg.write_text("clock: jack\n")
    assert config.resolve(str(cfg), {})["clock"] == "jack"
    cfg.write_text("clock: link\n")
    with pytest.raises(config.ConfigError, match="clock: expected one of auto, internal, external, jack"):
        config.load(cfg)
