"""The stateful step API shared by `drumd generate` and the daemon.

    s = Sampler(load_checkpoint(None), seed=1)
    s.reset(primer=steps, style="funk", bpm=100, step_index=32)
    step = s.step(Controls(temperature=0.9))          # sample one 16th step
    step = s.step(Controls(), observed=player_step)   # or take a live player's hits instead

The LSTM runs in numpy on weights copied out of the checkpoint: at batch 1 that is 2-3x faster
than torch eager and never touches torch's thread pool (see ../shared/reference/realtime.md).
Time and memory per step are constant: the state is the LSTM state plus a ring buffer of two bars.
reset(meter=(3, 4)) plays another meter (encoding.METERS): the model's position and lookback
inputs, the home groove, phrases and warm-up grooves are then bars of it (12 16ths in 3/4).

What makes it play like a drummer, besides the model:
  warm-up     without a primer, two real bars of the style (engine/sampling/warmup.py, shipped in the
              checkpoint) are fed first, silently: it starts mid-song, not at a file's start
  groove      the two bars before the first sampled step are the groove's home. Each step's
              event distribution is tilted towards the home's skeleton (its kick and snare) at
              that 16th: leaving out a home hit costs up to (1 - variation) * HOME_NATS nats,
              by its velocity (a backbeat is kept, a ghost note may go), adding a kick or snare
              costs HOME_ADD of that (a crash more). So it varies around its groove as drummers do (about 8
              changed drum-16ths a bar, 10 in the test beats) instead of wandering off it over
              minutes (variation 1: untilted). A drum the home also hits there has its velocity
              tilted towards the home's by (1 - variation) * HOME_VELOCITY_NATS nats per bin,
              so its accents recur (timing is left to the model: tilting it likewise lowered
              its bar-to-bar correlation, measured)
  phrases     the last FILL_STEPS of every `fill_every`-th bar are played with the fill flag,
              and a fill is followed by a crash on the next downbeat, as a drummer marks the form
  temperature changes how adventurous the choice of hits is, not how many: the distribution is
              re-tilted per hit (a logit bias per hit, found by Newton's method) so its expected
              hits per step equal those at temperature 1
  following   (accompaniment: a player's hits given to amend_last) a drum the player hit on this
              16th one or two bars ago is theirs there: drumd does not double it (it would flam),
              and a kick or snare they play leaves drumd's home groove and costs a hit elsewhere,
              so its backbeat gives way to theirs (Controls.follow: 0 = plays over them)
  handover    (accompaniment) when a player who played through the last two bars stops (an
              expected hit missed, two beats without any), the groove the two played together
              becomes drumd's home: it carries on their feel (a half-time feel stays half-time)
              instead of returning to its own, and their drums are drumd's again
  tapping     (tap mode: a player's taps given to tap(), any key) the taps of the last two bars
              are a rhythm the groove must cover, as players repeat: a 16th tapped one or two
              bars ago is expected again; an event there without a kick or snare costs
              follow * TAP_NATS nats (a soft tap, under TAP_SOFT of the loudest: without any
              hit), and the hits' velocities are tilted towards the tap's; the home's kicks
              elsewhere are let go as the taps' are (its snare backbeat stays). So the kick
              and snare accents follow the taps, bar by bar, and the hats keep running
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drumd.engine.data.encoding import (CLASS_NAMES, CLASS_PITCH, METER_INPUTS, NUM_CLASSES, NUM_EVENTS,
                                        OFFSET_BINS, PITCH_TO_CLASS, VELOCITY_BINS, Hit, Step, bar_steps,
                                        bin_to_offset, bin_to_velocity, event_bits, velocity_to_bin)
from drumd.engine.model.checkpoint import Checkpoint, CheckpointError
from drumd.engine.model.features import HITS_PER_EVENT, History
from drumd.engine.model.spec import DENSE_KEYS, EXPRESSION_KEYS, METER_KEY, dense_width
from drumd.engine.sampling.warmup import bank_from_meta, bank_key
from drumd.mappings.basics.grid import STEPS_PER_BAR, STEPS_PER_BEAT

EVENT_BITS = event_bits(np.arange(NUM_EVENTS)).astype(bool)  # (512, 9)
EVENT_BITS_F = EVENT_BITS.astype(np.float32)
# The home groove's skeleton: kick and snare (hats, cymbals and toms vary as the model likes).
SKELETON = np.isin(np.arange(NUM_CLASSES), [CLASS_NAMES.index("kick"), CLASS_NAMES.index("snare")])
# At variation 0: the tilt against dropping a full-velocity skeleton hit. 4, not 6: with 6 the
# kick on one and the backbeat held in 97 % and 93 % of bars against the drummers' 84 % and 60 %
# (test beats), the two-sample classifier's strongest cues (unprimed C2ST, 4 seeds: 6: 0.667, 4: 0.641).
HOME_NATS = 4.0
HOME_DROP_PER_VELOCITY = 1.2 / 127  # a dropped hit weighs velocity * this, at most 1: ghosts come and go
# What adding a hit where the home has none weighs (of HOME_NATS): a kick or snare little (fills,
# pickups, ghosts: at 0.15 it added a snare pickup on the bar's last 16th in 34-66 % of bars where
# its home groove had 21-55 % and the drummers 16-38 %, and played rock at 18-19 hits a bar against
# the drummers' 15.7; at 0.3, 15-18); a crash more, as a crash marks the form: left free, the model
# copied the phrase's crash one and two bars on (crashes on 12 % of other downbeats, 4 % in the
# test beats).
HOME_ADD = np.where(SKELETON, 0.3, 0.0) + np.where(np.arange(NUM_CLASSES) == CLASS_NAMES.index("crash"), 1.0, 0.0)
# Expression is sampled cooler than the hits: at 1.0 a drum's velocity changed by 24 MIDI units
# bar to bar at the same 16th against the drummers' 13.6 (test beats); at 0.5, by 13.1. Timing
# likewise: at 0.8 a drum's offset changed by 0.11 of a 16th bar to bar where the drummers' changed
# by 0.06, and its bar-to-bar correlation was 0.40 (drummers 0.57); at 0.5, 0.47.
VELOCITY_TEMPERATURE = 0.5
OFFSET_TEMPERATURE = 0.5
HOME_VELOCITY_NATS = 1.0  # velocity tilt per bin away from the home groove's, at variation 0
FILL_STEPS = 8     # a phrase-end fill: the bar's last two beats (at most half a bar in other meters)
# Following a player (accompaniment): a drum the player played on this 16th one or two bars ago
# is theirs there; a drumd hit on it costs follow * FOLLOW_NATS nats (at follow 1, about one in
# 160,000 steps: no doubled hit that would flam against theirs).
FOLLOW_NATS = 12.0
# In unison (Controls.unison) the same drum there is drumd's too: follow * UNISON_NATS nats for
# it. 4: a half-time player (kick on 1, snare on 3), follow 0.8, --quantize 1, 8 runs x 14 bars
# (bench/follow_bench.py --unison), rock / funk: 88 / 74 % of drumd's snares on 3, 100 / 98 % of
# its kicks on 1, its snare on 3 in 97-99 % of bars (2: 94 / 80 % of its snares, in 89 / 97 % of
# bars; 8: 95 / 78 %, in every bar: a bar without it never comes).
UNISON_NATS = 4.0
CRASH = CLASS_NAMES.index("crash")
KICK = CLASS_NAMES.index("kick")
KICK_ONLY = np.arange(NUM_CLASSES) == KICK
SNARE = CLASS_NAMES.index("snare")
# Tapping (tap mode). A 16th tapped one or two bars ago is expected tapped again; an event there
# without a kick (where the home has its snare: a kick or snare; a soft tap: any hit) costs
# follow * TAP_NATS nats. 8: at follow 0.8, 6.4 nats, e^-6.4 = 1/600 of its odds
# (bench/tap_bench.py, four figures, rock and funk: 99-100 % of taps get a hit, 94-100 % a kick or
# snare, at 16-19 hits a bar). Where nobody tapped, once a bar of taps is heard, a kick costs
# follow * TAP_KICK_NATS (3: kicks off the taps 0.1-0.3 a bar, against 1.7-3.0 with the taps
# ignored): the kick pattern is the taps'.
TAP_NATS = 8.0
# Handover: a player stopped when a 16th they hit two bars ago passes without a hit and they
# have played nothing for this long (two beats: a player who only breathes for a beat keeps
# their drums, and one who stops is taken over within two beats of their next expected hit).
HANDOVER_STEPS = 2 * STEPS_PER_BEAT
TAP_SOFT = 0.6             # a tap under this fraction of the loudest recent tap is a soft one
TAP_KICK_NATS = 3.0        # a kick where nobody tapped, at follow 1
TAP_VELOCITY_NATS = 1.5    # velocity tilt per bin towards the tap's, at follow 1
HAS_SKELETON = EVENT_BITS[:, SKELETON].any(axis=1)  # (512,) kick or snare in the event
HAS_HIT = EVENT_BITS.any(axis=1)


@dataclass(frozen=True)
class Controls:
    """Live controls, read once per step. top_p is nucleus sampling (Holtzman et al., "The
    Curious Case of Neural Text Degeneration", ICLR 2020) over the 512 events, after the
    temperature and the tilts; density is a logit bias in nats per hit."""
    temperature: float = 1.0
    top_p: float = 1.0             # nucleus sampling: keep the smallest set of events with this mass
    density: float = 0.0           # logit bias per hit: > 0 busier, < 0 sparser
    mute: frozenset = frozenset()  # class indices never to play
    fill: bool = False             # ask for a fill now (the model was trained with a fill flag)
    style: str | None = None       # switch style; None keeps the one given to reset()
    quantize: float = 0.0          # 0 = the model's timing, 1 = on the grid
    variation: float = 0.5         # 0 = keeps its groove, 1 = free
    fill_every: int = 8            # bars per phrase, a fill at each phrase's end; 0 = never
    follow: float = 0.8            # 0 = ignores a player (amend_last, tap), 1 = leaves them their
                                   # drums (accompany) / covers every tap (tap mode)
    unison: bool = False           # accompany: plays the drums the player repeats with them, at
                                   # their timing, instead of leaving those drums to them


@dataclass(frozen=True)
class Home:
    """The groove's home: two bars (N = 2 bars' 16ths, 32 in 4/4), row i = song position i mod N."""
    bits: np.ndarray          # (N, 9) float 0/1: which drums hit
    velocity_bin: np.ndarray  # (N, 9) int: their velocity bins, -1 where no hit
    drop_weight: np.ndarray   # (N, 9) what leaving out each hit weighs (skeleton hits only)
    add_weight: np.ndarray    # (N, 9) what adding a hit where the home has none weighs

    @classmethod
    def of(cls, events: np.ndarray, velocity: np.ndarray) -> "Home":
        """The home of two bars' `events` (N,) and `velocity` (N, 9) in MIDI units (0 = no hit)."""
        bits = EVENT_BITS_F[np.asarray(events, np.int64)]
        drop = bits * SKELETON * np.minimum(np.asarray(velocity, np.float32) * HOME_DROP_PER_VELOCITY, 1.0)
        add = (1.0 - bits) * HOME_ADD
        return cls(bits, np.where(bits > 0, velocity_to_bin(np.maximum(velocity, 1)), -1), drop, add)


