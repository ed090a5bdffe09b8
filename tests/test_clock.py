"""The clock follower on synthetic tick times: jitter, dropped ticks, tempo changes, transport."""
import numpy as np
import pytest

from drumd.daemon.timing.clock import CONTINUE, SPP, START, STOP, TICK, Clock, tick_period


def ticks(bpm, n, t0=0.0, first=0):
    """True times of ticks first..first+n-1 at a steady tempo starting at t0 (tick `first`)."""
    p = tick_period(bpm)
    return [t0 + (k - first) * p for k in range(first, first + n)]


def feed(clock, times, rng=None, jitter=0.0, drop=0.0):
    for j, t in enumerate(times):
        # A drop shows once the next few ticks confirm it, and only once a tempo is known:
        # none among the first and last ticks.
        if drop and 12 <= j < len(times) - 8 and rng.random() < drop:
            continue
        clock.message([TICK], t + (rng.uniform(-jitter, jitter) if rng is not None else 0.0))


def started(bpm_guess=120.0):
    c = Clock(bpm=bpm_guess)
    c.message([START], -0.001)
    return c


@pytest.mark.parametrize("seed", range(5))
def test_jittered_ticks_give_the_tempo_and_the_grid(seed):
    rng = np.random.default_rng(seed)
    c = started()
    feed(c, ticks(126.0, 192), rng, jitter=0.005)  # two bars
    assert c.bpm == pytest.approx(126.0, rel=0.003)
    p = tick_period(126.0)
    for step in (32, 33, 36):  # the next steps, as the scheduler asks for them
        assert abs(c.time_of(step) - step * 6 * p) < 0.002


@pytest.mark.parametrize("seed", range(5))
def test_dropped_ticks_keep_the_position(seed):
    rng = np.random.default_rng(seed)
    c = started()
    feed(c, ticks(100.0, 240), rng, jitter=0.003, drop=0.04)
    p = tick_period(100.0)
    assert c.bpm == pytest.approx(100.0, rel=0.01)
    assert abs(c.time_of(41) - 41 * 6 * p) < 0.003
    assert c.est.next_index == 240


def test_a_single_late_tick_is_ignored():
    c = started()
    times = ticks(120.0, 72)
    times[50] += 0.025  # an xrun delays one tick
    feed(c, times)
    assert abs(c.time_of(13) - 13 * 6 * tick_period(120.0)) < 0.0005
    assert c.est.next_index == 72


@pytest.mark.parametrize("new_bpm", [90.0, 140.0, 180.0])
def test_follows_a_tempo_change_within_a_beat(new_bpm):
    rng = np.random.default_rng(1)
    c = started()
    before = ticks(120.0, 96)
    change_t = before[-1] + tick_period(120.0)
    after = ticks(new_bpm, 24, t0=change_t, first=96)  # one beat at the new tempo
    feed(c, before + after, rng, jitter=0.003)
    assert c.bpm == pytest.approx(new_bpm, rel=0.02)
    next_step = 20  # tick 120: the first step of the next beat
    true = change_t + (next_step * 6 - 96) * tick_period(new_bpm)
    assert abs(c.time_of(next_step) - true) < 0.004


def test_start_stop_continue_and_song_position():
    c = Clock()
    assert not c.running
    assert c.message([START], 0.0) and c.running and c.start_step == 0
    feed(c, ticks(120.0, 50))
    assert c.message([STOP], 1.1) and not c.running
    e = c.epoch
    c.message([CONTINUE], 2.0)
    assert c.running and c.epoch == e + 1
    assert c.start_step == 9  # tick 50 -> the next whole step is 9 (tick 54)
    c.message([STOP], 2.5)
    c.message([SPP, 32 & 0x7F, 32 >> 7], 2.6)  # 2 bars = 32 sixteenths
    c.message([CONTINUE], 3.0)
    assert c.start_step == 32
    feed(c, ticks(120.0, 30, t0=3.01, first=192))
    assert abs(c.time_of(33) - (3.01 + 6 * tick_period(120.0))) < 1e-6


def test_vanished_clock_falls_back_to_the_last_tempo_and_relocks():
    c = started()
    p = tick_period(132.0)
    feed(c, ticks(132.0, 48))
    t_next = c.time_of(8)
    assert not c.poll(48 * p + 0.3)  # under two beats without a tick: still external
    assert c.poll(48 * p + 1.0)
    assert c.running and c.fallback and c.source == "internal"
    assert c.bpm == pytest.approx(132.0, rel=1e-6)
    assert c.time_of(8) == pytest.approx(t_next, abs=1e-6)  # the same grid continues
    # ticks return on the same grid: locked again without a jump
    feed(c, ticks(132.0, 30, t0=100 * p, first=100))
    assert c.source == "external" and not c.fallback
    assert c.time_of(30) == pytest.approx(180 * p, abs=0.001)


def test_internal_clock_grid():
    c = Clock(bpm=150.0)
    c.start_internal(10.0, step=4)
    assert c.running and c.start_step == 4
    assert c.time_of(8) == pytest.approx(10.0 + 4 * 0.1)
    assert c.position_at(10.25) == pytest.approx(6.5)
    c.stop(10.3)
    assert not c.running


@pytest.mark.parametrize("bpm", [40.0, 97.0, 120.0, 300.0])
@pytest.mark.parametrize("phase", [0, 100, 200])
def test_ticks_quantised_to_the_jack_period_give_the_tempo_and_the_fallback_keeps_it(bpm, phase):
    # How JACK delivers a DAW's clock: exact in frames, received at the next period boundary.
    # A step of one period in the arrivals is not a tempo change (it once locked the line
    # onto whole periods per tick: 117.2 BPM for 120 BPM ticks).
    frames = phase + np.arange(400) * 48000 * 60 / (bpm * 24)
    arrive = np.ceil(frames / 256) * 256 / 48000
    c = started()
    feed(c, arrive)
    assert c.bpm == pytest.approx(bpm, rel=0.002)
    c.poll(arrive[-1] + 3 * 60 / bpm)  # the clock vanishes: drumd plays on at its tempo
    assert c.fallback and c.bpm == pytest.approx(bpm, rel=0.002)
    true_step = 6 * tick_period(bpm)
    assert abs(c.time_of(400 / 6 + 16) - (frames[0] / 48000 + (400 / 6 + 16) * true_step)) < 256 / 48000
