"""The step model's shape and input layout, without torch: what the player (engine/sampling/sampler.py,
which runs the LSTM in numpy) and the checkpoint loader need to know about DrumLSTM
(engine/model/lstm.py, the torch module that training builds from the same definitions).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from drumd.engine.data.encoding import (METER_INPUTS, NUM_CLASSES, NUM_EVENTS, OFFSET_BINS,
                                        POSITION_BITS, VELOCITY_BINS)

BOS = NUM_EVENTS  # "no previous step" token at the start of a sequence
TEMPO_EDGES = (70, 85, 100, 115, 130, 150, 180)  # bpm bucket boundaries -> 8 buckets
TEMPO_EMBED = 4  # width of the tempo bucket's embedding
DENSITY_WINDOW = 32  # steps of history the density feature averages over

# The dense (non-embedded) inputs, in the order the first LSTM layer sees them.
DENSE_KEYS = ("prev_velocity", "prev_offset", "lookback", "lookback_velocity", "lookback_offset",
              "position", "density", "level", "fill")
# The meter inputs (encoding.meter_bits) come last in the first layer's input, after style and
# tempo: a checkpoint from before them (format 2, 4/4 only) gets zero columns there.
METER_KEY = "meter"
# What the expression head sees besides the LSTM output and the step's hits.
EXPRESSION_KEYS = ("lookback_velocity", "lookback_offset", "level")


@dataclass
class ModelConfig:
    """The step model's hyperparameters, stored in every checkpoint (to_dict / from_dict)."""
    n_styles: int = 18
    hidden: int = 256
    layers: int = 2
    event_embed: int = 64
    style_embed: int = 8
    head_hidden: int = 128
    dropout: float = 0.2
    lookback: tuple[int, ...] = (16, 32)  # 16ths of 4/4 bars; in another meter, its bars (meter_lookback)

    def to_dict(self) -> dict:
        """As plain JSON types (lookback a list)."""
        d = asdict(self)
        d["lookback"] = list(self.lookback)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """From to_dict's form; a config without `lookback` gets (16, 32). TypeError for an unknown key."""
        d = dict(d)
        d["lookback"] = tuple(d.get("lookback", (16, 32)))
        return cls(**d)


def dense_width(cfg: ModelConfig) -> int:
    """Columns of the first layer's dense inputs (DENSE_KEYS): 9 previous velocities and offsets, 9 per
    lookback lag each of hits, velocity and offset, 6 position bits, density, level and fill."""
    look = NUM_CLASSES * len(cfg.lookback)
    return 2 * NUM_CLASSES + 3 * look + POSITION_BITS + 3


def expression_width(cfg: ModelConfig) -> int:
    """Columns of the expression head's extra context (EXPRESSION_KEYS): lookback velocities and
    offsets, 9 per lag each, and the level."""
    return 2 * NUM_CLASSES * len(cfg.lookback) + 1


def lstm_input_width(cfg: ModelConfig) -> int:
    """The first LSTM layer's input: event embedding, dense part, style, tempo, meter."""
    return cfg.event_embed + dense_width(cfg) + cfg.style_embed + TEMPO_EMBED + METER_INPUTS


def tempo_bucket(bpm: float) -> int:
    """The tempo input's bucket, 0-7, of `bpm` (quarter notes per minute) among TEMPO_EDGES."""
    return sum(bpm >= e for e in TEMPO_EDGES)


def weight_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """{name: shape} of DrumLSTM(cfg)'s state_dict, the names a checkpoint's weights carry
    (tests/test_engine_model.py checks it against the torch module)."""
    H, G = cfg.hidden, 4 * cfg.hidden  # LSTM gates: input, forget, cell, output
    shapes = {"event_emb.weight": (NUM_EVENTS + 1, cfg.event_embed),
              "style_emb.weight": (cfg.n_styles, cfg.style_embed),
              "tempo_emb.weight": (len(TEMPO_EDGES) + 1, TEMPO_EMBED)}
    for i in range(cfg.layers):
        shapes[f"lstm.weight_ih_l{i}"] = (G, lstm_input_width(cfg) if i == 0 else H)
        shapes[f"lstm.weight_hh_l{i}"] = (G, H)
        shapes[f"lstm.bias_ih_l{i}"] = (G,)
        shapes[f"lstm.bias_hh_l{i}"] = (G,)
    shapes["event_head.weight"] = (NUM_EVENTS, H)
    shapes["event_head.bias"] = (NUM_EVENTS,)
    shapes["expr_head.0.weight"] = (cfg.head_hidden, H + NUM_CLASSES + expression_width(cfg))
    shapes["expr_head.0.bias"] = (cfg.head_hidden,)
    shapes["expr_head.2.weight"] = (NUM_CLASSES * (VELOCITY_BINS + OFFSET_BINS), cfg.head_hidden)
    shapes["expr_head.2.bias"] = (NUM_CLASSES * (VELOCITY_BINS + OFFSET_BINS),)
    return shapes