def tilted(logits: np.ndarray, home_bin: np.ndarray, nats: float) -> np.ndarray:
    """Bin logits (9, bins) less `nats` per bin of distance from home_bin (9,) where >= 0."""
    distance = np.abs(np.arange(logits.shape[1])[None, :] - home_bin[:, None])
    return logits - nats * (home_bin >= 0)[:, None] * distance


def phrase_fill(position: int, fill_every: int, steps_per_bar: int = STEPS_PER_BAR) -> bool:
    """Is 16th `position` (song position) in the fill that ends a phrase of fill_every bars
    of steps_per_bar 16ths? The fill is the bar's last FILL_STEPS, at most half the bar."""
    return (fill_every > 0 and position // steps_per_bar % fill_every == fill_every - 1
            and position % steps_per_bar >= steps_per_bar - min(FILL_STEPS, steps_per_bar // 2))


class _NumpyLSTM:
    """Inference-only copy of DrumLSTM for batch 1, one step at a time.

    The embedding parts of the first layer's input are folded into lookup tables, so a step
    is a few small matrix-vector products.
    """

    def __init__(self, ckpt: Checkpoint):
        sd = {k: np.asarray(v, np.float32) for k, v in ckpt.weights.items()}  # float32: half the memory traffic
        cfg = ckpt.config
        self.layers, self.hidden = cfg.layers, cfg.hidden
        w0 = sd["lstm.weight_ih_l0"]
        E, S, D = cfg.event_embed, cfg.style_embed, dense_width(cfg)
        # Column layout of the first layer input, as in DrumLSTM.features.
        c = np.cumsum([0, E, D, S, 4, METER_INPUTS])
        self.event_table = sd["event_emb.weight"] @ w0[:, c[0]:c[1]].T        # (513, 4H)
        self.w_dense = w0[:, c[1]:c[2]]                                       # (4H, D)
        self.style_table = sd["style_emb.weight"] @ w0[:, c[2]:c[3]].T        # (n_styles, 4H)
        self.tempo_table = sd["tempo_emb.weight"] @ w0[:, c[3]:c[4]].T        # (buckets, 4H)
        self.w_meter = w0[:, c[4]:c[5]]                                       # (4H, METER_INPUTS)
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
        dense = np.concatenate([f[k] for k in DENSE_KEYS]).astype(np.float32)
        x_gates = (self.event_table[f["prev_event"]] + self.style_table[f["style"]]
                   + self.tempo_table[f["tempo"]] + self.w_dense @ dense)
        if f[METER_KEY].any():  # all zero in 4/4: skipped, exactly as the 4/4-only model ran
            x_gates = x_gates + self.w_meter @ f[METER_KEY]
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

    def expression_logits(self, h, bits, f: dict):
        """Velocity and offset bin logits (9, bins) given the step's hits and its features."""
        z = np.tanh(self.w_x1 @ np.concatenate([h, bits, *(f[k] for k in EXPRESSION_KEYS)]) + self.b_x1)
        out = self.w_x2 @ z + self.b_x2
        n = NUM_CLASSES * VELOCITY_BINS
        return out[:n].reshape(NUM_CLASSES, VELOCITY_BINS), out[n:].reshape(NUM_CLASSES, OFFSET_BINS)


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free logistic


def _sample(p: np.ndarray, top_p: float, u: float) -> int:
    """One draw from unnormalised probabilities p, keeping the top_p nucleus."""
    if top_p < 1.0:
        order = np.argsort(-p)
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p * cum[-1])) + 1]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q
    cdf = np.cumsum(p)
    return int(min(np.searchsorted(cdf, u * cdf[-1], side="right"), len(p) - 1))


