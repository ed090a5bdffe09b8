"""The step model: an LSTM over 16th steps with event, velocity and microtiming heads.

Input at step t (predicting step t): the previous step (its event, velocities and offsets), what
each drum played one and two bars (of the performance's meter) back (lookback, as in Magenta's lookback_rnn: it is what lets an
LSTM keep a beat; here with the velocity and offset of those hits too, so accents and push/lay-back
recur as a drummer's do), the position counter (16th in the bar, bar), the meter, and conditioning (style, fill, tempo bucket,
recent density, and the performance's dynamic level: the mean velocity of recent hits).

The expression head also sees the lookback velocities and offsets directly (a skip path past the
LSTM), so "this hat was accented one bar ago" reaches the velocity of this hat in one layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from drumd.engine.data.encoding import NUM_CLASSES, NUM_EVENTS, OFFSET_BINS, VELOCITY_BINS
# The shape and input layout live in modelspec (no torch: the player needs them without it).
from drumd.engine.model.spec import (BOS, DENSE_KEYS, DENSITY_WINDOW, EXPRESSION_KEYS, METER_KEY,  # noqa: F401
                                     TEMPO_EDGES, TEMPO_EMBED, ModelConfig, dense_width,
                                     expression_width, lstm_input_width, tempo_bucket)


@dataclass
class StepInputs:
    """Model inputs for a batch of sequences, each tensor shaped (B, T, ...)."""
    prev_event: torch.Tensor     # (B,T) long, BOS at sequence start
    prev_velocity: torch.Tensor  # (B,T,9) float in [0,1]
    prev_offset: torch.Tensor    # (B,T,9) float in [-0.5,0.5)
    lookback: torch.Tensor       # (B,T,9*len(lookback)) 0/1
    lookback_velocity: torch.Tensor  # (B,T,9*len(lookback)) velocity/127 there, 0 = no hit
    lookback_offset: torch.Tensor    # (B,T,9*len(lookback)) offset in steps there
    position: torch.Tensor       # (B,T,6) ±1
    density: torch.Tensor        # (B,T,1) recent hits per step
    level: torch.Tensor          # (B,T,1) mean velocity/127 of the hits in the density window
    style: torch.Tensor          # (B,T) long
    fill: torch.Tensor           # (B,T,1) 0/1
    tempo: torch.Tensor          # (B,T) long bucket
    meter: torch.Tensor          # (B,T,METER_INPUTS) 0/1 (encoding.meter_bits): all 0 in 4/4


def expression_context(x) -> torch.Tensor:
    """(B,T,expression_width) from StepInputs."""
    return torch.cat([getattr(x, k) for k in EXPRESSION_KEYS], dim=-1)


class DrumLSTM(nn.Module):
    """The torch step model (training, eval): embeddings and dense inputs into a stacked LSTM
    (Hochreiter & Schmidhuber 1997, torch.nn.LSTM), a 512-way event head and a per-class velocity
    and offset bin head. Layer sizes from ModelConfig; weight names and shapes: spec.weight_shapes."""
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.event_emb = nn.Embedding(NUM_EVENTS + 1, cfg.event_embed)
        self.style_emb = nn.Embedding(cfg.n_styles, cfg.style_embed)
        self.tempo_emb = nn.Embedding(len(TEMPO_EDGES) + 1, TEMPO_EMBED)
        n_in = lstm_input_width(cfg)
        self.lstm = nn.LSTM(n_in, cfg.hidden, cfg.layers, batch_first=True,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.event_head = nn.Linear(cfg.hidden, NUM_EVENTS)
        # Velocity/timing are predicted knowing which classes hit, so a flam or an accent
        # pattern stays coherent within the step.
        self.expr_head = nn.Sequential(
            nn.Linear(cfg.hidden + NUM_CLASSES + expression_width(cfg), cfg.head_hidden), nn.Tanh(),
            nn.Linear(cfg.head_hidden, NUM_CLASSES * (VELOCITY_BINS + OFFSET_BINS)))

    def features(self, x: StepInputs) -> torch.Tensor:
        """The LSTM's input: event embedding, the dense part (in DENSE_KEYS order), style, tempo,
        meter inputs."""
        return torch.cat([self.event_emb(x.prev_event), *(getattr(x, k) for k in DENSE_KEYS),
                          self.style_emb(x.style), self.tempo_emb(x.tempo), getattr(x, METER_KEY)], dim=-1)

    def forward(self, x: StepInputs, bits: torch.Tensor, state=None):
        """Teacher-forced pass: (event logits, velocity logits, offset logits, state).

        bits (B,T,9) are the hits of the predicted step (known when training)."""
        h, state = self.lstm(self.features(x), state)
        h = self.drop(h)
        vel, off = self.expression_logits(h, bits, expression_context(x))
        return self.event_head(h), vel, off, state

    def expression_logits(self, h: torch.Tensor, bits: torch.Tensor, context: torch.Tensor):
        """Velocity and offset bin logits per class given the step's hit bits and the
        expression context (expression_context: lookback velocities/offsets, level):
        shapes (..., 9, VELOCITY_BINS) and (..., 9, OFFSET_BINS)."""
        out = self.expr_head(torch.cat([h, bits, context], dim=-1))
        vel, off = out.split([NUM_CLASSES * VELOCITY_BINS, NUM_CLASSES * OFFSET_BINS], dim=-1)
        return (vel.unflatten(-1, (NUM_CLASSES, VELOCITY_BINS)),
                off.unflatten(-1, (NUM_CLASSES, OFFSET_BINS)))


def losses(model, x: StepInputs, target_event, target_vbin, target_obin, mask):
    """Per-step losses: event NLL (nats), and velocity/offset CE over the classes that hit.

    model: a DrumLSTM or its DDP wrapper. mask (B,T) excludes padding.
    Returns (event_nll_sum, expr_loss_sum, n_steps, n_hits).
    """
    bits = (target_event.unsqueeze(-1) >> torch.arange(NUM_CLASSES)) & 1
    ev_logits, vel_logits, off_logits, _ = model(x, bits.float())
    nll = F.cross_entropy(ev_logits.flatten(0, 1), target_event.flatten(), reduction="none")
    nll = (nll * mask.flatten()).sum()
    hit = bits.bool() & mask.bool().unsqueeze(-1)
    ce_v = F.cross_entropy(vel_logits[hit], target_vbin[hit], reduction="sum")
    ce_o = F.cross_entropy(off_logits[hit], target_obin[hit], reduction="sum")
    return nll, ce_v + ce_o, mask.sum(), hit.sum()
