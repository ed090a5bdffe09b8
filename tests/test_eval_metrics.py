"""Scores and groove statistics on hand-made data with known answers."""
import numpy as np
import pytest

from drumd.engine.data.encoding import NUM_EVENTS
from drumd.engine.evaluation.groove_stats import (bar_autocorrelation, beat_keeping, collapse, diversity,
                                                  groove_features, has_backbeat, syncopation)
from drumd.engine.evaluation.metrics import TeacherForcedScore, compare_distributions, precision_recall_f1

from engine_fixtures import HAT, KICK, SNARE, clip, rock_bar


def test_scores_count_hits_by_hand():
    target = np.array([KICK, KICK | SNARE, 0, SNARE])
    pred = np.array([KICK, KICK, KICK, SNARE])  # certain predictions
    probs = np.zeros((4, NUM_EVENTS))
    probs[np.arange(4), pred] = 1.0
    s = TeacherForcedScore()
    s.add_events(probs, target)
    r = s.result()
    assert r["accuracy"] == 0.5
    assert r["classes"]["kick"] == pytest.approx(precision_recall_f1(2, 1, 0))  # tp 2, fp 1
    assert r["classes"]["snare"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3})
    assert precision_recall_f1(2, 1, 0)["precision"] == pytest.approx(2 / 3)
    uniform = np.full((4, NUM_EVENTS), 1 / NUM_EVENTS)
    s = TeacherForcedScore()
    s.add_events(uniform, target)
    assert s.result()["nll"] == pytest.approx(np.log(NUM_EVENTS))
    assert s.result()["perplexity"] == pytest.approx(NUM_EVENTS)


def test_expression_errors_in_midi_units_and_ms():
    s = TeacherForcedScore()
    s.add_expression([100, 60], np.array([90, 70]), [0.1, -0.1], np.array([0.0, 0.0]), np.array([125.0, 125.0]))
    r = s.result()
    assert r["velocity_mae"] == 10 and r["offset_mae_ms"] == pytest.approx(12.5)


def test_overlap_and_kl_of_distributions():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 500)
    same = compare_distributions(a, a, 0.1)
    assert same["oa"] == pytest.approx(1.0, abs=1e-9) and same["kl"] == pytest.approx(0.0, abs=1e-9)
    far = compare_distributions(a, a + 20, 0.1)
    assert far["oa"] < 0.01 and far["kl"] > 10
    assert compare_distributions(a, [], 0.1) == {"oa": 0.0, "kl": None}


@pytest.mark.parametrize("onsets,expected", [
    ([0, 4, 8, 12], 0), ([], 0), ([0], 0), ([0, 2, 8], 1), ([0, 3, 8], 2), ([2], 3), ([0, 6], 2), ([0, 14], 0),
])
def test_syncopation_of_known_patterns(onsets, expected):
    bar = np.zeros(16, bool)
    bar[onsets] = True
    assert syncopation(bar) == expected


def test_beat_keeping_of_a_rock_beat():
    c = clip(rock_bar() * 8)
    assert has_backbeat(c)
    r = beat_keeping([c], [True])
    assert r["kick_on_beat"] == 1 and r["snare_on_beat"] == 1 and r["backbeat"] == 1
    assert r["density_cv"] == 0 and r["empty_bars"] == 0
    assert r["periodicity"] == pytest.approx(1.0)
    off = clip([e if i % 16 not in (4, 12) else HAT for i, e in enumerate(rock_bar() * 8)])
    assert not has_backbeat(off) and beat_keeping([off], [True])["backbeat"] == 0
    assert bar_autocorrelation(np.ones(64)) is None


def test_groove_features_count_hits_and_intervals():
    f = groove_features([clip(rock_bar() * 2)])
    assert list(f["hits_per_bar"]) == [20, 20]
    assert list(f["density_kick"]) == [2, 2] and list(f["density_snare"]) == [2, 2]
    assert set(f["ioi"]) == {1} and list(f["syncopation"]) == [0, 0]


def test_collapse_and_diversity():
    loop = clip(rock_bar() * 8)
    silent = clip(rock_bar() * 6 + [0] * 32)
    r = collapse([loop, silent])
    assert r == {"loop": 1.0, "silence": 0.5, "collapse": 1.0}
    varied = clip([e ^ (1 << (i // 16 % 9)) if i % 16 == 1 else e for i, e in enumerate(rock_bar() * 8)])
    assert collapse([varied])["collapse"] == 0
    assert diversity([[loop, loop]]) == 0
    assert diversity([[loop, varied]]) == 1  # one class-step differs in every bar
