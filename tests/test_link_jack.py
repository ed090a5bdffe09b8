"""`drumd serve --clock link` through real Ableton Link and a real JACK server (dummy backend):
the other Link peer is tests/link_peer.py, a process of its own on a different binding from
drumd's (aalink), driven through its stdin as a user drives a DAW's Link transport.

The reference is that peer: it prints (perf_counter, its beat under quantum 4, tempo, playing)
every 2 ms, and each note drumd sent is placed on that record. Link shares the phase within
the 4-beat quantum, so the peer's 16th grid and bar lines are the session's. Notes reach the
listener at the start of the period after drumd sends them: a note may land up to a period
late, plus 3 ms (the issue's target, #18).
"""
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from jackstack import PERIOD_S, Drumd, Listener, judged
from test_daemon_jack import CC, note_ons, paired, status_lines

KICK = 36
SLACK = 0.003  # s a note may sit off its 16th beyond the JACK period it is delivered in
PEER = Path(__file__).with_name("link_peer.py")


class LinkPeer:
    """tests/link_peer.py at `bpm`, stopped; its samples kept as they come."""

    def __init__(self, bpm: float):
        self.proc = subprocess.Popen([sys.executable, str(PEER), str(bpm)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.samples: list[tuple[float, float, float, bool, int]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        for line in self.proc.stdout:
            t, beat, tempo, playing, peers = line.split()
            self.samples.append((float(t), float(beat), float(tempo), playing == "1", int(peers)))

    def command(self, *cmds: str) -> None:
        self.proc.stdin.write("".join(c + "\n" for c in cmds))
        self.proc.stdin.flush()

    def wait(self, what, timeout: float) -> bool:
        """Whether a sample satisfying `what` comes within `timeout` seconds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.samples and what(self.samples[-1]):
                return True
            time.sleep(0.01)
        return False

    def edge(self, after: float, what) -> float:
        """Time of the first sample after `after` satisfying `what`."""
        return next(s[0] for s in self.samples if s[0] > after and what(s))

    def beat(self, t: float) -> tuple[float, float]:
        """(the peer's beat, its tempo) at `t`, from the last sample before it."""
        i = np.searchsorted([s[0] for s in self.samples], t) - 1
        u, beat, tempo, _, _ = self.samples[max(i, 0)]
        return beat + (t - u) * tempo / 60, tempo

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._thread.join(timeout=2)


@pytest.fixture
def peer():
    p = LinkPeer(97.0)
    try:
        yield p
    finally:
        p.close()


def test_link_peers_find_each_other_here(peer):
    """Link's discovery (UDP multicast, on every interface including loopback) works on this
    machine: without it every other test here would only show drumd playing alone."""
    import link
    assert peer.wait(lambda s: True, 10), "the Link peer process did not start"
    # Its session the older by more than Link's 0.5 s margin (Link SDK, Sessions.hpp: closer
    # than that, the session ids decide), so the one both keep.
    time.sleep(1.0)
    drumd_side = link.Link(120.0)
    drumd_side.enabled = True
    try:
        assert peer.wait(lambda s: s[4] == 1, 10), \
            "no Link peer discovered in 10 s: UDP multicast 224.76.78.75:20808 is blocked here"
        end = time.monotonic() + 5  # each side learns of the other on its own
        while drumd_side.numPeers() == 0 and time.monotonic() < end:
            time.sleep(0.01)
        assert drumd_side.numPeers() == 1
        # the newcomer takes the older session's tempo
        while abs(drumd_side.captureAppSessionState().tempo() - 97.0) > 0.01 and time.monotonic() < end:
            time.sleep(0.01)
        assert drumd_side.captureAppSessionState().tempo() == pytest.approx(97.0, abs=0.01)
    finally:
        drumd_side.enabled = False


@pytest.mark.jack
def test_drumd_follows_a_link_session(jack, peer, drumd_checkpoint, tmp_path):
    mark = jack.log_mark()
    listener = Listener("link-rec")
    assert peer.wait(lambda s: True, 10), "the Link peer process did not start"
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "link", "--quantize", "1",
                  "--density", "3", "--status", "--seed", "5", client="drumd-link")
    try:
        jack.connect(drumd.out_port, listener.port)
        assert peer.wait(lambda s: s[4] == 1, 10), "drumd never joined the Link session"
        time.sleep(1.5)
        assert note_ons(listener.snapshot()) == []  # a peer is there and stopped: drumd waits
        t_play_cmd = time.perf_counter()
        peer.command("play")
        time.sleep(7.0)                      # bars 1-2 (2.5 s a bar at 97) after the next bar line
        t_tempo_cmd = time.perf_counter()
        peer.command("tempo 130")
        time.sleep(3.5)
        t_stop_cmd = time.perf_counter()
        peer.command("stop")
        time.sleep(1.0)
        events = listener.snapshot()
        out = drumd.terminate()
    finally:
        listener.close()
    playing = lambda s: s[3]  # noqa: E731
    t_play = peer.edge(t_play_cmd, playing)
    t_tempo = peer.edge(t_tempo_cmd, lambda s: s[2] == 130.0)
    t_stop = peer.edge(t_stop_cmd, lambda s: not s[3])
    ons = note_ons(events)
    lines = status_lines(out)
    assert any("link (1 peer)" in line for line in lines), out
    assert any(line.split()[0] == "130.0" for line in lines), lines  # the tempo reached the status
    beat_play, _ = peer.beat(t_play)
    first_bar = 4 * np.ceil(beat_play / 4 - 1e-6)  # the first bar line at or after the start
    assert ons, out  # it played: not timing, never excused
    with judged(jack, mark, drumd.client):
        # drumd starts at the session's first bar line after the peer's start, never before
        assert ons and peer.beat(min(t for t, _ in ons))[0] > first_bar - SLACK * 97 / 60
        # every note on the session's 16th grid: seconds after its 16th (delivery: up to a period)
        errs, kicks, played = [], set(), set()
        for t, m in ons:
            beat, tempo = peer.beat(t)
            pos = 4 * (beat - first_bar)  # 16ths from drumd's bar 1
            step = round(pos)
            errs.append((t, (pos - step) * 15 / tempo))
            played.add(step)
            if m[1] == KICK:
                kicks.add(step)
        e = np.array([x for _, x in errs])
        p1, p99 = np.percentile(e, 1), np.percentile(e, 99)
        print(f"grid error: p1 {p1 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, max {e.max() * 1000:.2f} ms "
              f"({len(e)} notes; JACK period {PERIOD_S * 1000:.2f} ms)")
        assert len(e) > 60 and p1 > -SLACK and p99 < PERIOD_S + SLACK, (p1, p99)
        assert abs(e).max() < 0.25 * 15 / 130, e  # no note a quarter 16th off, even the odd one
        # the tempo change: the notes in the beat after it are on the new grid already
        after = [x for t, x in errs if t_tempo <= t < t_tempo + 60 / 130]
        first = min(t for t, _ in errs if t >= t_tempo) - t_tempo
        print(f"tempo change: {len(after)} notes in the beat after it, the first {first * 1000:.0f} ms "
              f"after it, worst {max(after, key=abs) * 1000:.2f} ms off the new grid (a drumd still "
              f"at 97 BPM would be 25 ms off 100 ms after the change)")
        assert len(after) >= 2 and all(-SLACK < x < PERIOD_S + SLACK for x in after), after
        # kicks on the Link bar's one, in every bar drumd played through
        bars = [b for b in range(0, max(played), 16)
                if any(b - 4 <= p < b for p in played) and any(b < p <= b + 4 for p in played)]
        on_one = [b for b in bars if b in kicks]
        assert len(bars) >= 3 and len(on_one) >= 0.75 * len(bars), (bars, sorted(kicks))
        # the peer's stop: all notes closed within one 16th, nothing after it
        sixteenth = 15 / 130
        closes = [t for t, m in events if m == (CC | 9, 123, 0) and t >= t_stop]
        print(f"stop obeyed after {(closes[0] - t_stop) * 1000:.1f} ms (a 16th: {sixteenth * 1000:.0f} ms)"
              if closes else "no All Notes Off after the stop")
        assert closes and closes[0] - t_stop < sixteenth, closes[:1]
        assert not [t for t, _ in ons if t > closes[0]]
        assert paired(events) == {}


@pytest.mark.jack
def test_drumd_alone_starts_the_session_at_its_bpm(jack, drumd_checkpoint):
    """No peer: drumd starts the Link session at --bpm and plays at once. A peer joining later
    (its own tempo 120) takes drumd's tempo and bar phase, and its stop stops drumd. (A peer
    joining keeps its own start/stop state until someone presses play or stop, Link's rule,
    so the peer cannot be asked whether drumd set the session playing.)"""
    mark = jack.log_mark()
    listener = Listener("link-alone-rec")
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "link", "--bpm", "97",
                  "--quantize", "1", "--status", "--seed", "6", client="drumd-link-alone")
    p = None
    try:
        jack.connect(drumd.out_port, listener.port)
        time.sleep(4.5)  # 2 s looking for peers, then playing alone
        alone = note_ons(listener.snapshot())
        p = LinkPeer(120.0)
        assert p.wait(lambda s: s[4] == 1, 10), "the peer never found drumd's Link session"
        assert p.wait(lambda s: abs(s[2] - 97.0) < 0.01, 3), p.samples[-1:]
        t_joined = time.perf_counter()
        time.sleep(2.5)
        t_stop_cmd = time.perf_counter()
        p.command("stop")
        time.sleep(1.0)
        events = listener.snapshot()
        out = drumd.terminate()
    finally:
        listener.close()
        if p is not None:
            p.close()
    lines = status_lines(out)
    assert any("97.0 BPM link (0 peers)" in line for line in lines), out
    assert any("link (1 peer)" in line for line in lines), out
    t_stop = p.edge(t_stop_cmd, lambda s: not s[3])
    assert len(alone) > 10  # it played alone
    # the peer's stop: all-notes-off, and nothing after it (not timing, never excused)
    closes = [t for t, m in events if m == (CC | 9, 123, 0) and t >= t_stop]
    assert closes and not [t for t, _ in note_ons(events) if t > closes[0]]
    with judged(jack, mark, drumd.client):
        # once joined, drumd's notes are on the peer's 16th grid: one bar phase for both
        errs = []
        for t, _ in note_ons(events):
            if t_joined < t < t_stop:
                beat, tempo = p.beat(t)
                errs.append((4 * beat - round(4 * beat)) * 15 / tempo)
        assert len(errs) > 5 and all(-SLACK < e < PERIOD_S + SLACK for e in errs), errs
        assert closes[0] - t_stop < 15 / 97  # within a 16th of the stop
        assert paired(events) == {}
