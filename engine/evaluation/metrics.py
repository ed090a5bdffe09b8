"""Scores shared by the model and the baselines: teacher-forced event/expression scores
accumulated chunk by chunk, the overlap/divergence of two sets of feature values, and the
classifier two-sample test of two sets of windows.

Per-class hits are decided from the event distribution's *marginals* (class c is predicted
to hit when P(bit c) > 0.5): the per-class Bayes decision. The argmax event is scored too
(event accuracy), but as a hit detector it is conservative: an empty step is often the single
most likely event even when a hi-hat is more likely than not.
"""
from __future__ import annotations

import math

import numpy as np

from drumd.engine.data.encoding import (CLASS_NAMES, NUM_CLASSES, NUM_EVENTS, OFFSET_BINS,
                                        VELOCITY_BINS, bin_to_offset, bin_to_velocity, event_bits)

EVENT_BITS = event_bits(np.arange(NUM_EVENTS))               # (512, 9) float 0/1
VELOCITY_CENTRES = bin_to_velocity(np.arange(VELOCITY_BINS)).astype(np.float64)  # MIDI units
OFFSET_CENTRES = bin_to_offset(np.arange(OFFSET_BINS)).astype(np.float64)        # steps


class TeacherForcedScore:
    """Accumulates scores over chunks of steps; result() gives the totals as plain floats."""

    def __init__(self):
        self.nll = 0.0
        self.steps = 0
        self.correct = 0
        self.tp = np.zeros(NUM_CLASSES)
        self.fp = np.zeros(NUM_CLASSES)
        self.fn = np.zeros(NUM_CLASSES)
        self.vel_err = self.off_err_ms = 0.0
        self.hits = 0

    def add_events(self, probs: np.ndarray, target: np.ndarray) -> None:
        """probs (N, 512) rows summing to 1; target (N,) event indices."""
        target = np.asarray(target, np.int64)
        p = probs[np.arange(len(target)), target]
        self.nll -= float(np.log(np.maximum(p, 1e-30)).sum())
        self.steps += len(target)
        self.correct += int((probs.argmax(-1) == target).sum())
        pred = probs @ EVENT_BITS > 0.5
        true = EVENT_BITS[target] > 0.5
        self.tp += (pred & true).sum(0)
        self.fp += (pred & ~true).sum(0)
        self.fn += (~pred & true).sum(0)

    def add_expression(self, vel_pred, vel_true, off_pred, off_true, ms_per_step) -> None:
        """Velocity (MIDI units) and offset (steps) predictions for true hits, flat arrays."""
        self.vel_err += float(np.abs(np.asarray(vel_pred) - vel_true).sum())
        self.off_err_ms += float((np.abs(np.asarray(off_pred) - off_true) * ms_per_step).sum())
        self.hits += len(vel_true)

    def result(self) -> dict:
        """{"nll" (nats per step), "perplexity", "accuracy" (argmax event), "steps", "classes": {name:
        precision, recall, f1}, "mean_f1"}, and with expression added "velocity_mae" (MIDI units)
        and "offset_mae_ms"."""
        nll = self.nll / max(self.steps, 1)
        out = {"nll": nll, "perplexity": math.exp(nll), "accuracy": self.correct / max(self.steps, 1),
               "steps": self.steps, "classes": {}}
        for c, name in enumerate(CLASS_NAMES):
            out["classes"][name] = precision_recall_f1(self.tp[c], self.fp[c], self.fn[c])
        out["mean_f1"] = float(np.mean([v["f1"] for v in out["classes"].values()]))
        if self.hits:
            out["velocity_mae"] = self.vel_err / self.hits
            out["offset_mae_ms"] = self.off_err_ms / self.hits
        return out


def precision_recall_f1(tp: float, fp: float, fn: float) -> dict:
    """Undefined ratios (nothing predicted / nothing to find) count as 0."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def expected_velocity(vel_logits: np.ndarray) -> np.ndarray:
    """Mean of the velocity bins' centres under softmax(logits), (..., VELOCITY_BINS) -> (...)."""
    return _softmax(vel_logits) @ VELOCITY_CENTRES


def expected_offset(off_logits: np.ndarray) -> np.ndarray:
    """Mean of the offset bins' centres (16th steps) under softmax(logits), (..., OFFSET_BINS) -> (...)."""
    return _softmax(off_logits) @ OFFSET_CENTRES


