"""Scores shared by the model and the baselines: teacher-forced event/expression scores
accumulated chunk by chunk, and the overlap/divergence of two sets of feature values.

Per-class hits are decided from the event distribution's *marginals* (class c is predicted
to hit when P(bit c) > 0.5): the per-class Bayes decision. The argmax event is scored too
(event accuracy), but as a hit detector it is conservative: an empty step is often the single
most likely event even when a hi-hat is more likely than not.
"""
from __future__ import annotations

import math

import numpy as np

from drumd.engine.encoding import (CLASS_NAMES, NUM_CLASSES, NUM_EVENTS, OFFSET_BINS,
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