def tempered(logits: np.ndarray, temperature: float, iterations: int = 30) -> np.ndarray:
    """Unnormalised probabilities of softmax((logits + b * hits) / temperature), with the bias
    per hit b chosen so that the expected hits per step equal those of softmax(logits).

    Temperature alone also moves density: below 1 it sharpens towards the single most likely
    event, which on most 16ths is silence, so T = 0.8 would mean sparser. The expected hits
    rise monotonically with b (slope Var(hits) / T), so b is found by Newton's method kept
    inside a shrinking bracket (bisection where a Newton step would leave it); a few
    iterations usually do. logits (512,); returns (512,) >= 0, not normalised.
    """
    z = logits - logits.max()
    p = np.exp(z)
    if abs(temperature - 1.0) < 1e-6:
        return p
    target = p @ HITS_PER_EVENT / p.sum()
    t = max(temperature, 1e-3)
    lo, hi, b = -30.0, 30.0, 0.0
    for _ in range(iterations):
        y = (z + b * HITS_PER_EVENT) / t
        q = np.exp(y - y.max())
        q /= q.sum()
        mean = q @ HITS_PER_EVENT
        if abs(mean - target) < 1e-3:
            break
        if mean > target:
            hi = b
        else:
            lo = b
        var = q @ HITS_PER_EVENT ** 2 - mean ** 2
        b = b - (mean - target) * t / var if var > 1e-12 else lo - 1.0
        if not lo < b < hi:
            b = 0.5 * (lo + hi)
    return q


