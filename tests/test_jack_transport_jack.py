"""`drumd serve --clock jack` through a real JACK server (dummy backend): jack_transport is the
timebase master (bar, beat, tick and tempo) and is driven through its stdin as a user drives
a DAW's transport. drumd must start on play, stop on stop with every note closed, resume where
a locate put the transport, follow a tempo change, and put its kicks on the transport's bar
starts; every note (--quantize 1) on the transport's 16th grid.

The reference is the transport itself, read by this test through JACK-Client: a thread samples
(time of the cycle start, rolling, BBT position) every 2 ms, and each note drumd sent is placed
on that record. jack_transport's own BBT runs about 2 % slow of its frame count (it adds whole
ticks per period), so positions are judged against the BBT record, never against frames.
Notes reach the listener at the start of the period after drumd sends them: a note may land
up to a period late, plus 2 ms of scheduling on each side (as tests/test_daemon_jack.py).
"""
import os
import subprocess
import sys
import threading
import time

import jack as jackclient
import pytest

from jackstack import PERIOD_S, Drumd, JackServer, Listener, judged
from test_daemon_jack import CC, note_ons, paired, status_lines

from drumd.daemon.timing.jacktransport import JackTransport, TransportError
from drumd.mappings.basics.grid import STEP_TICKS
from drumd.mappings.basics.midifile import read_drum_notes

KICK = 36
EARLY, LATE = 0.002, PERIOD_S + 0.004  # seconds a note may arrive before / after its 16th


