"""`--clock link` logic on an injected Link session and clock (no network): Link beats to drumd's
16ths, the bar phase under quantum 4, starting the session when alone, start/stop followed,
the peer count on the status line. Through real Link peers and JACK: tests/test_link_jack.py."""
import math
import sys

import pytest

from drumd.daemon.cli import config
from drumd.daemon.play.status import format_status
from drumd.daemon.timing.clock import Clock
from drumd.daemon.timing.jacktransport import TransportError
from drumd.daemon.timing.linkclock import LINK, QUANTUM, LinkTransport, song_position

US = 1_000_000


class FakeTime:
    """drumd's `now` (seconds) and Link's clock (microseconds), moved together by the test."""

    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t

    def micros(self):
        return int(round(self.t * US))


class FakeState:
    """A Link session state: the session's beat line (shared by every peer: its phase under
    the quantum is the session's), this app's offset from it (a whole number of quanta, as
    Link's requestBeatAtTime keeps the phase), playing and its time."""

    def __init__(self, session):
        self.s = session
        self.tempo_ = session.tempo
        self.offset = session.offset
        self.playing, self.t_playing = session.playing, session.t_playing

    def _session_beat(self, us):
        return self.s.beat0 + (us - self.s.us0) / US * self.tempo_ / 60

    def beatAtTime(self, us, quantum):
        assert quantum == self.s.quantum
        return self._session_beat(us) + self.offset

    def tempo(self):
        return self.tempo_

    def isPlaying(self):
        return self.playing

    def timeForIsPlaying(self):
        return self.t_playing

    def setTempo(self, bpm, us):
        self.s.beat0, self.s.us0 = self._session_beat(us), us
        self.tempo_ = bpm

    def setIsPlayingAndRequestBeatAtTime(self, playing, us, beat, quantum):
        self.playing, self.t_playing = playing, us
        self._request(beat, us, quantum)

    def requestBeatAtStartPlayingTime(self, beat, quantum):
        if self.playing:
            self._request(beat, self.t_playing, quantum)

    def _request(self, beat, us, quantum):
        raw = self._session_beat(us)
        if self.s.peers == 0:  # alone: Link moves the session's timeline itself
            self.s.beat0 += beat - raw
            self.offset = 0.0
        else:  # with peers: beat `beat` at the first bar line at or after `us`
            self.offset = beat - quantum * math.ceil(raw / quantum - 1e-9)


class FakeSession:
    def __init__(self, tempo=97.0, peers=0):
        self.beat0, self.us0, self.tempo = 0.37, 0, tempo  # beat 0.37 at Link time 0
        self.offset, self.playing, self.t_playing, self.peers = 0.0, False, 0, peers
        self.commits = 0
        self.quantum = QUANTUM  # the quantum drumd must ask with (a bar of its meter)


class FakeLinkModule:
    def __init__(self, clock, session):
        module = self

        class Link:
            def __init__(self, bpm):
                module.made_with = bpm
                self.enabled = self.startStopSyncEnabled = False

            def clock(self):
                return clock

            def numPeers(self):
                return session.peers

            def captureAppSessionState(self):
                return FakeState(session)

            def commitAppSessionState(self, st):
                session.tempo, session.offset = st.tempo_, st.offset
                session.playing, session.t_playing = st.playing, st.t_playing
                session.commits += 1

        self.Link = Link


def make(peers=0, bpm=120.0, tempo=97.0, meter=(4, 4)):
    clock, session = FakeTime(), FakeSession(tempo, peers)
    session.quantum = 4 * meter[0] / meter[1]
    mod = FakeLinkModule(clock, session)
    return LinkTransport(bpm, now=clock, link_module=mod, meter=meter), clock, session


def test_beats_are_quarters_four_16ths_each():
    assert song_position(0.0) == 0.0
    assert song_position(1.25) == 5.0
    assert song_position(-0.5) == -2.0


def test_alone_drumd_sets_the_tempo_and_starts_the_session_after_the_grace():
    tr, clock, session = make(peers=0, bpm=120.0)
    assert tr.link.enabled and tr.link.startStopSyncEnabled
    state = tr.query()
    assert not state.rolling and session.commits == 0  # discovery may still find a peer
    clock.t += 1.9
    assert not tr.query().rolling
    clock.t += 0.1
    state = tr.query()
    assert state.rolling and state.bpm == 120.0 and state.peers == 0
    assert session.playing and session.tempo == 120.0
    # beat 0 (bar 1) START_LEAD ahead: the position now is 0.1 s before it, in 16ths
    assert state.position == pytest.approx(-0.1 * 120 / 60 * 4)
    clock.t += 0.6
    assert tr.query().position == pytest.approx(0.5 * 8)


