"""`--clock jack` logic on given transport states (no server): the song position from JACK's
BBT fields (jack_position_t, JackPositionBBT), and the Clock following transport reports fed
with explicit times. Through a real JACK server and jack_transport:
tests/test_jack_transport_jack.py."""
import logging
import queue
import time

import pytest

from drumd.daemon.cli import config
from drumd.daemon.timing.clock import JACK_TRANSPORT, Clock
from drumd.daemon.timing.jacktransport import song_position


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
    cfg.write_text("clock: midi\n")
    with pytest.raises(config.ConfigError, match="clock: expected one of auto, internal, external, jack, link"):
        config.load(cfg)


class ScriptedTransport:
    """A JACK transport on an injected script (timing logic only, as the real stack test has
    the real one): stopped until `start`, then rolling from 16th `pos0` at `bpm`; at `jump` it
    is located to 16th `to`; stopped from `stop` on. Times on perf_counter."""

    period = 0.005
    poll_s = period / 2
    source = JACK_TRANSPORT

    def __init__(self, start, pos0, bpm, jump, to, stop, meter=(3, 4)):
        self.start, self.pos0, self.bpm, self.jump, self.to, self.stop = start, pos0, bpm, jump, to, stop
        self.meter = meter

    def position(self, t):
        if t >= self.jump:
            return self.to + (t - self.jump) * self.bpm / 15
        return self.pos0 + (t - self.start) * self.bpm / 15

    def query(self):
        from drumd.daemon.timing.jacktransport import TransportState
        now = time.perf_counter()
        t = now - (now % self.period)  # the cycle start the position belongs to
        rolling = self.start <= t < self.stop
        return TransportState(rolling, t, self.position(t) if rolling else 0.0, self.bpm, self.meter, 0)

    def close(self):
        pass


def test_a_session_follows_the_transport_relocates_and_stops_with_notes_closed(tmp_path):
    """Session threads on fake ports with a scripted transport: notes on its 16ths, a locate
    while rolling (which jack_transport as timebase master cannot do: its transport hangs in
    Starting) closes every note and goes on from there; stop silences; a 3/4 meter is said once."""
    from drumd.daemon.play.record import Recorder
    from drumd.daemon.play.session import Session
    from drumd.daemon.play.voicing import PlayerInput, Voicing
    from drumd.mappings.basics.grid import STEP_TICKS
    from drumd.mappings.basics.midifile import read_drum_notes
    from test_daemon import FakePort, FakeSampler

    said = []
    handler = logging.Handler()
    handler.emit = lambda r: said.append(r.getMessage())
    logger = logging.getLogger("drumd.daemon.play.session")
    logger.addHandler(handler)
    now = time.perf_counter()
    tr = ScriptedTransport(start=now + 0.3, pos0=32.0, bpm=240.0, jump=now + 0.9, to=64.0, stop=now + 1.5)
    settings = config.resolve(None, {"clock": "jack", "bpm": 100.0, "quantize": 1.0})
    out = FakePort()
    take = tmp_path / "take.mid"
    s = Session(settings, FakeSampler(), FakePort(), out, queue.SimpleQueue(), Voicing("gm", 10),
                PlayerInput("gm"), Recorder(take, now, 100.0), transport=tr)
    try:
        s.start()
        assert s.snapshot()["source"] == "jack transport"
        time.sleep(1.8)
    finally:
        s.shutdown()
        logger.removeHandler(handler)
    ons = [(t, m) for t, m in out.sent if m[0] == 0x99 and m[2] > 0]
    assert ons and all(tr.start <= t < tr.stop + 0.01 for t, _ in ons)
    errs = [tr.position(t) - round(tr.position(t)) for t, _ in ons if not tr.jump <= t < tr.jump + 0.02]
    assert max(abs(e) for e in errs) * 62.5 < 5, errs  # ms from the transport's 16th (62.5 ms)
    for when in (tr.jump, tr.stop):  # every note closed at the locate and at the stop
        assert any(m == [0xB9, 123, 0] for t, m in out.sent if when <= t < when + 0.03)
    assert [m for m in said if "3/4" in m] == [said[0]] and "drumd plays 4/4" in said[0]
    ticks = [n.tick for n in read_drum_notes(take).notes]  # tick 0: the 16th it started from
    assert ticks[0] == 0 and ticks == sorted(ticks) and all(k % STEP_TICKS == 0 for k in ticks)
    assert 32 * STEP_TICKS in ticks and not [k for k in ticks if 12 * STEP_TICKS < k < 32 * STEP_TICKS]