class TransportRecord:
    """Samples JACK transport every 2 ms: (seconds on perf_counter of the cycle start, rolling,
    song position in 16ths from BBT, quarter-note BPM)."""

    def __init__(self, fallback_bpm: float = 120.0):
        self.fallback_bpm = fallback_bpm  # no timebase master: frames counted at this tempo
        self.client = jackclient.Client("jt-probe", no_start_server=True)
        self.rate = self.client.samplerate
        self.samples: list[tuple[float, bool, float, float]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._closed:
            state, pos = self.client.transport_query()
            t = time.perf_counter() - self.client.frames_since_cycle_start / self.rate
            if "bar" in pos:
                beats = (pos["bar"] - 1) * pos["beats_per_bar"] + pos["beat"] - 1 + pos["tick"] / pos["ticks_per_beat"]
                bpm = pos["beats_per_minute"]
            else:
                beats, bpm = pos["frame"] / self.rate * self.fallback_bpm / 60, self.fallback_bpm
            self.samples.append((t, state == jackclient.ROLLING, beats * 4, bpm))
            time.sleep(0.002)

    def edges(self, rolling: bool, after: float) -> float:
        """The first sample time after `after` in that state."""
        return next(t for t, r, _, _ in self.samples if t > after and r == rolling)

    def position(self, t: float) -> tuple[float, float]:
        """(the transport's song position in 16ths, its BPM) at `t`, from the last rolling
        sample before it."""
        u, _, p, bpm = [s for s in self.samples if s[1] and s[0] <= t][-1]
        return p + (t - u) * bpm / 15, bpm

    def close(self):
        self._closed = True
        self._thread.join(timeout=2)
        self.client.close()


def test_no_jack_server_is_one_line(monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "drumd-test-nobody-here")
    with pytest.raises(TransportError, match="no JACK server is running"):
        JackTransport("drumd-transport")


@pytest.mark.jack
def test_drumd_follows_jack_transport(jack, transport, drumd_checkpoint, tmp_path):
    mark = jack.log_mark()
    take = tmp_path / "take.mid"
    transport.command("stop", "tempo 120", "locate 0")
    listener = Listener("jt-rec")
    record = TransportRecord()
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "jack", "--quantize", "1",
                  "--status", "--record", str(take), "--seed", "5", client="drumd-jt")
    try:
        jack.connect(drumd.out_port, listener.port)
        time.sleep(1.5)
        assert note_ons(listener.snapshot()) == []  # the transport stands: drumd waits
        t_cmd = time.perf_counter()
        transport.command("play")
        time.sleep(4.5)                                # bars 1-3 at 120 BPM
        t_stop_cmd = time.perf_counter()
        transport.command("stop")
        time.sleep(1.0)
        t_locate_cmd = time.perf_counter()
        transport.command("locate 480000", "play")   # 10 s at 120 BPM: bar 6
        time.sleep(2.5)
        t_tempo_cmd = time.perf_counter()
        transport.command("tempo 150")
        time.sleep(2.5)
        t_end_cmd = time.perf_counter()
        transport.command("stop")
        time.sleep(0.5)
        events = listener.snapshot()
        out = drumd.terminate()
    finally:
        transport.command("stop", "tempo 120", "locate 0")
        listener.close()
        record.close()
    t_play = record.edges(True, t_cmd)
    t_stop = record.edges(False, t_stop_cmd)
    t_replay = record.edges(True, t_locate_cmd)
    t_end = record.edges(False, t_end_cmd)
    ons = note_ons(events)
    lines = status_lines(out)
    assert any("jack transport" in line for line in lines), out
    # all-notes-off on each stop: not timing, never excused
    for stop in (t_stop, t_end):
        assert any(m == (CC | 9, 123, 0) for t, m in events if stop <= t <= stop + 0.1)
    with judged(jack, mark, drumd.client):
        # starts on play, within a step and a bit
        first = min(t for t, _ in ons)
        assert t_play < first < t_play + 0.2, (first - t_play)
        # stops on stop: nothing after it but the closing messages, every note closed
        for stop in (t_stop, t_end):
            assert not [t for t, _ in ons if stop + LATE + 0.01 < t < stop + 0.9]
        assert paired(events) == {}
        # every note on the transport's 16th grid: the transport's position when it arrived is
        # its 16th plus 0 to a period (delivery), within the scheduling jitter
        # The first 16th after a start or a jump (jack_transport's tempo command recomputes
        # its bar and beat from the frame count at the new tempo: a jump) sounds as soon as
        # drumd has read the transport, up to a period and a poll late: not judged.
        t_jump = next(t for t, r, _, bpm in record.samples if t > t_tempo_cmd and bpm == 150)
        # (By its 16th, not by a time window: on a loaded box reading the transport can take
        # longer than any window, and later 16ths are still judged.)
        jumps = (t_play, t_replay, t_jump)
        first_steps = {round(record.position(min(t for t, _ in ons if t >= j))[0]) for j in jumps}
        errs, kicks, played = [], set(), set()
        for t, m in ons:
            pos, bpm = record.position(t)
            step = round(pos)
            played.add(step)
            if m[1] == KICK:
                kicks.add(step)
            if step not in first_steps:
                errs.append((t, (pos - step) * 15 / bpm))  # seconds after its 16th
        bad = [(round(t - t_play, 3), round(e * 1000, 1)) for t, e in errs if not -EARLY < e < LATE]
        assert len(errs) > 40 and not bad, bad
        # kicks on the transport's bar starts, in every bar drumd played through
        bars = [b for b in range(0, max(played), 16)
                if any(b - 4 <= p < b for p in played) and any(b < p <= b + 4 for p in played)]
        on_one = [b for b in bars if b in kicks]
        assert len(bars) >= 4 and len(on_one) >= 0.75 * len(bars), (bars, sorted(kicks))
    # located to bar 6: drumd went on from there, as its status line and its take say
    after = [line for line in lines if "stopped" not in line]
    assert any(line.split()[4].startswith("6:") for line in after), lines
    ticks = [n.tick for n in read_drum_notes(take).notes]
    assert min(ticks) < 4 * STEP_TICKS and max(ticks) >= 80 * STEP_TICKS  # tick 0: the first play
    assert not [k for k in ticks if 40 * STEP_TICKS <= k < 80 * STEP_TICKS]  # nothing between
    assert all(k % STEP_TICKS in (0, 1, STEP_TICKS - 1) for k in ticks)
    # the tempo change reached the status line
    assert any(line.split()[0] == "150.0" for line in lines), lines


