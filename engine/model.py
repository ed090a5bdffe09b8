"""The step model: an LSTM over 16th steps with event, velocity and microtiming heads.

Input at step t (predicting step t): the previous step (its event, velocities and offsets), the
events one and two bars back (lookback, as in Magenta's lookback_rnn: it is what lets an LSTM
keep a beat), the position counter, and conditioning (style, fill, tempo bucket, recent density).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from drumd.engine.encoding import (NUM_CLASSES, NUM_EVENTS, OFFSET_BINS, POSITION_BITS,
                                   VELOCITY_BINS)

BOS = NUM_EVENTS  # "no previous step" token at the start of a sequence
TEMPO_EDGES = (70, 85, 100, 115, 130, 150, 180)  # bpm bucket boundaries -> 8 buckets
DENSITY_WINDOW = 32  # steps of history the density feature averages over


@dataclass
class ModelConfig:
    n_styles: int = 18
    hidden: int = 256
    layers: int = 2
    event_embed: int = 64
    style_embed: int = 8
    head_hidden: int = 128
    dropout: float = 0.2
    lookback: tuple[int, ...] = (16, 32)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lookback"] = list(self.lookback)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        d["lookback"] = tuple(d.get("lookback", (16, 32)))
        return cls(**d)


@dataclass
class StepInputs:
    """Model inputs for a batch of sequences, each tensor shaped (B, T, ...)."""
    prev_event: torch.Tensor     # (B,T) long, BOS at sequence start
    prev_velocity: torch.Tensor  # (B,T,9) float in [0,1]
    prev_offset: torch.Tensor    # (B,T,9) float in [-0.5,0.5)
    lookback: torch.Tensor       # (B,T,9*len(lookback)) 0/1
    position: torch.Tensor       # (B,T,6) ±1
    density: torch.Tensor        # (B,T,1) recent hits per step
    style: torch.Tensor          # (B,T) long
    fill: torch.Tensor           # (B,T,1) 0/1
    tempo: torch.Tensor          # (B,T) long bucket


def tempo_bucket(bpm: float) -> int:
    return sum(bpm >= e for e in TEMPO_EDGES)


class DrumLSTM(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.event_emb = nn.Embedding(NUM_EVENTS + 1, cfg.event_embed)
        self.style_emb = nn.Embedding(cfg.n_styles, cfg.style_embed)
        self.tempo_emb = nn.Embedding(len(TEMPO_EDGES) + 1, 4)
        n_in = (cfg.event_embed + 2 * NUM_CLASSES + NUM_CLASSES * len(cfg.lookback)
                + POSITION_BITS + 1 + cfg.style_embed + 1 + 4)
        self.lstm = nn.LSTM(n_in, cfg.hidden, cfg.layers, batch_first=True,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.event_head = nn.Linear(cfg.hidden, NUM_EVENTS)
        # Velocity/timing are predicted knowing which classes hit, so a flam or an accent
        # pattern stays coherent within the step.
        self.expr_head = nn.Sequential(
            nn.Linear(cfg.hidden + NUM_CLASSES, cfg.head_hidden), nn.Tanh(),
            nn.Linear(cfg.head_hidden, NUM_CLASSES * (VELOCITY_BINS + OFFSET_BINS)))

    def features(self, x: StepInputs) -> torch.Tensor:
        return torch.cat([
            self.event_emb(x.prev_event), x.prev_velocity, x.prev_offset, x.lookback,
            x.position, x.density, self.style_emb(x.style), x.fill, self.tempo_emb(x.tempo),
        ], dim=-1)

    def forward(self, x: StepInputs, bits: torch.Tensor, state=None):
        """Teacher-forced pass: (event logits, velocity logits, offset logits, state).

        bits (B,T,9) are the hits of the predicted step (known when training)."""
        h, state = self.lstm(self.features(x), state)
        h = self.drop(h)
        vel, off = self.expression_logits(h, bits)
        return self.event_head(h), vel, off, state

    def expression_logits(self, h: torch.Tensor, bits: torch.Tensor):
        """Velocity and offset bin logits per class given the step's hit bits:
        shapes (..., 9, VELOCITY_BINS) and (..., 9, OFFSET_BINS)."""
        out = self.expr_head(torch.cat([h, bits], dim=-1))
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