def test_with_peers_drumd_waits_then_starts_on_the_first_bar_line_after_the_start():
    tr, clock, session = make(peers=1, bpm=120.0, tempo=97.0)
    clock.t += 5.0
    state = tr.query()
    assert not state.rolling and session.tempo == 97.0 and session.commits == 0  # not ours to set
    # a peer presses play at Link time 105 s: session beat 0.37 + 105 * 97 / 60
    session.playing, session.t_playing = True, clock.micros()
    raw = 0.37 + clock.t * 97 / 60
    state = tr.query()
    assert state.rolling and state.bpm == 97.0 and state.peers == 1
    next_bar = QUANTUM * math.ceil(raw / QUANTUM)
    assert state.position == pytest.approx(-(next_bar - raw) * 4)  # before drumd's bar 1
    # drumd's bar lines are the session's: position 0 mod 16 where the session's phase is 0
    clock.t += (next_bar - raw) * 60 / 97 + 3 * 60 / 97
    state = tr.query()
    assert state.position == pytest.approx(12.0)
    assert (0.37 + clock.t * 97 / 60) % QUANTUM == pytest.approx(3.0)


def test_a_peers_stop_stops_and_a_stop_scheduled_later_waits_for_its_time():
    tr, clock, session = make(peers=1)
    session.playing, session.t_playing = True, clock.micros()
    assert tr.query().rolling
    clock.t += 1.0
    session.playing, session.t_playing = False, clock.micros() + 50_000  # stop in 50 ms
    assert tr.query().rolling
    clock.t += 0.05
    assert not tr.query().rolling
    clock.t += 2.0
    assert not tr.query().rolling  # stopped by a peer: drumd does not start it again alone
    session.peers = 0
    clock.t += 2.0
    assert not tr.query().rolling


def test_the_clock_plays_from_bar_1_when_the_start_lies_ahead():
    c = Clock(bpm=120.0)
    assert c.transport(10.0, -3.2, 97.0, rolling=True, source=LINK)
    assert (c.running, c.source, c.start_step) == (True, LINK, 0)
    assert c.time_of(0.0) == pytest.approx(10.0 + 3.2 * 15 / 97)
    # a tempo change keeps Link's beat continuous: followed, no new epoch
    assert not c.transport(11.0, c.position_at(11.0), 130.0, rolling=True, source=LINK)
    assert c.bpm == pytest.approx(130.0) and c.epoch == 1


def test_status_line_shows_the_peer_count():
    s = {"bpm": 97.0, "source": LINK, "fallback": False, "running": True, "bar": 3, "beat": 2,
         "mode": "generate", "temperature": 1.0, "density": 0.0, "quantize": 1.0,
         "variation": 0.5, "fill_every": 8, "follow": 0.8, "late": 0, "p99": 1.0}
    assert "97.0 BPM link (2 peers)" in format_status({**s, "peers": 2})
    assert "link (1 peer)" in format_status({**s, "peers": 1})
    assert "peer" not in format_status({**s, "peers": None, "source": "internal"})


def test_missing_binding_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "link", None)  # `import link` raises ImportError
    with pytest.raises(TransportError, match="--clock link needs the LinkPython-extern package"):
        LinkTransport(120.0)


def test_link_failing_to_start_is_one_line():
    class Broken:
        class Link:
            def __init__(self, bpm):
                raise RuntimeError("bind: Address already in use")
    with pytest.raises(TransportError, match="Link could not start .bind: Address already in use"):
        LinkTransport(120.0, link_module=Broken)


def test_clock_link_is_a_setting(tmp_path):
    cfg = tmp_path / "drumd.yaml"
    cfg.write_text("clock: link\n")
    assert config.resolve(str(cfg), {})["clock"] == "link"


def test_in_three_four_drumds_bar_is_a_quantum_of_three_beats():
    """--meter 3/4: Link's quantum is drumd's bar, 3 quarter notes; drumd starts on the
    session's next 3-beat bar line, and 16th 12 (its bar 2) is a bar line of the session's."""
    tr, clock, session = make(peers=1, bpm=120.0, tempo=97.0, meter=(3, 4))
    clock.t += 5.0
    session.playing, session.t_playing = True, clock.micros()
    raw = 0.37 + clock.t * 97 / 60
    state = tr.query()
    next_bar = 3 * math.ceil(raw / 3)
    assert state.rolling and state.meter == (3, 4)
    assert state.position == pytest.approx(-(next_bar - raw) * 4)
    clock.t += (next_bar - raw) * 60 / 97 + 3 * 60 / 97
    assert tr.query().position == pytest.approx(12.0)
    assert (0.37 + clock.t * 97 / 60) % 3 == pytest.approx(0.0, abs=1e-6)