@pytest.fixture
def bare_jack():
    """A JACK server of this test's own, with jack_transport but no timebase master (only a
    frame count): the session's server keeps its master, which other tests rely on."""
    before = os.environ.get("JACK_DEFAULT_SERVER")
    server = JackServer()
    proc = server.spawn(["jack_transport"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, text=True)
    try:
        yield server, proc
    finally:
        server.close()
        if before is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = before


@pytest.mark.jack
def test_without_a_timebase_master_drumd_counts_frames_and_follows_a_locate_while_rolling(
        bare_jack, drumd_checkpoint, tmp_path):
    jack, proc = bare_jack

    def command(*cmds):
        proc.stdin.write("".join(c + "\n" for c in cmds))
        proc.stdin.flush()

    mark = jack.log_mark()
    take = tmp_path / "take.mid"
    command("stop", "locate 0")
    listener = Listener("jt-bare-rec")
    record = TransportRecord(fallback_bpm=150.0)
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "jack", "--bpm", "150",
                  "--quantize", "1", "--status", "--record", str(take), "--seed", "6",
                  client="drumd-jt-bare")
    try:
        jack.connect(drumd.out_port, listener.port)
        time.sleep(1.0)
        t_play_cmd = time.perf_counter()
        command("play")
        time.sleep(2.0)
        t_locate_cmd = time.perf_counter()
        command("locate 480000")  # 10 s: 16th 100 at 150 BPM (bar 7 beat 2)
        time.sleep(2.0)
        command("stop")
        time.sleep(0.5)
        events = listener.snapshot()
        out = drumd.terminate()
    finally:
        command("stop", "locate 0")
        listener.close()
        record.close()
    assert "no bar/beat position (no timebase master)" in out, out
    t_play = record.edges(True, t_play_cmd)
    t_jump = next(t for t, r, p, _ in record.samples if t > t_locate_cmd and r and p > 90)
    ons = note_ons(events)
    # the locate while rolling: every note closed at it (not timing, never excused)
    assert any(m == (CC | 9, 123, 0) for t, m in events if t_jump <= t <= t_jump + 0.1)
    with judged(jack, mark, drumd.client):
        assert paired(events) == {}
        # the first 16th after the start and the jump: not judged (as above, by its 16th)
        first_steps = {round(record.position(min(t for t, _ in ons if t >= j))[0]) for j in (t_play, t_jump)}
        errs = []
        for t, _ in ons:
            pos, bpm = record.position(t)
            if round(pos) not in first_steps:
                errs.append((pos - round(pos)) * 15 / bpm)
        bad = [round(e * 1000, 1) for e in errs if not -EARLY < e < LATE]
        assert len(errs) > 40 and not bad, bad
    lines = status_lines(out)
    assert any(line.split()[4].startswith("7:") for line in lines), lines
    ticks = [n.tick for n in read_drum_notes(take).notes]
    assert min(ticks) < 4 * STEP_TICKS and max(ticks) >= 100 * STEP_TICKS
    assert not [k for k in ticks if 40 * STEP_TICKS <= k < 100 * STEP_TICKS]


@pytest.mark.jack
def test_clock_auto_waits_for_a_timebase_master_and_follows_its_transport(jack, transport,
                                                                           drumd_checkpoint):
    """--clock auto on a JACK server whose transport has a timebase master (jack_transport,
    as a DAW): drumd does not start on its own after 1 s, starts when the transport rolls, on
    its 16ths, and stops with it, every note closed; its status line says jack transport."""
    mark = jack.log_mark()
    transport.command("stop", "tempo 120", "locate 0")
    listener = Listener("jt-auto-rec")
    record = TransportRecord()
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "auto", "--quantize", "1",
                  "--status", "--seed", "7", client="drumd-jt-auto")
    try:
        jack.connect(drumd.out_port, listener.port)
        time.sleep(2.0)
        assert note_ons(listener.snapshot()) == []  # a DAW is there, stopped: drumd waits
        t_cmd = time.perf_counter()
        transport.command("play")
        time.sleep(2.5)
        t_stop_cmd = time.perf_counter()
        transport.command("stop")
        time.sleep(0.8)
        events = listener.snapshot()
        out = drumd.terminate()
    finally:
        transport.command("stop", "tempo 120", "locate 0")
        listener.close()
        record.close()
    t_play, t_stop = record.edges(True, t_cmd), record.edges(False, t_stop_cmd)
    ons = note_ons(events)
    lines = status_lines(out)
    assert lines and all("jack transport" in line for line in lines), lines  # never internal
    assert any(m == (CC | 9, 123, 0) for t, m in events if t_stop <= t <= t_stop + 0.1)
    with judged(jack, mark, drumd.client):
        assert t_play < min(t for t, _ in ons) < t_play + 0.2
        assert not [t for t, _ in ons if t_stop + LATE + 0.01 < t]
        assert paired(events) == {}
        errs, first = [], []
        for t, _ in ons:  # the first 16th after the start sounds once drumd has read the
            pos, bpm = record.position(t)  # transport and computed it: judged apart
            (first if round(pos) == 0 else errs).append((pos - round(pos)) * 15 / bpm)
        bad = [round(e * 1000, 1) for e in errs if not -EARLY < e < LATE]
        assert len(errs) > 20 and not bad, bad
        assert first and all(0 <= e < 0.05 for e in first), first