def _softmax(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def kde(values: np.ndarray, grid: np.ndarray, min_bandwidth: float) -> np.ndarray:
    """Gaussian kernel density on a grid (Silverman's bandwidth, floored so integer-valued or
    constant features still give a smooth density), normalised to integrate to 1 on the grid."""
    v = np.asarray(values, np.float64)
    bw = max(1.06 * v.std() * len(v) ** -0.2, min_bandwidth)
    d = np.exp(-0.5 * ((grid[:, None] - v[None]) / bw) ** 2).sum(1)
    return d / (d.sum() * (grid[1] - grid[0]))


def compare_distributions(real, generated, min_bandwidth: float, points: int = 256) -> dict:
    """Overlapping area (1 = same distribution) and KL(real || generated) in nats of the two
    sets' kernel densities, as in Yang & Lerch (2018). KL is None when a set is empty."""
    real, gen = np.asarray(real, np.float64).ravel(), np.asarray(generated, np.float64).ravel()
    if not len(real) or not len(gen):
        return {"oa": 0.0 if len(real) or len(gen) else 1.0, "kl": None}
    both = np.concatenate([real, gen])
    pad = 4 * max(min_bandwidth, both.std())
    grid = np.linspace(both.min() - pad, both.max() + pad, points)
    dx = grid[1] - grid[0]
    p, q = kde(real, grid, min_bandwidth), kde(gen, grid, min_bandwidth)
    oa = float(np.minimum(p, q).sum() * dx)
    tiny = 1e-12
    kl = float((p * np.log((p + tiny) / (q + tiny))).sum() * dx)
    return {"oa": min(oa, 1.0), "kl": max(kl, 0.0)}


C2ST_LOGISTIC_L2 = 1e-2   # ridge penalty of the logistic regression (standardised features)
C2ST_MLP_HIDDEN = 32
C2ST_MLP_EPOCHS = 150     # full-batch AdamW steps


def c2st(real, generated, real_groups=None, generated_groups=None, folds: int = 5,
         seed: int = 0) -> dict:
    """Classifier two-sample test (Lopez-Paz & Oquab, "Revisiting Classifier Two-Sample Tests",
    ICLR 2017): how well a classifier tells the two samples apart on data it was not fitted on.

    real, generated: (n, ...) and (m, ...) arrays of windows (flattened to feature vectors).
    *_groups: (n,) / (m,) ids of the source each window comes from (a run, a file, a set of
    files playing one groove); windows of one group are never split between fitting and
    testing (else a classifier recognising a source's own groove would score above chance even
    between samples of one distribution). None: every window is its own group.

    The larger sample is subsampled (seeded) to the size of the smaller, so chance is 0.5.
    Folds are grouped and stratified: each class's groups are dealt to the folds, largest
    first, each to the fold holding fewest windows of that class; with fewer than `folds`
    groups in a class, folds = that number (at least 2, else windows are folded one by one).
    Two classifiers on standardised features (statistics of the fitting folds): an L2
    logistic regression (LBFGS) and a one-hidden-layer MLP (AdamW); each is scored by its
    held-out accuracy over all windows, and the stronger one's is the test's result (the
    larger of two estimates: a little above 0.5 on average when the samples do not differ).

    Returns {"accuracy": 0.5 = cannot tell ... 1 = always tells, "classifier": which one,
    "logistic", "mlp": each one's accuracy, "windows_per_class", "folds", "grouped"};
    accuracy None when a sample has fewer than 2 windows.
    """
    import torch  # only the test needs it
    flat = lambda a: np.asarray(a, np.float32).reshape(len(a), -1) if len(a) else np.zeros((0, 1), np.float32)
    real, generated = flat(real), flat(generated)
    rg = np.arange(len(real)) if real_groups is None else np.asarray(real_groups)
    gg = np.arange(len(generated)) if generated_groups is None else np.asarray(generated_groups)
    rng = np.random.default_rng(seed)
    k = min(len(real), len(generated))
    out = {"accuracy": None, "classifier": None, "logistic": None, "mlp": None,
           "windows_per_class": int(k), "folds": 0, "grouped": False}
    if k < 2:
        return out
    ri = np.sort(rng.choice(len(real), k, replace=False))
    gi = np.sort(rng.choice(len(generated), k, replace=False))
    x = np.concatenate([real[ri], generated[gi]])
    y = np.concatenate([np.zeros(k), np.ones(k)]).astype(np.float32)
    groups = [rg[ri], gg[gi]]
    n_groups = min(len(np.unique(g)) for g in groups)
    grouped = n_groups >= 2
    if not grouped:
        groups = [np.arange(k), np.arange(k)]
    folds = max(2, min(folds, n_groups if grouped else k))
    fold = np.concatenate([_deal(g, folds, rng) for g in groups])
    correct = {"logistic": 0, "mlp": 0}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small problems: extra threads only contend with other work
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for f in range(folds):
                test, fit = fold == f, fold != f
                if not test.any() or len(np.unique(y[fit])) < 2:
                    continue
                mu, sd = x[fit].mean(0), x[fit].std(0)
                sd[sd < 1e-6] = 1.0
                xf = torch.from_numpy((x[fit] - mu) / sd)
                xt = torch.from_numpy((x[test] - mu) / sd)
                yf = torch.from_numpy(y[fit])
                for name, fit_fn in (("logistic", _fit_logistic), ("mlp", _fit_mlp)):
                    model = fit_fn(xf, yf)
                    with torch.no_grad():
                        pred = (model(xt).squeeze(-1) > 0).numpy()
                    correct[name] += int((pred == (y[test] > 0.5)).sum())
    finally:
        torch.set_num_threads(threads)
    acc = {name: c / (2 * k) for name, c in correct.items()}
    best = max(acc, key=acc.get)
    return {**out, "accuracy": acc[best], "classifier": best, **acc, "folds": folds, "grouped": grouped}


def _deal(groups: np.ndarray, folds: int, rng) -> np.ndarray:
    """Fold of every window: whole groups, largest first (ties in random order), each to the
    fold with the fewest windows so far."""
    ids, sizes = np.unique(groups, return_counts=True)
    order = rng.permutation(len(ids))
    order = order[np.argsort(-sizes[order], kind="stable")]
    load = np.zeros(folds)
    fold_of = {}
    for i in order:
        f = int(np.argmin(load))
        fold_of[ids[i]] = f
        load[f] += sizes[i]
    return np.array([fold_of[g] for g in groups], np.int64)


def _fit_logistic(x, y):
    import torch
    model = torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.LBFGS(model.parameters(), max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(-1), y)
        loss = loss + 0.5 * C2ST_LOGISTIC_L2 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return model


def _fit_mlp(x, y):
    import torch
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], C2ST_MLP_HIDDEN), torch.nn.ReLU(),
                                torch.nn.Dropout(0.2), torch.nn.Linear(C2ST_MLP_HIDDEN, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    for _ in range(C2ST_MLP_EPOCHS):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(-1), y).backward()
        opt.step()
    model.eval()
    return model
