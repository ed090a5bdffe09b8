"""Listener metrics and the classifier two-sample test on hand-made grooves with known answers."""
import numpy as np
import pytest

from drumd.engine.data.encoding import NUM_CLASSES
from drumd.engine.evaluation.groove_stats import (backbeat_share, bar_lag_pairs, bar_lag_r, drift,
                                                  groove_similarity, groove_template, hits_per_bar,
                                                  listener_stats, window_features, windows)
from drumd.engine.evaluation.metrics import _deal, c2st

from engine_fixtures import HAT, KICK, SNARE, clip, rock_bar

K, S, H = 0, 1, 2           # class indices


def repeated(bars: int, rng):
    """A rock bar with its own accents and push/lay-back, repeated exactly."""
    vel = np.tile(rng.integers(30, 127, (16, NUM_CLASSES)), (bars, 1))
    off = np.tile(rng.uniform(-0.4, 0.4, (16, NUM_CLASSES)), (bars, 1))
    return clip(rock_bar() * bars, vel, off)


def test_a_bar_repeated_exactly_repeats_its_feel_keeps_its_backbeat_and_does_not_drift():
    c = repeated(16, np.random.default_rng(0))
    assert hits_per_bar([c]) == 20
    assert backbeat_share([c]) == 1.0
    assert bar_lag_r([c], "velocity") == pytest.approx(1.0)
    assert bar_lag_r([c], "offset") == pytest.approx(1.0)
    assert bar_lag_r([c], "velocity", within=True) == pytest.approx(1.0)
    # Any yardstick: the last quarter is exactly as similar to it as the first.
    assert drift([c], groove_template([c])) == pytest.approx(1.0)
    assert drift([c], groove_template([clip([HAT] * 16)])) == pytest.approx(1.0)
    st = listener_stats([c], groove_template([c]))
    assert st["backbeat_first_quarter"] == st["backbeat_last_quarter"] == 1.0 and st["bars"] == 16


def test_independent_velocities_and_offsets_do_not_correlate():
    rng = np.random.default_rng(1)
    T = 16 * 200
    c = clip(rock_bar() * 200, rng.integers(1, 128, (T, NUM_CLASSES)), rng.uniform(-0.5, 0.5, (T, NUM_CLASSES)))
    assert abs(bar_lag_r([c], "velocity")) < 0.05
    assert abs(bar_lag_r([c], "offset")) < 0.05


def test_pooled_r_sees_class_levels_within_r_does_not():
    """Kick always 120, hat always 40: the pooled pairs correlate through the class levels
    alone; within each class nothing varies, so there is nothing to correlate."""
    vel = np.zeros((64, NUM_CLASSES))
    vel[:, K], vel[:, H] = 120, 40
    c = clip([KICK | HAT if i % 4 == 0 else HAT for i in range(64)], vel)
    assert bar_lag_r([c], "velocity") == pytest.approx(1.0)
    assert bar_lag_r([c], "velocity", within=True) is None


def test_pairs_only_where_the_same_drum_hit_a_bar_earlier():
    ev = [0] * 32
    ev[0], ev[16] = KICK, KICK | SNARE  # kick in both bars, snare only in the second
    ev[5] = HAT                          # a hat with no partner
    vel = np.zeros((32, NUM_CLASSES))
    vel[0, K], vel[16, K], vel[16, S], vel[5, H] = 50, 90, 70, 60
    now, before, cls = bar_lag_pairs(clip(ev, vel), "velocity")
    assert list(now) == [90] and list(before) == [50] and list(cls) == [K]
    assert bar_lag_r([clip(ev, vel)]) is None  # one pair: no correlation


def test_hits_per_bar_counts_every_class_step_and_ignores_a_partial_bar():
    bar1 = [KICK | SNARE | HAT] + [0] * 15          # 3 hits
    bar2 = [HAT] * 4 + [0] * 12                      # 4 hits
    tail = [KICK] * 8                                # half a bar: ignored
    assert hits_per_bar([clip(bar1 + bar2 + tail)]) == 3.5
    assert hits_per_bar([clip(bar1), clip(bar2 * 3)]) == pytest.approx((3 + 12) / 4)
    assert hits_per_bar([clip([KICK] * 8)]) is None


