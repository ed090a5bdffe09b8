"""Clock faults the follower must survive, beyond tests/test_clock.py: heavy jitter at 300 BPM,
transport messages out of order, Song Position mid-bar (while running: tests/test_song_position.py), tempo jumps 40 <-> 300 BPM, and the
clock vanishing at the extremes. The behaviour asserted here is documented in docs/benchmarks.md."""
import numpy as np
import pytest

from drumd.daemon.timing.clock import CONTINUE, SPP, START, STOP, TICK, Clock, tick_period
from test_clock import feed, started, ticks


def test_jitter_of_5ms_at_300bpm_keeps_tempo_and_mostly_the_grid():
    """±5 ms is 60 % of a tick period at 300 BPM: a late tick can look like the next one.
    The tempo holds in every run and the grid stays on the source's ticks; early on, before
    the period is known well, a run of late ticks now and then is taken for missed ones and
    the grid slips by whole ticks (8.3 ms each; bench/clock_bench.py: 1-3 % of runs).
    A start so unlucky that "missed" ticks keep being found is renumbered (it once drifted
    29 ticks off at 310 BPM: seed 9)."""
    p = tick_period(300.0)
    errs = []
    for seed in range(40):
        c = started()
        feed(c, ticks(300.0, 480), np.random.default_rng(seed), jitter=0.005)
        assert c.bpm == pytest.approx(300.0, rel=0.01)
        errs.append(abs(c.time_of(81) - 81 * 6 * p))
    errs = np.array(errs)
    slips = np.round(errs / p)
    assert np.all(np.abs(errs - slips * p) < 0.003)  # on a tick of the source's grid
    assert (slips == 0).mean() >= 0.95 and slips.max() <= 3


def test_repeated_start_restarts_from_the_top():
    c = started()
    feed(c, ticks(120.0, 50))
    e = c.epoch
    assert c.message([START], 1.05)
    assert c.epoch == e + 1 and c.start_step == 0 and c.est.next_index == 0
    feed(c, ticks(120.0, 30, t0=1.06))
    assert c.time_of(2) == pytest.approx(1.06 + 12 * tick_period(120.0), abs=1e-6)


def test_stop_without_start_and_ticks_while_stopped_change_nothing():
    c = Clock()
    assert not c.message([STOP], 0.0)
    feed(c, ticks(120.0, 30))
    assert not c.running and c.epoch == 0


def test_continue_while_playing_is_ignored():
    c = started()
    feed(c, ticks(120.0, 50))
    e, pos = c.epoch, c.time_of(10)
    assert not c.message([CONTINUE], 1.05)
    assert c.running and c.epoch == e and c.est.next_index == 50
    assert c.time_of(10) == pytest.approx(pos)


def test_song_position_mid_bar_resumes_there():
    c = started()
    feed(c, ticks(120.0, 50))
    c.message([STOP], 1.05)
    c.message([SPP, 37 & 0x7F, 37 >> 7], 1.1)  # bar 3, 6th sixteenth
    c.message([CONTINUE], 1.2)
    assert c.start_step == 37 and c.est.next_index == 37 * 6
    feed(c, ticks(120.0, 12, t0=1.21, first=222))
    assert c.time_of(38) == pytest.approx(1.21 + 6 * tick_period(120.0), abs=1e-4)


@pytest.mark.parametrize("a, b", [(40.0, 300.0), (300.0, 40.0)])
def test_tempo_jumps_between_40_and_300_are_followed_within_a_beat(a, b):
    c = started()
    before = ticks(a, 96)
    change = before[-1] + tick_period(a)
    after = ticks(b, 24, t0=change, first=96)
    feed(c, before + after, np.random.default_rng(0), jitter=0.002)
    assert c.bpm == pytest.approx(b, rel=0.02)
    assert c.est.next_index == 120  # no tick taken for dropped or doubled
    assert abs(c.time_of(20) - (change + 24 * tick_period(b))) < 0.002


@pytest.mark.parametrize("bpm", [40.0, 300.0])
def test_clock_vanishing_falls_back_after_two_beats_at_any_tempo(bpm):
    c = started()
    feed(c, ticks(bpm, 96))
    last = 95 * tick_period(bpm)
    beat = 60 / bpm
    assert not c.poll(last + 1.9 * beat)
    assert c.poll(last + 2.1 * beat) and c.fallback and c.running
    assert c.bpm == pytest.approx(bpm, rel=1e-6)
    assert c.time_of(40) == pytest.approx(40 * 6 * tick_period(bpm), abs=1e-6)
    assert c.message([STOP], last + 3 * beat) and not c.running  # Stop still stops


def test_start_after_fallback_locks_onto_the_new_clock():
    c = started()
    feed(c, ticks(120.0, 48))
    assert c.poll(5.0)
    assert c.message([START], 6.0)
    assert c.source == "external" and not c.fallback and c.start_step == 0
    feed(c, ticks(150.0, 48, t0=6.001))
    assert c.bpm == pytest.approx(150.0, rel=0.005)


def test_garbage_system_messages_are_harmless():
    c = started()
    feed(c, ticks(120.0, 24))
    for msg in ([SPP], [SPP, 1], [0xF1, 3], [0xF3, 1], [0xFE], [0xFF], [0xF4], [0xF9], [0xFD]):
        assert not c.message(msg, 0.6)
    assert c.running and c.est.next_index == 24
