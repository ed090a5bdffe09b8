"""Baselines for the 512-way step event: what the LSTM must beat.

Each is fitted on the train split and has one smoothing parameter tuned on validation:
    unigram            add-k smoothed event frequencies
    n-gram (2-4)       interpolated Kneser-Ney over events, one discount for every order
    repeat-bar (1, 2)  copy the event one (two) bars back, mixed with the unigram by a smoothing
                       mass so an unseen change costs a finite NLL
    bar-context        the fair count baseline: P(event | 16th in the bar, event one bar back,
                       two bars back, previous event), Witten-Bell back-off to smaller contexts
probs(seq) gives the next-event distribution for every step of a sequence (T, 512), each
file starting from scratch, as the model does. Unigram and repeat-bar also predict velocity
and timing (class means; the hit one/two bars back), the baselines for the expression heads.
"""
from __future__ import annotations

import numpy as np

from drumd.engine.data.encoding import NUM_EVENTS
from drumd.mappings.basics.grid import STEPS_PER_BAR

BOS = NUM_EVENTS  # padding before a sequence's first step


class Unigram:
    """Add-k smoothed event frequencies over the train split (k = param); its expression guess is
    each class's mean velocity (MIDI) and offset (16th steps) over the train hits."""
    grid = (0.01, 0.1, 0.5, 1.0, 2.0)

    def __init__(self, train):
        self.name = "unigram"
        self.counts = np.bincount(np.concatenate([p.events for p in train]).astype(np.int64),
                                  minlength=NUM_EVENTS).astype(np.float64)
        self.param = self.grid[0]
        vel = np.concatenate([p.velocity for p in train]).astype(np.float64)
        off = np.concatenate([p.offset for p in train]).astype(np.float64)
        hit = vel > 0
        # Per-class means over the hits: the best constant guess of velocity and timing.
        self.class_velocity = (vel * hit).sum(0) / np.maximum(hit.sum(0), 1)
        self.class_offset = (off * hit).sum(0) / np.maximum(hit.sum(0), 1)

    def dist(self) -> np.ndarray:
        """The smoothed event distribution, shape (512,), summing to 1."""
        c = self.counts + self.param
        return c / c.sum()

    def probs(self, seq: np.ndarray) -> np.ndarray:
        """The same distribution for every step: (T, 512) for a (T,) event sequence (a read-only view)."""
        return np.broadcast_to(self.dist(), (len(seq), NUM_EVENTS))

    def expression(self, perf):
        """(velocity, offset) guesses for every step and class: each (T, 9) float64, the class means."""
        T = len(perf)
        return np.tile(self.class_velocity, (T, 1)), np.tile(self.class_offset, (T, 1))


class RepeatBar:
    """Copy the event `bars` bars (16ths of 4/4 bars) back, mixed with the unigram by the smoothing
    mass `param`, so an unseen change costs a finite NLL; expression: the hit one lag back."""
    grid = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)

    def __init__(self, bars: int, unigram: Unigram):
        self.name = f"repeat-{bars}-bar" if bars == 1 else f"repeat-{bars}-bars"
        self.lag = bars * STEPS_PER_BAR
        self.unigram = unigram
        self.param = self.grid[0]  # the mass given to the unigram

    def probs(self, seq: np.ndarray) -> np.ndarray:
        """(T, 512) for a (T,) event sequence: the unigram before the first lag, after it mass
        1 - param on the event one lag back."""
        out = np.tile(self.unigram.dist(), (len(seq), 1))
        t = np.arange(self.lag, len(seq))
        out[t] *= self.param
        out[t, np.asarray(seq[:len(t)], np.int64)] += 1.0 - self.param
        return out

    def expression(self, perf):
        """A hit one lag back gives its velocity/timing; otherwise the class mean."""
        vel, off = self.unigram.expression(perf)
        n = max(len(perf) - self.lag, 0)
        src_v = perf.velocity[:n].astype(np.float64)
        played = src_v > 0
        vel[self.lag:] = np.where(played, src_v, vel[self.lag:])
        off[self.lag:] = np.where(played, perf.offset[:n], off[self.lag:])
        return vel, off


