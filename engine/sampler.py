"""The stateful step API shared by `drumd generate` and the daemon.

    s = Sampler(load_checkpoint(None), seed=1)
    s.reset(primer=steps, style="funk", bpm=100, step_index=32)
    step = s.step(Controls(temperature=0.9))          # sample one 16th step
    step = s.step(Controls(), observed=player_step)   # or take a live player's hits instead

The LSTM runs in numpy on weights copied out of the checkpoint: at batch 1 that is 2-3x faster
than torch eager and never touches torch's thread pool (see ../shared/reference/realtime.md).
Time and memory per step are constant: the state is the LSTM state plus a 32-step ring buffer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drumd.engine.checkpoint import Checkpoint, CheckpointError
from drumd.engine.encoding import (CLASS_PITCH, NUM_CLASSES, NUM_EVENTS, OFFSET_BINS,
                                   PITCH_TO_CLASS, VELOCITY_BINS, Hit, Step, bin_to_offset,
                                   bin_to_velocity, event_bits)
from drumd.engine.features import HITS_PER_EVENT, History

EVENT_BITS = event_bits(np.arange(NUM_EVENTS)).astype(bool)  # (512, 9)


@dataclass(frozen=True)
class Controls:
    """Live controls, read once per step."""
    temperature: float = 1.0
    top_p: float = 1.0             # nucleus sampling: keep the smallest set of events with this mass
    density: float = 0.0           # logit bias per hit: > 0 busier, < 0 sparser
    mute: frozenset = frozenset()  # class indices never to play
    fill: bool = False             # ask for a fill (the model was trained with a fill flag)
    style: str | None = None       # switch style; None keeps the one given to reset()
    quantize: float = 0.0          # 0 = the model's timing, 1 = on the grid


class _NumpyLSTM:
    """Inference-only copy of DrumLSTM for batch 1, one step at a time.

    The embedding parts of the first layer's input are folded into lookup tables, so a step
    is a few small matrix-vector products.
    """

    def __init__(self, ckpt: Checkpoint):
        m = ckpt.model
        sd = {k: v.detach().float().numpy() for k, v in m.state_dict().items()}  # float32: half the memory traffic
        cfg = m.cfg
        self.layers, self.hidden = cfg.layers, cfg.hidden
        w0 = sd["lstm.weight_ih_l0"]
        E, S = cfg.event_embed, cfg.style_embed
        n_look = NUM_CLASSES * len(cfg.lookback)
        # Column layout of the first layer input, as in DrumLSTM.features.
        c = np.cumsum([0, E, NUM_CLASSES, NUM_CLASSES, n_look, 6, 1, S, 1, 4])
        self.event_table = sd["event_emb.weight"] @ w0[:, c[0]:c[1]].T        # (513, 4H)
        self.style_table = sd["style_emb.weight"] @ w0[:, c[6]:c[7]].T        # (n_styles, 4H)
        self.tempo_table = sd["tempo_emb.weight"] @ w0[:, c[8]:c[9]].T        # (buckets, 4H)
        self.w_dense = np.concatenate([w0[:, c[1]:c[6]], w0[:, c[7]:c[8]]], axis=1)
        self.w_ih = [None] + [sd[f"lstm.weight_ih_l{i}"] for i in range(1, cfg.layers)]
        self.w_hh = [sd[f"lstm.weight_hh_l{i}"] for i in range(cfg.layers)]
        self.b = [sd[f"lstm.bias_ih_l{i}"] + sd[f"lstm.bias_hh_l{i}"] for i in range(cfg.layers)]
        self.w_ev, self.b_ev = sd["event_head.weight"], sd["event_head.bias"]
        self.w_x1, self.b_x1 = sd["expr_head.0.weight"], sd["expr_head.0.bias"]
        self.w_x2, self.b_x2 = sd["expr_head.2.weight"], sd["expr_head.2.bias"]

    def zero_state(self):
        zeros = lambda: [np.zeros(self.hidden, np.float32) for _ in range(self.layers)]
        return zeros(), zeros()

    def step(self, f: dict, state):
        """One LSTM step from a History.features() dict; returns the top hidden vector."""
        hs, cs = state
        dense = np.concatenate([f["prev_velocity"], f["prev_offset"], f["lookback"], f["position"],
                                f["density"], f["fill"]]).astype(np.float32)
        x_gates = (self.event_table[f["prev_event"]] + self.style_table[f["style"]]
                   + self.tempo_table[f["tempo"]] + self.w_dense @ dense)
        H = self.hidden
        x = None
        for i in range(self.layers):
            g = (x_gates if i == 0 else self.w_ih[i] @ x) + self.w_hh[i] @ hs[i] + self.b[i]
            ig, fg, gg, og = g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
            cs[i] = _sigmoid(fg) * cs[i] + _sigmoid(ig) * np.tanh(gg)
            hs[i] = _sigmoid(og) * np.tanh(cs[i])
            x = hs[i]
        return x

    def event_logits(self, h):
        return self.w_ev @ h + self.b_ev

    def expression_logits(self, h, bits):
        z = np.tanh(self.w_x1 @ np.concatenate([h, bits]) + self.b_x1)
        out = self.w_x2 @ z + self.b_x2
        n = NUM_CLASSES * VELOCITY_BINS
        return out[:n].reshape(NUM_CLASSES, VELOCITY_BINS), out[n:].reshape(NUM_CLASSES, OFFSET_BINS)


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free logistic


def _sample(logits: np.ndarray, temperature: float, top_p: float, u: float) -> int:
    z = logits / max(temperature, 1e-3)
    z = z - z.max()
    p = np.exp(z)
    if top_p < 1.0:
        order = np.argsort(-p)
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p * cum[-1])) + 1]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q
    cdf = np.cumsum(p)
    return int(min(np.searchsorted(cdf, u * cdf[-1], side="right"), len(p) - 1))


def _sample_rows(logits: np.ndarray, temperature: float, u: np.ndarray) -> np.ndarray:
    """One categorical draw per row (the hit classes' velocity or timing bins), vectorised."""
    z = logits / temperature
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    return np.minimum((cdf < u[:, None] * cdf[:, -1:]).sum(axis=1), logits.shape[1] - 1)


class Sampler:
    def __init__(self, ckpt: Checkpoint, seed: int | None = None):
        self.ckpt = ckpt
        self.net = _NumpyLSTM(ckpt)
        self.rng = np.random.default_rng(seed)
        self.reset()

    @property
    def styles(self) -> list[str]:
        return self.ckpt.styles

    def reset(self, primer=(), style: str | None = None, bpm: float = 120.0, step_index: int = 0) -> None:
        """Start over. The primer's steps are fed as if played, its last step just before
        `step_index` (the song position of the next step, in 16ths: it sets the bar phase)."""
        self.style = self.ckpt.style_index(style) if style else self.ckpt.style_index(self._default_style())
        self.bpm = float(bpm)
        self.state = self.net.zero_state()
        self.history = History(self.ckpt.config.lookback)
        primer = list(primer)
        self.position = step_index - len(primer)
        for s in primer:
            self.step(Controls(), observed=s)

    def _default_style(self) -> str:
        return "rock" if "rock" in self.ckpt.styles else self.ckpt.styles[0]

    def step(self, controls: Controls = Controls(), observed: Step | None = None) -> Step:
        """Advance one 16th step: sample it, or take `observed` (a player's hits, GM) instead."""
        style = self.style if controls.style is None else self.ckpt.style_index(controls.style)
        f = self.history.features(self.position, style, controls.fill, self.bpm)
        h = self.net.step(f, self.state)
        if observed is not None:
            event, vel, off = _arrays_of(observed.hits)
            out = observed
        else:
            event, vel, off = self._sample_step(h, controls)
            out = Step(tuple(Hit(CLASS_PITCH[c], int(vel[c]), float(off[c]) * (1.0 - controls.quantize))
                             for c in np.flatnonzero(EVENT_BITS[event])))
        self.history.push(event, vel, off)
        self.position += 1
        return out

    def amend_last(self, hits) -> None:
        """Merge hits a player made during the step just returned into what the model saw,
        before the next step is computed (accompaniment: the step was computed one ahead)."""
        if not hits or self.history.t == 0:
            return
        i = (self.history.t - 1) % self.history.size
        ev, vel, off = _arrays_of(hits)
        louder = vel > self.history.velocity[i]
        old_event = int(self.history.events[i])
        self.history.velocity[i] = np.where(louder, vel, self.history.velocity[i])
        self.history.offset[i] = np.where(louder, off, self.history.offset[i])
        self.history.events[i] = old_event | ev
        self.history.hits_in_window += HITS_PER_EVENT[old_event | ev] - HITS_PER_EVENT[old_event]

    def _sample_step(self, h, c: Controls):
        logits = self.net.event_logits(h)
        if c.density:
            logits = logits + c.density * HITS_PER_EVENT
        if c.mute:
            muted = EVENT_BITS[:, sorted(c.mute)].any(axis=1)
            logits = np.where(muted, -np.inf, logits)
        u = self.rng.random(1 + 2 * NUM_CLASSES)
        event = _sample(logits, c.temperature, c.top_p, u[0])
        bits = EVENT_BITS[event]
        vel = np.zeros(NUM_CLASSES, np.float32)
        off = np.zeros(NUM_CLASSES, np.float32)
        if event:
            vl, ol = self.net.expression_logits(h, bits.astype(np.float32))
            k = np.flatnonzero(bits)
            t = min(max(c.temperature, 0.5), 1.5)  # keep dynamics and feel human at any temperature
            jit = self.rng.random((2, len(k)))
            vel[k] = bin_to_velocity(_sample_rows(vl[k], t, u[1:1 + len(k)]), jit[0])
            off[k] = bin_to_offset(_sample_rows(ol[k], t, u[1 + NUM_CLASSES:1 + NUM_CLASSES + len(k)]), jit[1])
        return event, vel, off


def _arrays_of(hits):
    """(event, velocity[9], offset[9]) of GM hits; the loudest hit per class wins."""
    event = 0
    vel = np.zeros(NUM_CLASSES, np.float32)
    off = np.zeros(NUM_CLASSES, np.float32)
    for hit in hits:
        c = PITCH_TO_CLASS.get(hit.pitch)
        if c is None or hit.velocity <= 0:
            continue
        event |= 1 << c
        if hit.velocity > vel[c]:
            vel[c] = min(hit.velocity, 127)
            off[c] = min(max(hit.offset, -0.5), 0.5 - 1e-6)
    return event, vel, off


__all__ = ["Sampler", "Controls", "CheckpointError"]