@pytest.mark.jack
def test_clock_auto_without_a_master_plays_on_its_own_after_1_s_then_follows_the_transport(
        bare_jack, drumd_checkpoint):
    """--clock auto on a JACK server with no timebase master and no MIDI clock: drumd plays
    on its own after 1 s (status line: internal); when the transport rolls it locks onto the
    transport's frame count (every note closed at the switch), and stops when it stops."""
    jack, proc = bare_jack

    def command(*cmds):
        proc.stdin.write("".join(c + "\n" for c in cmds))
        proc.stdin.flush()

    mark = jack.log_mark()
    command("stop", "locate 0")
    listener = Listener("jt-auto-bare-rec")
    record = TransportRecord(fallback_bpm=150.0)
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "auto", "--bpm", "150",
                  "--quantize", "1", "--status", "--seed", "8", client="drumd-jt-auto-bare")
    t_ports = time.perf_counter()  # drumd's ports are up (at most 50 ms ago): its session starts
    try:
        jack.connect(drumd.out_port, listener.port)
        time.sleep(3.0)
        alone = note_ons(listener.snapshot())
        t_cmd = time.perf_counter()
        command("play")
        time.sleep(2.0)
        t_stop_cmd = time.perf_counter()
        command("stop")
        time.sleep(0.8)
        events = listener.snapshot()
        out = drumd.terminate()
    finally:
        command("stop", "locate 0")
        listener.close()
        record.close()
    t_play, t_stop = record.edges(True, t_cmd), record.edges(False, t_stop_cmd)
    lines = status_lines(out)
    assert alone and alone[0][0] > t_ports + 0.9, out  # on its own, after the 1 s grace
    internal = [i for i, line in enumerate(lines) if " internal " in line and "stopped" not in line]
    followed = [i for i, line in enumerate(lines) if "jack transport" in line and "stopped" not in line]
    assert internal and followed and internal[-1] < followed[0], lines
    ons = note_ons(events)
    # every note closed at the switch to the transport and at its stop: never excused
    assert any(m == (CC | 9, 123, 0) for t, m in events if t_play <= t <= t_play + 0.1)
    assert any(m == (CC | 9, 123, 0) for t, m in events if t_stop <= t <= t_stop + 0.1)
    with judged(jack, mark, drumd.client):
        assert not [t for t, _ in ons if t_stop + LATE + 0.01 < t]  # stopped with the transport
        assert paired(events) == {}
        errs = []
        for t, _ in ons:  # on the frame count's 16ths once it rolls (its first 16th, computed
            if t > t_play:  # once drumd has read the transport, not judged: as above)
                pos, bpm = record.position(t)
                if round(pos) > 0:
                    errs.append((pos - round(pos)) * 15 / bpm)
        bad = [round(e * 1000, 1) for e in errs if not -EARLY < e < LATE]
        assert len(errs) > 15 and not bad, bad


ONE_LIBJACK = """
import queue
from drumd.daemon.midi import ports
from drumd.daemon.timing.jacktransport import JackTransport
import rtmidi
p = ports.open_input(rtmidi.API_UNIX_JACK, "libjack-probe", "in", None, queue.SimpleQueue())
t = JackTransport("libjack-probe-transport")
t.query()
print(sorted({line.split()[-1] for line in open("/proc/self/maps") if "/libjack" in line and ".so" in line}))
t.close()
p.close()
"""


@pytest.mark.jack
def test_jack_transport_and_the_midi_ports_share_one_libjack(jack):
    """JACK-Client is loaded on python-rtmidi's libjack: a second one would map all of JACK's
    shared memory again (+100 MB of serve's RSS, bench/startup_bench.py)."""
    r = subprocess.run([sys.executable, "-c", ONE_LIBJACK], env=jack.env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    libs = eval(r.stdout.strip().splitlines()[-1])
    assert len(libs) == 1, libs