def test_backbeat_needs_snare_on_both_2_and_4():
    both = rock_bar()
    only_2 = [e & ~SNARE if i == 12 else e for i, e in enumerate(rock_bar())]
    late = [e & ~SNARE if i in (4, 12) else e | (SNARE if i in (5, 13) else 0) for i, e in enumerate(rock_bar())]
    assert backbeat_share([clip(both * 2 + only_2 + late)]) == 0.5
    assert backbeat_share([clip(only_2 * 4)]) == 0.0


def test_drift_of_a_groove_that_loses_its_kick_and_snare():
    """8 bars, quarters of 2: rock, rock ..., then hats only. Against the rock bar itself the
    first quarter scores 1 and the last 16 / 20 (hats shared, kick and snare missing)."""
    c = clip(rock_bar() * 6 + [HAT] * 32)
    template = groove_template([clip(rock_bar())])
    assert groove_similarity(template, template) == 1.0
    assert drift([c], template) == pytest.approx(16 / 20)
    assert drift([clip(rock_bar() * 3)], template) is None  # under 4 bars: no quarters
    assert drift([clip(rock_bar() * 3)], template, min_bars=0) is None
    # Two clips: the mean last-quarter similarity over the mean first-quarter one.
    assert drift([c, clip(rock_bar() * 8)], template) == pytest.approx((0.8 + 1) / 2)


def test_windows_and_their_features():
    c = repeated(6, np.random.default_rng(2))
    w = windows(c)
    assert w.shape == (3, 64, 27)  # starts on bars 1, 2, 3
    assert (w[1] == w[0]).all()     # the clip repeats one bar
    assert w[0, 4, S] == 1 and w[0, 4, 9 + S] == pytest.approx(c.velocity[4, S] / 127)
    assert windows(clip(rock_bar() * 3)).shape == (0, 64, 27)
    f = window_features(w)
    assert f.shape == (3, 869)
    summary = f[0, -5:]
    assert summary[0] == 20 and summary[1] == 0 and summary[2] == 0 and summary[3] == 1 and summary[4] == 0


def _sample(rng, n, density):
    hits = rng.random((n, 64, NUM_CLASSES)) < density
    vel = hits * rng.uniform(0.3, 1.0, hits.shape)
    off = hits * rng.uniform(-0.2, 0.2, hits.shape)
    return np.concatenate([hits, vel, off], -1).astype(np.float32)


def test_c2st_cannot_tell_one_distribution_from_itself():
    rng = np.random.default_rng(3)
    a, b = _sample(rng, 160, 0.2), _sample(rng, 160, 0.2)
    groups = np.arange(160) // 8
    r = c2st(window_features(a), window_features(b), groups, groups, seed=0)
    assert r["accuracy"] < 0.65 and r["grouped"] and r["folds"] == 5 and r["windows_per_class"] == 160


def test_c2st_tells_dense_from_sparse():
    rng = np.random.default_rng(4)
    r = c2st(window_features(_sample(rng, 160, 0.3)), window_features(_sample(rng, 100, 0.1)), seed=0)
    assert r["accuracy"] > 0.9 and r["windows_per_class"] == 100  # balanced: the larger subsampled
    assert c2st(np.zeros((1, 5)), np.zeros((10, 5)))["accuracy"] is None


def test_c2st_folds_keep_groups_whole_and_balanced():
    groups = np.repeat(np.arange(10), [9, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    fold = _deal(groups, 3, np.random.default_rng(0))
    for g in np.unique(groups):
        assert len(set(fold[groups == g])) == 1
    assert sorted(np.bincount(fold)) == [4, 5, 9]  # the big group alone; the rest shared out
