"""Model inputs from step history — one definition for training (whole sequences) and for
the live sampler (one step at a time), so generation can never disagree with training.
"""
from __future__ import annotations

import numpy as np

from drumd.engine.data.encoding import (NUM_CLASSES, NUM_EVENTS, Performance, bar_position_bits,
                                        bar_steps, event_bits, meter_bits, meter_lookback,
                                        offset_to_bin, velocity_to_bin)
from drumd.engine.model.spec import BOS, DENSITY_WINDOW, tempo_bucket

EVENT_BITS = event_bits(np.arange(NUM_EVENTS))   # (512, 9) 0/1 rows, a lookup for the live path
HITS_PER_EVENT = EVENT_BITS.sum(-1)                # popcount of each event


def sequence_features(perf: Performance, style: int, lookback=(16, 32)) -> dict[str, np.ndarray]:
    """Inputs and targets for every step of a performance (teacher forcing), in its meter
    (perf.meter; step 0 a bar line): `lookback` is the model config's, one and two 4/4 bars,
    and looks one and two bars of that meter back (encoding.meter_lookback)."""
    T = len(perf)
    per_bar = bar_steps(perf.meter)
    lookback = meter_lookback(lookback, perf.meter)
    ev = perf.events.astype(np.int64)
    prev_event = np.concatenate([[BOS], ev[:-1]])
    prev_vel = np.concatenate([np.zeros((1, NUM_CLASSES)), perf.velocity[:-1] / 127.0])
    prev_off = np.concatenate([np.zeros((1, NUM_CLASSES)), perf.offset[:-1]])
    bits = event_bits(ev)
    vel = perf.velocity / 127.0
    looks, look_vel, look_off = [], [], []
    for k in lookback:
        for src, out in ((bits, looks), (vel, look_vel), (perf.offset, look_off)):
            shifted = np.zeros((T, NUM_CLASSES))
            shifted[k:] = src[:-k] if k < T else shifted[k:]
            out.append(shifted)
    hits = np.concatenate([[0.0], np.cumsum(HITS_PER_EVENT[ev])])
    loud = np.concatenate([[0.0], np.cumsum(vel.sum(-1))])
    t = np.arange(T)
    lo = np.maximum(t - DENSITY_WINDOW, 0)
    n_hits = hits[t] - hits[lo]
    density = n_hits / DENSITY_WINDOW
    level = np.where(n_hits > 0, (loud[t] - loud[lo]) / np.maximum(n_hits, 1), 0.0)
    return dict(
        prev_event=prev_event,
        prev_velocity=prev_vel.astype(np.float32),
        prev_offset=prev_off.astype(np.float32),
        lookback=np.concatenate(looks, -1).astype(np.float32),
        lookback_velocity=np.concatenate(look_vel, -1).astype(np.float32),
        lookback_offset=np.concatenate(look_off, -1).astype(np.float32),
        position=bar_position_bits(t % per_bar, t // per_bar),
        meter=meter_bits(perf.meter, t % per_bar),
        density=density[:, None].astype(np.float32),
        level=level[:, None].astype(np.float32),
        style=np.full(T, style, np.int64),
        fill=np.full((T, 1), float(perf.fill), np.float32),
        tempo=np.full(T, tempo_bucket(perf.bpm), np.int64),
        target_event=ev,
        target_vbin=velocity_to_bin(perf.velocity).astype(np.int64),
        target_obin=offset_to_bin(perf.offset).astype(np.int64),
    )


class History:
    """The last few steps of a live performance: constant memory, constant time per step.
    `lookback`: the model config's (one and two 4/4 bars), taken in bars of `meter`."""

    def __init__(self, lookback=(16, 32), meter: tuple[int, int] = (4, 4)):
        self.meter = tuple(meter)
        self.steps_per_bar = bar_steps(self.meter)
        self.lookback = meter_lookback(lookback, self.meter)
        # per 16th of a bar: its position bits for bars 0-3, and its meter inputs
        bars, steps = np.meshgrid(np.arange(4), np.arange(self.steps_per_bar), indexing="ij")
        self.position_table = bar_position_bits(steps, bars)   # (4, steps_per_bar, 6)
        self.meter_table = meter_bits(self.meter, np.arange(self.steps_per_bar))
        self.size = max(max(self.lookback), DENSITY_WINDOW)
        self.events = np.zeros(self.size, np.int64)
        self.velocity = np.zeros((self.size, NUM_CLASSES), np.float32)
        self.offset = np.zeros((self.size, NUM_CLASSES), np.float32)
        self.t = 0  # number of steps pushed
        self.hits_in_window = 0.0
        self.velocity_in_window = 0.0  # sum of the window's velocities (MIDI units)

    def push(self, event: int, velocity: np.ndarray, offset: np.ndarray) -> None:
        """Append a step: its 512-way event, velocity (9,) in MIDI units (0 = no hit) and offset (9,)
        in 16th steps; the oldest step past the ring's size falls out."""
        i = self.t % self.size
        if self.t >= DENSITY_WINDOW:
            j = (self.t - DENSITY_WINDOW) % self.size
            self.hits_in_window -= HITS_PER_EVENT[self.events[j]]
            self.velocity_in_window -= float(self.velocity[j].sum())
        self.events[i], self.velocity[i], self.offset[i] = event, velocity, offset
        self.hits_in_window += HITS_PER_EVENT[event]
        self.velocity_in_window += float(np.sum(velocity))
        self.t += 1

    def amend_last(self, event: int, velocity: np.ndarray, offset: np.ndarray) -> None:
        """Replace the newest step (a player's late hits merged into it), keeping the window sums."""
        i = (self.t - 1) % self.size
        self.hits_in_window += HITS_PER_EVENT[event] - HITS_PER_EVENT[self.events[i]]
        self.velocity_in_window += float(np.sum(velocity) - self.velocity[i].sum())
        self.events[i], self.velocity[i], self.offset[i] = event, velocity, offset

    def features(self, position: int, style: int, fill: bool, bpm: float) -> dict[str, np.ndarray]:
        """Inputs for the next step (index self.t), same layout as one row of sequence_features.
        position: its song position in 16ths (0 = a bar line; negative before it)."""
        t = self.t
        if t == 0:
            prev_event, prev_vel, prev_off = BOS, np.zeros(NUM_CLASSES), np.zeros(NUM_CLASSES)
        else:
            j = (t - 1) % self.size
            prev_event, prev_vel, prev_off = self.events[j], self.velocity[j] / 127.0, self.offset[j]
        # Each lookback lag's ring slot; None in the first bars, when nothing is that far back.
        back = [(t - k) % self.size if t >= k else None for k in self.lookback]
        none = np.zeros(NUM_CLASSES, np.float32)
        n = self.hits_in_window
        bar, step = divmod(position, self.steps_per_bar)
        return dict(
            prev_event=np.int64(prev_event),
            prev_velocity=np.asarray(prev_vel, np.float32),
            prev_offset=np.asarray(prev_off, np.float32),
            lookback=np.concatenate([none if j is None else EVENT_BITS[self.events[j]]
                                     for j in back]).astype(np.float32),
            lookback_velocity=np.concatenate([none if j is None else self.velocity[j] / 127.0
                                              for j in back]).astype(np.float32),
            lookback_offset=np.concatenate([none if j is None else self.offset[j]
                                            for j in back]).astype(np.float32),
            position=self.position_table[bar % 4, step],
            meter=self.meter_table[step],
            density=np.array([n / DENSITY_WINDOW], np.float32),
            level=np.array([self.velocity_in_window / 127.0 / n if n > 0 else 0.0], np.float32),
            style=np.int64(style),
            fill=np.array([float(fill)], np.float32),
            tempo=np.int64(tempo_bucket(bpm)),
        )
