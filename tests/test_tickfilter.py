"""The tick filter alone (daemon/tickfilter.py): its loop's least-squares start, counting
missed ticks from the filtered period, holding ambiguous arrivals, outliers, renumbering."""
import numpy as np
import pytest

from drumd.daemon.tickfilter import NARROW, WIDE, Loop, TickFilter


@pytest.mark.parametrize("gains", [NARROW, WIDE])
def test_the_loop_starts_as_the_least_squares_line(gains):
    # Brookner's growing-memory gains: until the fixed gains take over, the loop's line is
    # exactly np.polyfit's through the ticks so far.
    rng = np.random.default_rng(0)
    t = np.arange(12) * 0.02 + rng.normal(0, 0.002, 12)
    loop = Loop(gains, t[0], 0.025)
    for n in range(1, 13):
        loop.update(t[n - 1])
        if n >= 2 and 2 * (2 * n - 1) / (n * (n + 1)) > gains[0]:
            slope, icpt = np.polyfit(np.arange(n), t[:n], 1)
            assert loop.period == pytest.approx(slope, abs=1e-12)
            assert loop.t1 == pytest.approx(icpt + slope * n, abs=1e-12)  # the next tick


def test_a_gap_of_two_periods_is_one_missed_tick():
    p = 0.02
    f = TickFilter(p)
    for k in range(40):
        if k not in (20, 30, 31):  # one missed, then two in a row
            f.add(k * p)
    f.flush()
    assert f.next_index == 40
    assert f.time_of_tick(45) == pytest.approx(45 * p, abs=1e-6)


def test_a_late_tick_is_held_until_the_next_ones_tell():
    # 300 BPM, a tick 4.5 ms late (over half of the 8.3 ms period): the next tick or two,
    # on time, say it was late, not the one after a missed tick.
    p = 60 / (300 * 24)
    f = TickFilter(p)
    for k in range(30):
        f.add(k * p)
    f.add(30 * p + 0.0045)
    assert f.pending  # held: it could be either
    f.add(31 * p)
    f.add(32 * p)
    f.flush()
    assert f.next_index == 33 and not f.pending
    assert f.time_of_tick(40) == pytest.approx(40 * p, abs=0.0005)


def test_one_tick_delayed_by_an_xrun_does_not_bend_the_line():
    p = 60 / (120 * 24)
    f = TickFilter(p)
    for k in range(72):
        f.add(k * p + (0.025 if k == 50 else 0.0))
    f.flush()
    assert f.next_index == 72
    assert f.time_of_tick(78) == pytest.approx(78 * p, abs=0.0005)


def test_a_wrong_period_found_as_missed_ticks_is_renumbered():
    # 300 BPM, ±5 ms: this start's first 12 ticks gave a period 6 % short, and each
    # "missed" tick then made up for it, the count running ahead of the source (29 ticks
    # after 20 beats, at 310 BPM). Missed ticks found all over while the arrivals lie on a
    # line as well without them: they are renumbered one after the other.
    p = 60 / (300 * 24)
    rng = np.random.default_rng(9)
    f = TickFilter(60 / (120 * 24))
    f.restart(0, -0.001, 60 / (120 * 24))
    for k in range(480):
        f.add(k * p + rng.uniform(-0.005, 0.005))
    f.flush()
    assert abs(f.next_index - 480) <= 3
    assert f.period == pytest.approx(p, rel=0.01)


def test_jump_renumbers_and_keeps_the_tempo():
    p = 0.02
    f = TickFilter(p)
    for k in range(48):
        f.add(k * p)
    f.jump(600)
    f.add(48 * p)
    assert f.next_index == 601
    assert f.period == pytest.approx(p, rel=1e-6)
    assert f.time_of_tick(606) == pytest.approx(54 * p, abs=1e-6)