class KneserNey:
    """Interpolated Kneser-Ney n-gram over events (Chen & Goodman 1998, one discount D):

        P_k(w|h) = (max(c_k(h,w) - D, 0) + D * N1+(h.) * P_{k-1}(w|h')) / c_k(h)

    c_k is the raw count at the top order and the continuation count (distinct left
    neighbours) below it; the recursion bottoms out in the uniform distribution. Contexts are
    stored as integer keys in sorted arrays, so a whole sequence is scored with searchsorted.
    """
    grid = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)

    def __init__(self, train, order: int):
        self.name = f"{order}-gram"
        self.order = order
        self.param = self.grid[0]
        grams = np.concatenate([self._windows(p.events) for p in train])  # (N, order)
        levels = []
        rows, counts = np.unique(grams, axis=0, return_counts=True)
        for k in range(order, 0, -1):
            levels.append(self._table(rows, counts))
            # Continuation counts of the (k-1)-grams: in how many distinct contexts they occur.
            rows, counts = np.unique(rows[:, 1:], axis=0, return_counts=True)
        self.levels = levels[::-1]  # levels[k-1] holds k-grams

    def _windows(self, events: np.ndarray) -> np.ndarray:
        padded = np.concatenate([np.full(self.order - 1, BOS), events]).astype(np.int64)
        return np.lib.stride_tricks.sliding_window_view(padded, self.order)

    @staticmethod
    def _key(ctx: np.ndarray) -> np.ndarray:
        """Integer key of each context row (base BOS+1 digits); the empty context is 0."""
        key = np.zeros(len(ctx), np.int64)
        for j in range(ctx.shape[1]):
            key = key * (BOS + 1) + ctx[:, j]
        return key

    def _table(self, rows: np.ndarray, counts: np.ndarray) -> dict:
        keys = self._key(rows[:, :-1])  # rows come sorted by context, then word
        ctx, first, n1p = np.unique(keys, return_index=True, return_counts=True)
        totals = np.add.reduceat(counts, first)
        return dict(ctx=ctx, first=first, n1p=n1p, total=totals.astype(np.float64),
                    word=rows[:, -1], count=counts.astype(np.float64))

    def probs(self, seq: np.ndarray) -> np.ndarray:
        """P(event at t | the order - 1 events before it) for every step: (T, 512) for a (T,) event
        sequence, BOS padding before its start."""
        grams = self._windows(np.asarray(seq))
        T, D = len(grams), self.param
        out = np.full((T, NUM_EVENTS), 1.0 / NUM_EVENTS)
        for k, lv in enumerate(self.levels, start=1):
            keys = self._key(grams[:, self.order - k:-1])
            i = np.minimum(np.searchsorted(lv["ctx"], keys), len(lv["ctx"]) - 1)
            seen = lv["ctx"][i] == keys
            t, i = np.flatnonzero(seen), i[seen]
            out[t] *= (D * lv["n1p"][i] / lv["total"][i])[:, None]
            # Scatter the discounted counts of each seen context's words into its row.
            n = lv["n1p"][i]
            rows = np.repeat(t, n)
            pos = np.repeat(lv["first"][i] - np.cumsum(n) + n, n) + np.arange(n.sum())
            out[rows, lv["word"][pos]] += np.maximum(lv["count"][pos] - D, 0) / lv["total"][i].repeat(n)
        return out