def test_auto_the_clock_that_started_leads_until_it_stops():
    """--clock auto feeds MIDI clock and JACK transport alike: the first to start leads, the
    other is ignored meanwhile (a DAW sending both starts drumd once); drumd's own clock gives
    way to either, and a stopped transport never stops drumd's own clock."""
    from drumd.daemon.timing.clock import START, STOP, TICK
    c = Clock(bpm=100.0)
    c.start_internal(1.0)                                     # nothing came within 1 s
    assert not c.transport(1.5, 0.0, 120.0, rolling=False, master=False)
    assert (c.running, c.source) == (True, "internal")        # a stopped transport: plays on
    assert c.transport(2.0, 32.0, 120.0, rolling=True)        # the transport rolls: it leads
    assert (c.source, c.start_step, c.epoch) == (JACK_TRANSPORT, 32, 2)
    assert not c.message([START], 2.01) and not c.message([STOP], 2.02)  # MIDI clock ignored
    c.message([TICK], 2.03)
    assert (c.running, c.source) == (True, JACK_TRANSPORT) and c.time_of(33) == pytest.approx(2.125)
    assert c.transport(3.0, 40.0, 120.0, rolling=False)       # its stop stops drumd
    assert not c.running
    assert c.message([START], 3.5)                            # now MIDI clock may start it
    assert not c.transport(3.6, 48.0, 120.0, rolling=True)    # ... and leads: transport ignored
    assert not c.transport(3.7, 48.0, 120.0, rolling=False)
    assert (c.running, c.source, c.epoch) == (True, "external", 4)
    assert c.message([STOP], 4.0) and not c.running


def test_auto_a_timebase_master_counts_as_a_daw_that_is_there():
    c = Clock()
    c.transport(1.0, 0.0, 120.0, rolling=False, master=False)
    assert not c.external_seen  # a bare JACK server (no DAW): drumd may start on its own
    c.transport(1.1, 0.0, 120.0, rolling=False, master=True)
    assert c.external_seen      # a DAW publishing bar and beat, stopped: drumd waits for it


def test_auto_session_waits_for_a_master_and_follows_its_transport():
    """Session threads, --clock auto, a scripted JACK transport whose master is there: drumd
    does not start on its own after 1 s, plays from the transport's roll on its 16ths, and
    stops with it; the status line names the clock that won."""
    from drumd.daemon.play.session import Session
    from drumd.daemon.play.voicing import PlayerInput, Voicing
    from test_daemon import FakePort, FakeSampler

    now = time.perf_counter()
    tr = ScriptedTransport(start=now + 1.4, pos0=16.0, bpm=240.0, jump=now + 99, to=0.0,
                           stop=now + 2.0, meter=(4, 4))
    settings = config.resolve(None, {"clock": "auto", "bpm": 100.0, "quantize": 1.0})
    out = FakePort()
    s = Session(settings, FakeSampler(), FakePort(), out, queue.SimpleQueue(), Voicing("gm", 10),
                PlayerInput("gm"), transport=tr)
    sources = []
    try:
        s.start()
        while time.perf_counter() < now + 2.3:
            snap = s.snapshot()
            sources.append((snap["source"], snap["running"]))
            time.sleep(0.05)
    finally:
        s.shutdown()
    ons = [t for t, m in out.sent if m[0] == 0x99 and m[2] > 0]
    assert ons and all(tr.start <= t < tr.stop + 0.01 for t in ons), [round(t - now, 3) for t in ons]
    assert max(abs(tr.position(t) - round(tr.position(t))) for t in ons) * 62.5 < 5
    assert ("jack transport", True) in sources and ("internal", True) not in sources


def test_auto_session_without_a_master_plays_on_its_own_then_locks_onto_a_rolling_transport():
    from drumd.daemon.play.session import Session
    from drumd.daemon.play.voicing import PlayerInput, Voicing
    from test_daemon import FakePort, FakeSampler

    now = time.perf_counter()
    tr = ScriptedTransport(start=now + 1.8, pos0=64.0, bpm=240.0, jump=now + 99, to=0.0,
                           stop=now + 99, meter=None)  # no master: a frame count only
    settings = config.resolve(None, {"clock": "auto", "bpm": 120.0, "quantize": 1.0})
    out = FakePort()
    s = Session(settings, FakeSampler(), FakePort(), out, queue.SimpleQueue(), Voicing("gm", 10),
                PlayerInput("gm"), transport=tr)
    sources = []
    try:
        s.start()
        while time.perf_counter() < now + 2.5:
            snap = s.snapshot()
            sources.append((round(time.perf_counter() - now, 2), snap["source"], snap["running"]))
            time.sleep(0.05)
    finally:
        s.shutdown()
    ons = [t for t, m in out.sent if m[0] == 0x99 and m[2] > 0]
    own = [t for t in ons if t < tr.start]
    assert own and 1.0 < own[0] - now < 1.3, own[0] - now  # on its own after 1 s
    on_transport = [t for t in ons if t > tr.start + 0.02]
    assert on_transport and max(abs(tr.position(t) - round(tr.position(t)))
                                for t in on_transport) * 62.5 < 5
    assert any(src == "internal" and run for _, src, run in sources)
    assert sources[-1][1:] == ("jack transport", True), sources
