"""Baselines on hand-made sequences with known answers."""
import numpy as np
import pytest

from drumd.engine.baselines import KneserNey, RepeatBar, Unigram, mean_nll, tune
from drumd.engine.encoding import NUM_CLASSES, Performance


def perf(events, velocity=100):
    events = np.asarray(events, np.int16)
    bits = (events[:, None] >> np.arange(NUM_CLASSES)) & 1
    return Performance(events, (bits * velocity).astype(np.uint8), np.zeros(bits.shape, np.float32))


def test_unigram_nll_is_the_entropy_of_a_known_distribution():
    uni = Unigram([perf([0] * 30 + [1] * 10)])
    uni.param = 1e-9
    assert mean_nll(uni, [perf([0, 0, 0, 1])]) == pytest.approx(-(3 * np.log(0.75) + np.log(0.25)) / 4)
    assert uni.probs(np.zeros(5, np.int16)).sum(1) == pytest.approx(np.ones(5))


@pytest.mark.parametrize("order", [2, 3, 4])
def test_ngram_on_a_periodic_sequence_is_nearly_certain(order):
    pattern = [5, 1, 3, 1, 7, 1, 2, 1]  # two steps of context determine the next event
    seq = perf(pattern * 100)
    model = KneserNey([seq], order)
    model.param = 0.5
    p = model.probs(seq.events)
    assert p.sum(1) == pytest.approx(np.ones(len(seq)))
    nll = -np.log(p[np.arange(len(seq)), seq.events.astype(int)])[order:]
    if order >= 3:
        assert nll.mean() < 0.02
    else:  # after a 1, a bigram can only guess among three
        assert nll.mean() > 0.3
    assert (p > 0).all()  # unseen events keep some mass


def test_ngram_backs_off_for_unseen_contexts():
    model = KneserNey([perf([1, 2, 3] * 20)], 3)
    p = model.probs(np.array([9, 2, 3], np.int16))  # row t predicts step t from steps < t
    assert p.sum(1) == pytest.approx(np.ones(3))
    assert p[2].argmax() == 3  # after a 2 comes a 3, whatever came before


def test_repeat_bar_on_a_periodic_sequence():
    bar = [1, 0, 4, 0, 3, 0, 4, 0, 1, 1, 4, 0, 3, 0, 4, 2]
    seq = perf(bar * 4)
    uni = Unigram([seq])
    rb = RepeatBar(1, uni)
    rb.param = 0.01
    p = rb.probs(seq.events)
    assert p.sum(1) == pytest.approx(np.ones(len(seq)))
    nll = -np.log(p[np.arange(len(seq)), seq.events.astype(int)])
    assert nll[16:].max() < 0.011  # -log(0.99 + 0.01 u)
    assert curve_min(rb, [seq]) == 0.01  # on perfectly periodic data, the least smoothing wins


def curve_min(model, validation):
    tune(model, validation)
    return model.param


def test_repeat_bars_expression_copies_the_hit_a_bar_back():
    seq = perf([1] + [0] * 15 + [1] + [0] * 15, velocity=90)
    seq.velocity[16, 0] = 40
    rb = RepeatBar(1, Unigram([seq]))
    vel, _ = rb.expression(seq)
    assert vel[16, 0] == 90 and vel[0, 0] == pytest.approx(65)  # copy; class mean
