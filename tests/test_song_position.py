"""Song Position while the clock runs (a DAW looping without stopping): drumd relocates at the
next tick, tempo kept, and every sounding note is closed. On synthetic tick times (the clock
alone) and through a whole session on fake ports; through real JACK in
tests/test_song_position_jack.py."""
import queue
import time

import pytest

from drumd.daemon.timing.clock import CONTINUE, SPP, START, STOP, TICK, Clock, tick_period
from test_clock import feed, started, ticks


def spp(sixteenths: int) -> list[int]:
    return [SPP, sixteenths & 0x7F, sixteenths >> 7]


def test_song_position_while_running_moves_the_grid_at_the_next_tick():
    p = tick_period(120.0)
    c = started()
    feed(c, ticks(120.0, 50))
    e = c.epoch
    assert not c.message(spp(8), 49.5 * p)  # nothing moves until the next tick
    assert c.epoch == e and c.position_at(49.5 * p) == pytest.approx(49.5 / 6)
    assert c.message([TICK], 50 * p)  # the next tick is 16th 8 (tick 48)
    assert c.epoch == e + 1 and c.start_step == 8 and c.running
    assert c.est.next_index == 49
    assert c.time_of(9) == pytest.approx(56 * p, abs=1e-6)  # one 16th later, same tempo
    assert c.bpm == pytest.approx(120.0, rel=1e-6)
    feed(c, ticks(120.0, 30, t0=51 * p, first=51))  # ticks go on: no further jump
    assert c.epoch == e + 1 and c.est.next_index == 79


def test_song_position_where_the_grid_already_is_changes_nothing():
    p = tick_period(120.0)
    c = started()
    feed(c, ticks(120.0, 48))
    e = c.epoch
    c.message(spp(8), 47.5 * p)  # tick 48 is 16th 8 anyway
    assert not c.message([TICK], 48 * p)
    assert c.epoch == e and c.est.next_index == 49


def test_a_seven_beat_loop_from_bar_1_beat_3_stays_in_the_loop():
    # Issue #18's DAW: loops beats 3 of bar 1 to 1 of bar 3 (7 beats), sending Song Position
    # at the loop point while the clock runs. After two laps drumd stood at bar 5 beat 1,
    # 8 sixteenths off the DAW's bar 1 beat 3.
    p = tick_period(120.0)
    c = Clock()
    c.message(spp(8), 0.0)
    c.message([CONTINUE], 0.001)
    t, starts = 0.002, []
    for lap in range(3):
        if lap:
            c.message(spp(8), t - p / 2)
        for k in range(7 * 24):
            if c.message([TICK], t) or (lap == 0 and k == 0):
                starts.append(c.start_step)
            t += p
    assert starts == [8, 8, 8]  # a fresh start at 16th 8 each lap (the first: Continue)
    assert c.position_at(t) == pytest.approx(8 + 28, abs=0.01)  # the end of the third lap
    assert c.est.next_index == (8 + 28) * 6


def test_stop_after_a_song_position_resumes_there():
    p = tick_period(120.0)
    c = started()
    feed(c, ticks(120.0, 50))
    c.message(spp(32), 49.5 * p)
    c.message([STOP], 49.7 * p)
    c.message([CONTINUE], 60 * p)
    assert c.start_step == 32 and c.est.next_index == 32 * 6


def test_song_position_during_the_fallback_relocks_there():
    p = tick_period(132.0)
    c = started()
    feed(c, ticks(132.0, 48))
    assert c.poll(48 * p + 1.0) and c.fallback
    e = c.epoch
    c.message(spp(64), 100 * p)
    assert c.message([TICK], 101 * p)  # the clock is back, at bar 5
    assert c.source == "external" and not c.fallback
    assert c.epoch == e + 1 and c.start_step == 64
    assert c.time_of(65) == pytest.approx(101 * p + 6 * p, abs=1e-6)


def test_song_position_on_the_internal_clock_is_ignored():
    c = Clock(bpm=150.0)
    c.start_internal(10.0)
    e = c.epoch
    c.message(spp(8), 10.5)
    assert not c.message([TICK], 10.6)
    assert c.epoch == e and c.source == "internal"


# --- a whole session on fake ports, real threads and time -----------------------------------
class FakePort:
    def __init__(self):
        self.sent = []

    def send(self, msg):
        self.sent.append((time.perf_counter(), list(msg)))

    def check(self):
        return None


def test_a_session_relocates_on_song_position_and_closes_its_notes():
    from drumd.daemon.cli import config
    from drumd.daemon.play.session import Session
    from drumd.daemon.play.voicing import PlayerInput, Voicing
    from test_daemon import FakeSampler
    settings = config.resolve(None, {"clock": "external", "bpm": 240.0, "quantize": 1.0,
                                     "gate_ms": 500})  # long notes: sounding at the jump
    out, inbox, sampler = FakePort(), queue.SimpleQueue(), FakeSampler()
    s = Session(settings, sampler, FakePort(), out, inbox, Voicing("gm"), PlayerInput("gm"))
    s.start()
    p = tick_period(240.0)
    try:
        t0 = time.perf_counter() + 0.05
        inbox.put((t0 - 0.001, [START]))
        jump_at = None
        for k in range(24 * 6):  # six beats at 240 BPM; a jump back to 16th 4 after four
            t = t0 + k * p
            time.sleep(max(0.0, t - time.perf_counter()))
            if k == 96:
                jump_at = time.perf_counter()
                inbox.put((t - p / 2, spp(4)))
            inbox.put((t, [TICK]))
        time.sleep(0.1)
    finally:
        s.shutdown()
    assert s.error is None
    before = [m for t, m in out.sent if t < jump_at]
    after = [(t, m) for t, m in out.sent if t >= jump_at]
    assert any(m[0] == 0x99 for m in before)
    # the jump: every sounding note closed (note-offs, then all-notes-off), then play on
    first_on = next(i for i, (_, m) in enumerate(after) if m[0] == 0x99)
    assert [0xB0 | 9, 123, 0] in [m for _, m in after[:first_on]]
    offs = [m[1] for _, m in after[:first_on] if m[0] == 0x89]
    sounding = {m[1] for t, m in out.sent if m[0] == 0x99 and jump_at - 0.5 < t < jump_at}
    assert sounding and set(offs) == sounding  # the 500 ms notes closed at the jump
    # the model restarted at 16th 4 and stepped on from there
    resets = [c for c in sampler.calls if c[0] == "reset"]
    assert [r[3] for r in resets][-1] == 4
    steps = [c[1] for c in sampler.calls if c[0] == "step"]
    assert steps[-1] >= 4 + 6 and max(steps) < 96 // 6 + 4  # never reached where it was going
