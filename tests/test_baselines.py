"""Baselines on hand-made sequences with known answers."""
import numpy as np
import pytest

from drumd.engine.data.encoding import NUM_CLASSES, Performance
from drumd.engine.evaluation.baselines import BarContext, KneserNey, RepeatBar, Unigram, mean_nll, tune


KICK_, SNARE_, HAT = 1, 2, 4  # event bits


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


def test_bar_context_counts_a_seen_context_and_backs_off_for_an_unseen_one():
    """Three 3-bar files: the same bar twice, then its downbeat changes (kick, kick, snare).
    The context of bar 3's downbeat (position 0, the bar and two bars back, the previous
    step) was seen three times: followed by a kick twice, a snare once."""
    base = [HAT | KICK_, 0, HAT, 0] * 4
    train = [perf(base * 2 + [d] + base[1:]) for d in (KICK_, KICK_, SNARE_)]
    m = BarContext(train)
    m.param = 1e-9  # no smoothing mass: the relative frequencies
    p = m.probs(train[0].events)
    assert p.sum(1) == pytest.approx(np.ones(len(p)))
    assert p[32, KICK_] == pytest.approx(2 / 3) and p[32, SNARE_] == pytest.approx(1 / 3)
    # An unseen previous step: the full context is new, (position, bar, two bars) is not.
    odd = train[0].events.copy()
    odd[31] = 511
    assert m.probs(odd)[32, KICK_] == pytest.approx(2 / 3)
    # With smoothing, a seen context gives mass to its back-off, (position, bar) and below,
    # where the downbeat was mostly hat + kick: both of its own events lose some.
    m.param = 1.0
    q = m.probs(train[0].events)
    assert q[32, SNARE_] < 1 / 3 and q[32, KICK_] < 2 / 3 and q[32, HAT | KICK_] > 0.05
    assert q[32].sum() == pytest.approx(1)
    assert (q > 0).all()  # every event keeps some mass through the uniform floor


def test_bar_context_matches_a_naive_witten_bell():
    rng = np.random.default_rng(0)
    train = [perf(rng.choice([0, 1, 4, 5, 6], size=n)) for n in (40, 70, 55)]
    test = perf(rng.choice([0, 1, 4, 5, 2], size=50))
    m = BarContext(train)
    m.param = 2.0
    counts = [dict() for _ in m.CHAIN]
    for p in train:
        for t, w in enumerate(p.events.tolist()):
            for lv, names in enumerate(m.CHAIN):
                c = counts[lv].setdefault(naive_context(p.events, t, names), {})
                c[w] = c.get(w, 0) + 1

    def prob(seq, t, w, lv=0):
        if lv == len(m.CHAIN):
            return 1 / 512
        lower = prob(seq, t, w, lv + 1)
        c = counts[lv].get(naive_context(seq, t, m.CHAIN[lv]))
        if not c:
            return lower
        total, n1p = sum(c.values()), len(c)
        return (c.get(w, 0) + m.param * n1p * lower) / (total + m.param * n1p)

    got = m.probs(test.events)
    for t in range(len(test)):
        for w in (0, 1, 2, 4, 5, 6, 300):
            assert got[t, w] == pytest.approx(prob(test.events, t, w), rel=1e-9)


def naive_context(seq, t, names):
    lag = lambda k: int(seq[t - k]) if t >= k else 512
    return tuple({"pos": t % 16, "bar": lag(16), "bar2": lag(32), "prev": lag(1)}[n] for n in names)