class BarContext:
    """The fair count baseline: the next event given what a drummer's next step depends on most,

        P(e_t | t mod 16, e_{t-16}, e_{t-32}, e_{t-1})

    (the 16th in the bar, the event one and two bars back, the previous event; BOS where the
    file has no such step), smoothed by interpolated back-off through progressively smaller
    contexts down to the unigram and then the uniform distribution:

        (pos, bar, bar2, prev) -> (pos, bar, bar2) -> (pos, bar) -> (bar) -> () -> uniform

    (the order that gave the lowest validation NLL of a few tried). Each level interpolates
    Witten-Bell style (Witten & Bell 1991; Chen & Goodman 1998, sec. 2.5):

        P_k(w|h) = (c(h,w) + beta * N1+(h.) * P_{k-1}(w|h')) / (c(h) + beta * N1+(h.))

    N1+(h.) = the number of distinct events seen after context h; a context never seen in
    training passes P_{k-1} through. beta = 1 is plain Witten-Bell; it is the one smoothing
    parameter, tuned on validation (larger beta trusts sparse contexts less).
    """
    grid = (1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0)
    CHAIN = (("pos", "bar", "bar2", "prev"), ("pos", "bar", "bar2"), ("pos", "bar"), ("bar",), ())
    RADIX = {"pos": STEPS_PER_BAR, "bar": BOS + 1, "bar2": BOS + 1, "prev": BOS + 1}

    def __init__(self, train):
        self.name = "bar-context"
        self.param = 8.0
        events = [np.asarray(p.events, np.int64) for p in train]
        contexts = [self._contexts(e) for e in events]
        word = np.concatenate(events)
        self.levels = []
        for names in self.CHAIN:  # most specific first
            key = np.concatenate([self._key(c, names) for c in contexts])
            joint, count = np.unique(key * NUM_EVENTS + word, return_counts=True)  # sorted by context, word
            ctx, first, n1p = np.unique(joint // NUM_EVENTS, return_index=True, return_counts=True)
            self.levels.append(dict(names=names, ctx=ctx, first=first, n1p=n1p,
                                    total=np.add.reduceat(count, first).astype(np.float64),
                                    word=joint % NUM_EVENTS, count=count.astype(np.float64)))

    @staticmethod
    def _contexts(events: np.ndarray) -> dict:
        T = len(events)

        def lag(k):
            out = np.full(T, BOS, np.int64)
            out[k:] = events[:max(T - k, 0)]
            return out
        return {"pos": np.arange(T) % STEPS_PER_BAR, "bar": lag(STEPS_PER_BAR),
                "bar2": lag(2 * STEPS_PER_BAR), "prev": lag(1)}

    @classmethod
    def _key(cls, contexts: dict, names) -> np.ndarray:
        """Integer key of every step's context (mixed radix); the empty context is 0."""
        key = np.zeros(len(contexts["pos"]), np.int64)
        for n in names:
            key = key * cls.RADIX[n] + contexts[n]
        return key

    def probs(self, seq: np.ndarray) -> np.ndarray:
        """P(event at t | its context, backed off) for every step: (T, 512) for a (T,) event sequence."""
        seq = np.asarray(seq, np.int64)
        contexts = self._contexts(seq)
        out = np.full((len(seq), NUM_EVENTS), 1.0 / NUM_EVENTS)
        beta = self.param
        for lv in reversed(self.levels):  # from the unigram up: out holds P_{k-1}
            keys = self._key(contexts, lv["names"])
            i = np.minimum(np.searchsorted(lv["ctx"], keys), len(lv["ctx"]) - 1)
            seen = lv["ctx"][i] == keys
            t, i = np.flatnonzero(seen), i[seen]
            n = lv["n1p"][i]
            denom = lv["total"][i] + beta * n
            out[t] *= (beta * n / denom)[:, None]
            # Scatter each seen context's counts into its row.
            rows = np.repeat(t, n)
            pos = np.repeat(lv["first"][i] - np.cumsum(n) + n, n) + np.arange(n.sum())
            out[rows, lv["word"][pos]] += lv["count"][pos] / denom.repeat(n)
        return out


def fit_baselines(train, orders=(2, 3, 4)) -> list:
    """Every baseline fitted on `train` (Performances), smoothing untuned: unigram, the Kneser-Ney
    n-grams of `orders`, repeat one and two bars, bar-context."""
    uni = Unigram(train)
    return [uni, *(KneserNey(train, n) for n in orders), RepeatBar(1, uni), RepeatBar(2, uni),
            BarContext(train)]


def mean_nll(model, perfs) -> float:
    """Mean event NLL in nats per step of `model` (anything with probs(events) -> (T, 512)) over
    `perfs`, each file scored from its start."""
    tot = n = 0
    for p in perfs:
        pr = model.probs(p.events)
        tot -= np.log(pr[np.arange(len(p)), p.events.astype(np.int64)]).sum()
        n += len(p)
    return float(tot / n)


def tune(model, validation) -> dict:
    """Set model.param to the grid value with the lowest validation NLL; the curve, for the record."""
    curve = {}
    for v in model.grid:
        model.param = v
        curve[v] = mean_nll(model, validation)
    model.param = min(curve, key=curve.get)
    return curve