def _sample_rows(logits: np.ndarray, temperature: float, u: np.ndarray) -> np.ndarray:
    """One categorical draw per row (the hit classes' velocity or timing bins), vectorised."""
    z = logits / temperature
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    return np.minimum((cdf < u[:, None] * cdf[:, -1:]).sum(axis=1), logits.shape[1] - 1)


class Sampler:
    """The step model played one 16th step at a time (see the module's docstring): reset() to start
    (CheckpointError for a style the checkpoint does not know), step() per 16th, amend_last() and
    tap() for a player's hits. `seed` (an int, a list of ints, or None: fresh entropy) seeds its
    numpy Generator: a seeded Sampler plays the same steps for the same calls."""
    def __init__(self, ckpt: Checkpoint, seed: int | None = None):
        self.ckpt = ckpt
        self.net = _NumpyLSTM(ckpt)
        self.rng = np.random.default_rng(seed)
        self.bank = bank_from_meta(ckpt.meta.get("warmup"))
        self._warmup_pick: dict[str, int] = {}  # one warm-up groove per style for this Sampler
        self.reset()

    @property
    def styles(self) -> list[str]:
        """The checkpoint's styles, the names reset() and Controls.style take."""
        return self.ckpt.styles

    @property
    def default_style(self) -> str:
        """The style played when none is asked for (Checkpoint.default_style)."""
        return self.ckpt.default_style

    def reset(self, primer=(), style: str | None = None, bpm: float = 120.0, step_index: int = 0,
              meter: tuple[int, int] = (4, 4)) -> None:
        """Start over. The primer's steps are fed as if played, its last step just before
        `step_index` (the song position of the next step, in 16ths: it sets the bar phase;
        song position 0 is a bar line). Without a primer, a warm-up groove of the style in
        `meter` is fed the same way (when the checkpoint has one; none in that meter: it starts
        unwarmed): the same groove each time for this Sampler, style and meter. `meter`: one
        of encoding.METERS (ValueError otherwise); bars, lookback, phrases and the home groove
        are bars of it."""
        name = style or self.ckpt.default_style
        self.style = self.ckpt.style_index(name)
        self.style_name = name
        self.bpm = float(bpm)
        self.state = self.net.zero_state()
        self.history = History(self.ckpt.config.lookback, meter)  # ValueError for an unknown meter
        self.meter = self.history.meter
        self.steps_per_bar = bar_steps(self.meter)
        self.home_steps = 2 * self.steps_per_bar
        self.home = None          # Home: the groove's two bars by song position % home_steps, once known
        self.after_fill = False   # the previous step was part of a fill
        # the player's hits (amend_last) of the last two bars, row = song position % home_steps
        self.player = np.zeros((self.home_steps, NUM_CLASSES), bool)
        self.player_offset = np.zeros((self.home_steps, NUM_CLASSES), np.float32)  # theirs, in 16ths
        self.player_last: int | None = None  # song position of the player's last hit
        self._feel: Home | None = None       # the last two bars heard, while the player played both
        self._handover = False               # the player stopped: _feel becomes the home (follow > 0)
        # the player's taps (tap()) of the last two bars: row = song position % home_steps, the song
        # position each row's tap is of (rows are stale once that is two bars back) and its velocity
        self.tap_position = np.full(self.home_steps, -self.home_steps - 1, np.int64)
        self.tap_velocity = np.zeros(self.home_steps, np.float32)
        primer = list(primer) or self._warmup(name, step_index)
        self.position = step_index - len(primer)
        for s in primer:
            self.step(Controls(fill_every=0), observed=s)

    def _warmup(self, style: str, step_index: int) -> list[Step]:
        """Two bars of a real groove of `style` in the bar phase of step_index, or []."""
        clips, i = self._warmup_clip(style)
        if clips is None:
            return []
        n = self.home_steps
        rows = [(step_index - n + j) % n for j in range(n)]
        return [Step(tuple(Hit(CLASS_PITCH[c], int(clips["velocity"][i, r, c]), float(clips["offset"][i, r, c]))
                           for c in np.flatnonzero(EVENT_BITS[clips["events"][i, r]])))
                for r in rows]

    def step(self, controls: Controls = Controls(), observed: Step | None = None) -> Step:
        """Advance one 16th step: sample it, or take `observed` (a player's hits, GM) instead."""
        style = self.style if controls.style is None else self.ckpt.style_index(controls.style)
        if style != self.style:  # a new style: a new home groove, from its warm-up bank if any
            self.style, self.style_name = style, self.ckpt.styles[style]
            self.home = self._bank_home(self.style_name)
        fill = controls.fill or phrase_fill(self.position, controls.fill_every, self.steps_per_bar)
        crash = self.after_fill and not fill and self.position % self.steps_per_bar == 0
        f = self.history.features(self.position, style, fill, self.bpm)
        h = self.net.step(f, self.state)
        if observed is not None:
            event, vel, off = _arrays_of(observed.hits)
            out = observed
        else:
            if self.home is None and self.history.t >= self.home_steps:
                self.home = self._history_home()
            event, vel, off = self._sample_step(h, f, controls, fill, crash)
            out = Step(tuple(Hit(CLASS_PITCH[c], int(vel[c]), float(off[c]) * (1.0 - controls.quantize))
                             for c in np.flatnonzero(EVENT_BITS[event])))
        self.after_fill = fill
        self.history.push(event, vel, off)
        self.position += 1
        return out

    def _history_home(self) -> "Home":
        """The last two bars heard, indexed by song position % home_steps."""
        n = self.home_steps
        back = np.arange(n, 0, -1)  # oldest first
        rows = (self.history.t - back) % self.history.size
        at = (self.position - back) % n  # where each lands in the home's rows
        events, velocity = np.empty(n, np.int64), np.empty((n, NUM_CLASSES))
        events[at], velocity[at] = self.history.events[rows], self.history.velocity[rows]
        return Home.of(events, velocity)

    def _bank_home(self, style: str) -> "Home | None":
        """The style's warm-up groove as the home (None: taken from what it plays, two bars on)."""
        clips, i = self._warmup_clip(style)
        return None if clips is None else Home.of(clips["events"][i], clips["velocity"][i])

    def _warmup_clip(self, style: str):
        """(the bank of the style in this meter, the index of this Sampler's groove in it), or
        (None, None)."""
        key = bank_key(style, self.meter)
        clips = self.bank.get(key)
        if clips is None:
            return None, None
        if key not in self._warmup_pick:
            self._warmup_pick[key] = int(self.rng.integers(len(clips["events"])))
        return clips, self._warmup_pick[key]

    def amend_last(self, hits) -> None:
        """Merge hits a player made during the step just returned into what the model saw,
        before the next step is computed (accompaniment: the step was computed one ahead).
        Called once a step, also with no hits: the player's last two bars (self.player) are
        what following them (Controls.follow) reads."""
        if self.history.t == 0:
            return
        ev, vel, off = _arrays_of(hits)
        row = (self.position - 1) % self.home_steps
        expected = self.player[row].any()  # they hit this 16th two bars ago
        self.player[row], self.player_offset[row] = EVENT_BITS[ev], off
        if hits:
            self.player_last = self.position - 1
            i = (self.history.t - 1) % self.history.size
            louder = vel > self.history.velocity[i]
            self.history.amend_last(int(self.history.events[i]) | ev,
                                    np.where(louder, vel, self.history.velocity[i]),
                                    np.where(louder, off, self.history.offset[i]))
        elif (expected and self._feel is not None
              and self.position - 1 - self.player_last >= HANDOVER_STEPS):
            self._handover = True  # they stopped: a hit they repeat missed, two beats without any
        bar = self.steps_per_bar
        if self.position % bar == 0 and self.player[:bar].any() and self.player[bar:].any():
            self._feel = self._history_home()  # both bars played together (their hits merged)

    def tap(self, position: int, velocity: int) -> None:
        """A player's tap (tap mode) on 16th `position` (song position, in steps, a step already
        computed: up to two bars back), `velocity` 1..127. Telling the same tap twice is
        harmless (the loudest is kept), so a caller may re-send the last steps' taps to catch
        one that arrived late. The taps of the last two bars are what tapping (Controls.follow)
        reads; nothing the model hears changes (a tap is not a drum)."""
        n = self.home_steps
        if not self.position - n <= position < self.position or velocity <= 0:
            return
        row = position % n
        if self.tap_position[row] != position:
            self.tap_position[row], self.tap_velocity[row] = position, 0.0
        self.tap_velocity[row] = max(self.tap_velocity[row], min(float(velocity), 127.0))

    def _expected_tap(self) -> tuple[float, float, bool]:
        """(velocity of the tap expected on this step, 0 if none; the loudest tap of the last
        two bars, 0 if nobody tapped; whether a whole bar has passed since the first of them).
        Expected: tapped one bar or two bars ago on this 16th (players repeat a rhythm; two
        bars: a two-bar figure such as a clave)."""
        n, bar = self.home_steps, self.steps_per_bar
        recent = self.tap_position >= self.position - n
        if not recent.any():
            return 0.0, 0.0, False
        i = self.position % n
        j = (self.position - bar) % n
        here = max(self.tap_velocity[j] if self.tap_position[j] == self.position - bar else 0.0,
                   self.tap_velocity[i] if self.tap_position[i] == self.position - n else 0.0)
        heard_bar = self.tap_position[recent].min() <= self.position - bar
        return float(here), float(self.tap_velocity[recent].max()), bool(heard_bar)

    def _sample_step(self, h, f: dict, c: Controls, fill: bool, crash: bool):
        logits = self.net.event_logits(h)
        if c.density:
            logits = logits + c.density * HITS_PER_EVENT
        keep = 0.0 if self.home is None or fill or crash else 1.0 - min(max(c.variation, 0.0), 1.0)
        i = self.position % self.home_steps
        if self._handover:
            if c.follow > 0:  # their feel is drumd's now, and so are their drums
                self.home, self.player[:] = self._feel, False
            self._feel, self._handover = None, False
        follow = min(max(c.follow, 0.0), 1.0) if self.player.any() else 0.0
        theirs = self.player.any(axis=0) & SKELETON if follow else SKELETON & False
        tap, loudest, heard_bar = self._expected_tap() if c.follow > 0 else (0.0, 0.0, False)
        tapping = min(c.follow, 1.0) if loudest else 0.0
        kicks_theirs = tapping and heard_bar and not tap
        given = follow  # how far the home lets go of `theirs`
        if kicks_theirs:
            # a bar of taps heard, the taps set the kicks: where nobody tapped, the home's kick
            # is let go and a kick costs TAP_KICK_NATS (its snare backbeat stays: the groove
            # keeps its 2 and 4 under any tapped rhythm)
            theirs, given = theirs | KICK_ONLY, max(follow, tapping)
        if keep:
            # a kick or snare the player plays is theirs: drumd's home no longer holds it
            drop = np.where(theirs, (1.0 - given) * self.home.drop_weight[i], self.home.drop_weight[i])
            add = np.where(theirs, (1.0 - given) * self.home.add_weight[i], self.home.add_weight[i])
            differing = (1.0 - EVENT_BITS_F) @ drop + EVENT_BITS_F @ add
            logits = logits - keep * HOME_NATS * differing
        here = None
        if follow:
            # Their drums: never where they played them on this 16th one or two bars ago (a
            # doubled hit flams against theirs), or in unison there with them; elsewhere at
            # HOME_NATS a hit (drumd does not lay its own backbeat over theirs: it gives way to
            # the feel they set).
            j = (i + self.steps_per_bar) % self.home_steps
            here = self.player[i] | self.player[j]
            cost = np.where(here, -UNISON_NATS if c.unison else FOLLOW_NATS, np.where(theirs, HOME_NATS, 0.0))
            logits = logits - follow * (EVENT_BITS_F @ cost)
        if kicks_theirs:
            logits = logits - tapping * TAP_KICK_NATS * EVENT_BITS_F[:, KICK]
        if tap:
            # a tapped 16th is covered: by a kick (or the home's snare where it has one), or for
            # a soft tap, by any hit
            if tap < TAP_SOFT * loudest:
                covered = HAS_HIT
            elif self.home is not None and self.home.bits[i, SNARE]:
                covered = HAS_SKELETON
            else:
                covered = EVENT_BITS[:, KICK]
            logits = logits - tapping * TAP_NATS * ~covered
        if crash and CRASH not in c.mute:
            logits = np.where(EVENT_BITS[:, CRASH], logits, -np.inf)
        if c.mute:
            muted = EVENT_BITS[:, sorted(c.mute)].any(axis=1)
            logits = np.where(muted, -np.inf, logits)
        u = self.rng.random(1 + 2 * NUM_CLASSES)
        event = _sample(tempered(logits, c.temperature), c.top_p, u[0])
        bits = EVENT_BITS[event]
        vel = np.zeros(NUM_CLASSES, np.float32)
        off = np.zeros(NUM_CLASSES, np.float32)
        if event:
            vl, ol = self.net.expression_logits(h, bits.astype(np.float32), f)
            k = np.flatnonzero(bits)
            if keep:
                vl = tilted(vl, self.home.velocity_bin[self.position % self.home_steps],
                            keep * HOME_VELOCITY_NATS)
            if tap:  # the accent follows the tap's velocity
                vl = tilted(vl, np.where(SKELETON | ~HAS_SKELETON[event], int(velocity_to_bin(tap)), -1),
                            tapping * TAP_VELOCITY_NATS)
            t = min(max(c.temperature, 0.5), 1.5)  # keep dynamics and feel human at any temperature
            jit = self.rng.random((2, len(k)))
            vel[k] = bin_to_velocity(_sample_rows(vl[k], t * VELOCITY_TEMPERATURE, u[1:1 + len(k)]), jit[0])
            off[k] = bin_to_offset(_sample_rows(ol[k], t * OFFSET_TEMPERATURE,
                                                u[1 + NUM_CLASSES:1 + NUM_CLASSES + len(k)]), jit[1])
            if c.unison and here is not None:
                # in unison: where they played it one bar ago (else two), at their timing
                theirs_at = np.where(self.player[j], self.player_offset[j], self.player_offset[i])
                off = np.where(bits & here, theirs_at, off)
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


__all__ = ["Sampler", "Controls", "CheckpointError", "phrase_fill", "tempered"]
