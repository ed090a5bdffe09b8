"""Which MIDI clock tick each arrival is, and a smooth time line through the ticks.

Two jobs that depend on each other, for the 24-PPQN clock only (no transport here):
- filtering: a delay-locked loop (DLL) turns jittered arrival times into a steady line, the
  predicted time of any tick: `time_of_tick(n) = t1 + (n - n1) * period`;
- numbering: each arrival gets a tick index. Ticks are lost (USB MIDI, a busy machine, a JACK
  period whose data was dropped): an arrival about two filtered periods after the previous tick
  is the tick after a missed one, and the count moves on by two, so the 24-PPQN position stays
  right.

Source of the filter: F. Adriaensen, "Using a DLL to filter time", Linux Audio Conference
2005 (http://kokkinizita.linuxaudio.org/papers/usingdll.pdf), the loop behind JACK's frame
timer. Its second-order loop, per event at measured time t (t1 the predicted time of this
event, e2 the filtered period):

    e = t - t1;  t1 += b * e + e2;  e2 += c * e      (b = sqrt(2) omega, c = omega^2)

Here the loops run per tick, so they behave the same at 40 and 300 BPM. What is ours, each
measured with bench/clock_bench.py (figures in docs/benchmarks.md):
- Two loops, the grid following the one that predicted the recent ticks better (its mean
  square error over ~16 ticks under `SWITCH` times the other's). The narrow one is the loop
  above with omega = `OMEGA` (0.05: ~30 ticks of memory, enough to average ±5 ms of jitter
  down to a tempo within 1 %); it lags a tempo ramp (60 -> 180 BPM over 8 bars left it 2.5 %
  slow at the end). The wide one is of third order, integrating the change of the period
  per tick too, so a ramp is followed without lag: the critically damped fading-memory g-h-k
  filter (E. Brookner, "Tracking and Kalman Filtering Made Easy", Wiley 1998, ch. 1):
  g = 1 - theta^3, h = 1.5 (1 - theta)^2 (1 + theta), k = 0.5 (1 - theta)^3, theta = `THETA`.
- Both start wide: until their fixed gains are reached they use the growing-memory
  least-squares line's (g_n = 2(2n-1)/(n(n+1)), h_n = 6/(n(n+1)), Brookner, same chapter;
  the second-order loop above with b = g + h, c = h; tests/test_tickfilter.py checks it
  against np.polyfit). So after a Start the first ticks give the tempo at once. An error of
  more than 4 jitters (a tick an xrun delayed) is clipped once past that start.
- Numbering looks ahead when one arrival cannot tell: where the jitter approaches half a tick
  period (±5 ms at 300 BPM, period 8.3 ms) a late tick looks like the next one. The arrival
  is held back (at most `LOOKAHEAD` ticks) and the most probable numbering of the held
  arrivals is chosen: a Viterbi search over how many ticks went missing before each,
  Gaussian arrival jitter of the measured size (capped at `OUTLIER_COST` nats: an xrun
  delays a tick by any amount), a missed tick costing `DROP_COST` nats (`EARLY_DROP_COST`
  while the period rests on fewer than `EARLY` ticks); twice, the second
  time with the loop's phase and period corrected by the first pass's best numbering
  (a wrong loop moves all held arrivals alike). An arrival's numbering is settled once it
  is `DECIDE` nats likelier than any other, or the look-ahead is full.
- Tempo changes: a sudden one is a third explanation of the held arrivals, a new straight
  line of their own (`CHANGE_COST` nats), after which both loops restart from them; when
  `RUN` settled ticks in a row sit to one side of the narrow loop, it restarts on them (the
  wide one is following already). And when missed ticks keep being found (`SUSPECT` in the
  last `WINDOW`) while the arrivals lie on a line as well without them (their cost in nats
  included), the period was wrong (an unlucky start at heavy jitter): they are renumbered
  one after the other. Only in the first `REVIEW` ticks: later the period is known, and
  three ticks really missed within two beats were being renumbered away.
- The first `REVIEW` ticks after a (re)start are reviewed as a whole at every other tick
  (`renumbering`): where jitter exceeds half a tick, the look-ahead, judging by a period
  from a dozen ticks, takes late ticks for missed ones (or the reverse), each decision
  bending the period towards the next wrong one. With all the ticks since the start, a
  wrong count shows: the ticks after it lie a whole period off any line. The numberings one
  edit away (a missed tick put in, taken out or moved), and the ticks one after the other
  with at most one missed, are scored by their profile likelihood about a line (a parabola
  for a ramp) plus `DROP_COST` per missed tick, and the loops restart on the likeliest
  when it wins by `REVIEW_MARGIN` nats. This is the tick-count hypothesis test the DLL
  lacks: a DLL (Adriaensen's included) assumes every event is numbered right; it has no
  way to undo a count, only to follow it.
The loops are updated only by settled ticks; `time_of_tick` is the followed loop's
prediction, so held arrivals never move the grid by a whole tick and back.

Measured with bench/clock_bench.py (docs/benchmarks.md): where jitter exceeds half a tick
and ticks are also dropped (±5 ms and 1 % at 300 BPM), a count can still go wrong where
the review has no candidate for it (two ticks missed in a row right after the first dozen).

Pure logic (numpy for the review), times in s (any monotonic clock), tick indices as ints.
Not thread-safe.
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

OMEGA = 0.05         # the narrow loop's bandwidth per tick (2 pi B tper, Adriaensen's omega)
THETA = 0.9          # the wide loop's memory per tick (fading-memory g-h-k, see the docstring)
SWITCH = 0.5         # the other loop takes over when its recent mean square error is this much lower
LOOKAHEAD = 12       # arrivals held at most before one is numbered
SEARCHES = 2         # numbering searches per arrival at most (the input thread holds the clock)
MAX_MISSED = 3       # ticks that may be missing before one arrival
MAX_HELD_MISSED = 6  # ... and among all held arrivals
DROP_COST = 4.0      # nats per missed tick (-ln 2 %)
EARLY_DROP_COST = 6.0  # ... in the first EARLY ticks after a restart
EARLY = 48
CHANGE_COST = 20.0   # nats for "the tempo changed" (a new line through the held arrivals)
OUTLIER_COST = 12.0  # nats at most for one arrival's distance from its tick (an xrun delays one)
DECIDE = 8.0         # nats by which one numbering must win before it is settled early
SUSPECT = 3          # missed ticks among the last WINDOW settled: check they are not a wrong period
WINDOW = 48          # settled ticks kept for that check (two beats)
RUN = 4              # settled ticks in a row to one side of the line: a tempo change
MIN_FIT = 12         # ticks after a restart before missed ticks are looked for (half a beat)
JITTER_FLOOR = 0.00025  # s: arrival jitter never assumed smaller than this
REVIEW = 144         # ticks after a (re)start whose numbering is reviewed as a whole (6 beats)
REVIEW_MARGIN = 3.0  # nats by which another numbering of them must win
CURVED = 6.0         # nats by which a parabola must fit them better than a line (a ramp)


class Loop:
    """One delay-locked loop through numbered ticks: `t1` the predicted time (s) of the next
    tick, `period` (s) the tick period there, `accel` (s per tick) how fast the period
    changes. Starts as a growing-memory least-squares line, then runs on fixed gains
    (g, h, k) once the least-squares gain g falls below them.

    Parameters
    ----------
    gains : tuple of float
        The fixed (g, h, k) in g-h-k form; Adriaensen's b = g + h, c = h for k = 0.
    """

    def __init__(self, gains: tuple[float, float, float], t: float, period: float):
        self.gains = gains
        self.t1, self.period, self.accel = t, period, 0.0
        self.n_fit = 0  # ticks since the start (the least-squares phase)
        self.mse = 0.0  # s^2, recent mean square of its prediction errors

    @property
    def memory(self) -> int:
        """Ticks the loop's memory is worth: where the least-squares gain 4/n meets g."""
        return max(2, min(self.n_fit, round(4 / self.gains[0])))

    def update(self, t: float, clip: float = math.inf) -> float:
        """The tick it predicted arrived at `t`: correct, then predict the next. Once past
        its least-squares start, an error is clipped to ±`clip` s (one tick delayed by an
        xrun must not bend the line). Returns the prediction error (s), unclipped."""
        e = t - self.t1
        n = self.n_fit = self.n_fit + 1
        if n == 1:  # one point: keep the period, take its phase
            g, h, k = 1.0, 0.0, 0.0
        elif 2 * (2 * n - 1) / (n * (n + 1)) > self.gains[0]:  # least-squares start
            g, h, k = 2 * (2 * n - 1) / (n * (n + 1)), 6 / (n * (n + 1)), 0.0
        else:
            g, h, k = self.gains
        used = max(-clip, min(clip, e)) if n > MIN_FIT else e
        self.t1 += g * used
        self.period += h * used
        self.accel += 2 * k * used
        self.predict()
        if n > 2:
            self.mse += (e * e - self.mse) / min(n - 2, 16)
        return e

    @classmethod
    def through(cls, gains, ticks: list[tuple[int, float]], period: float) -> "Loop":
        """A loop started afresh on these (index, arrival time) ticks, predicting the tick
        after the last; `period` (s) is the guess for a single tick."""
        loop = cls(gains, ticks[0][1], period)
        index = ticks[0][0]
        for i, t in ticks:
            for _ in range(i - index):  # missed ticks
                loop.predict()
            loop.update(t)
            index = i + 1
        return loop

    def predict(self) -> None:
        """Move on by one tick, the period changing at the measured rate."""
        self.t1 += self.period + self.accel / 2
        self.period += self.accel


NARROW = (math.sqrt(2) * OMEGA - OMEGA ** 2, OMEGA ** 2, 0.0)
WIDE = (1 - THETA ** 3, 1.5 * (1 - THETA) ** 2 * (1 + THETA), 0.5 * (1 - THETA) ** 3)


class TickFilter:
    """Tick numbering and a DLL through the tick arrivals (see the module docstring).

    Parameters
    ----------
    period : float
        Tick period (s) to assume until ticks say otherwise.
    """

    def __init__(self, period: float):
        self.restart(0, 0.0, period)

    # --- state -----------------------------------------------------------------------------
    def restart(self, next_index: int, t: float, period: float) -> None:
        """Forget all ticks; the next tick is `next_index`, expected at about `t` (s), `period` s
        apart. Its arrival time is taken as it comes: the first `MIN_FIT` ticks are numbered
        one after the other."""
        self.n1 = next_index  # the tick the loops predict next
        self.loops = [Loop(NARROW, t, period), Loop(WIDE, t, period)]
        self.loop = self.loops[0]  # the one the grid follows
        self.pending: list[float] = []
        self.recent: deque[tuple[int, float, float]] = deque(maxlen=RUN)  # (index, time, error)
        self.settled: deque[tuple[int, float]] = deque(maxlen=WINDOW)  # (index, time)
        self.history: list[tuple[int, float]] = []  # (index, time) since the restart, REVIEW at most
        self.jitter = 0.001  # s, rms of the loop's errors (arrival jitter + the loop's own)
        self.last_time: float | None = None
        self.next_index = next_index  # provisional: held arrivals numbered the likeliest way

    @property
    def t1(self) -> float:
        """Predicted time (s) of the next tick, n1."""
        return self.loop.t1

    @property
    def period(self) -> float:
        """Filtered tick period (s)."""
        return self.loop.period

    @property
    def n_fit(self) -> int:
        """Ticks the followed loop has taken since it (re)started. Below MIN_FIT (12, half a
        beat) arrivals are numbered one after the other: no missed tick is looked for yet."""
        return self.loop.n_fit

    def time_of_tick(self, tick: float) -> float:
        """Predicted time (s) of tick `tick` (fractional ticks lie on the line)."""
        return self.t1 + (tick - self.n1) * self.period

    def tick_at(self, t: float) -> float:
        """Tick position (fractional) at time `t` (s)."""
        return self.n1 + (t - self.t1) / self.period

    def jump(self, next_index: int) -> None:
        """The next tick is `next_index` (a Song Position while running): settle what is held,
        then renumber; the tempo and phase are kept."""
        self.flush()
        shift = next_index - self.n1
        self.n1 = next_index
        self.recent = deque(((i + shift, t, e) for i, t, e in self.recent), maxlen=RUN)
        self.settled = deque(((i + shift, t) for i, t in self.settled), maxlen=WINDOW)
        self.history = [(i + shift, t) for i, t in self.history]
        self.next_index = next_index

    # --- arrivals --------------------------------------------------------------------------
    def add(self, t: float) -> None:
        """A tick arrived at `t` (s)."""
        self.last_time = t
        self.pending.append(t)
        self._resolve(force=False)

    def flush(self) -> None:
        """Settle every held arrival the likeliest way."""
        while self.pending:
            self._resolve(force=True)

    def _resolve(self, force: bool) -> None:
        missed = 0  # ticks missing among the held arrivals, numbered the likeliest way
        searches = 0
        while self.pending:
            if self.n_fit < MIN_FIT:  # too few ticks for a period to judge a gap by
                self._settle(self.n1, self.pending.pop(0))
                continue
            if searches == SEARCHES and not force:
                break  # the rest at the next arrival: a search takes up to 1 ms in Python
            searches += 1
            by_first, missed = self._numberings()
            change = self._change_cost()
            first = min(range(len(by_first)), key=by_first.__getitem__)
            best = by_first[first]
            full = force or len(self.pending) >= LOOKAHEAD
            if change < best and len(self.pending) >= 3 and (full or best - change >= DECIDE):
                times, self.pending = self.pending, []
                self._restart_on([(self.n1 + j, t) for j, t in enumerate(times)])
                missed = 0
                break
            others = min([c for k, c in enumerate(by_first) if k != first]
                         + ([change] if first != 0 else []))
            if not full and others - best < DECIDE:
                break  # wait for the next arrival to tell
            self._settle(self.n1 + first, self.pending.pop(0))
            missed = 0
        self.next_index = self.n1 + len(self.pending) + missed

    def _numberings(self) -> tuple[list[float], int]:
        """For the held arrivals: the cost (nats) of the best numbering given k ticks missed
        before the first (k = 0..MAX_MISSED), and how many are missed in the best numbering
        overall. Twice: the loop's own phase and period are uncertain (after a restart, from
        a few ticks), and an error in them moves every held arrival alike, so the second pass
        predicts from the loop corrected by the best numbering of the first (a least-squares
        offset and slope, shrunk towards the loop by its uncertainty)."""
        by_first, path = self._viterbi(self.t1, self.period)
        if len(self.pending) >= 2:
            t1, period = self._corrected(path)
            by_first, path = self._viterbi(t1, period)
        return by_first, path[-1]

    def _viterbi(self, t1: float, period: float) -> tuple[list[float], list[int]]:
        """Costs (nats) by ticks missed before the first held arrival, and the best numbering
        (missed ticks so far, per held arrival), predicting tick n1 + j at t1 + j * period."""
        var2 = 2 * self.jitter ** 2
        states = range(MAX_HELD_MISSED + 1)
        fits = [[min((t - t1 - (j + c) * period) ** 2 / var2, OUTLIER_COST) for c in states]
                for j, t in enumerate(self.pending)]
        # While the period rests on few ticks, a drift of the held arrivals is as likely a
        # wrong period as a missed tick: ask for more evidence of the latter.
        drop = EARLY_DROP_COST if self.loop.n_fit < EARLY else DROP_COST
        by_first, best_total, best_path = [], math.inf, []
        for k0 in range(MAX_MISSED + 1):
            cost = [k0 * drop + fits[0][k0] if c == k0 else math.inf for c in states]
            back = []
            for fit in fits[1:]:
                prev = [min(range(max(0, c - MAX_MISSED), c + 1),
                            key=lambda p, c=c: cost[p] + (c - p) * drop) for c in states]
                cost = [cost[p] + (c - p) * drop + fit[c] for c, p in zip(states, prev)]
                back.append(prev)
            total = min(cost)
            by_first.append(total)
            if total < best_total:
                c = cost.index(total)
                path = [c]
                for prev in reversed(back):
                    c = prev[c]
                    path.append(c)
                best_total, best_path = total, path[::-1]
        return by_first, best_path

    def _corrected(self, path: list[int]) -> tuple[float, float]:
        """The loop's (t1, period) moved by the offset and slope that best fit the held
        arrivals numbered by `path`: ridge regression with the loop's uncertainty as prior."""
        n_eff = self.loop.memory
        var = self.jitter ** 2
        v_t, v_p = var * 4 / n_eff, var * 12 / (n_eff * (n_eff ** 2 - 1))
        u = [j + c for j, c in enumerate(path)]
        r = [t - self.t1 - x * self.period for t, x in zip(self.pending, u)]
        inliers = [(x, y) for x, y in zip(u, r) if y * y / (2 * var) < OUTLIER_COST]
        if not inliers:
            return self.t1, self.period
        u, r = [x for x, _ in inliers], [y for _, y in inliers]
        a11, a12 = len(u) / var + 1 / v_t, sum(u) / var
        a22 = sum(x * x for x in u) / var + 1 / v_p
        b1, b2 = sum(r) / var, sum(x * y for x, y in zip(u, r)) / var
        det = a11 * a22 - a12 * a12
        offset, slope = (a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det
        return self.t1 + offset, self.period + slope

    def _change_cost(self) -> float:
        """Cost (nats) of "the tempo changed": the held arrivals as consecutive ticks on a
        least-squares line of their own."""
        n = len(self.pending)
        if n < 3:
            return CHANGE_COST  # two points always lie on a line
        mean_j, mean_t = (n - 1) / 2, sum(self.pending) / n
        sjj = sum((j - mean_j) ** 2 for j in range(n))
        slope = sum((j - mean_j) * (t - mean_t) for j, t in enumerate(self.pending)) / sjj
        if slope <= 0:
            return math.inf
        res = sum((t - mean_t - slope * (j - mean_j)) ** 2 for j, t in enumerate(self.pending))
        return CHANGE_COST + res / (2 * self.jitter ** 2)

    def _settle(self, index: int, t: float) -> None:
        """Number the arrival at `t` as tick `index` and update the loops with it."""
        missed = index > self.n1
        while self.n1 < index:  # missed ticks: the loops run on without a measurement
            self.n1 += 1
            for loop in self.loops:
                loop.predict()
        self.settled.append((index, t))
        # (a wrong period is a start's problem: past REVIEW ticks the period is known to
        # 0.1 %, and three ticks really missed in two beats must not be renumbered away)
        if missed and len(self.history) < REVIEW and self._renumbered():
            return
        if len(self.history) < REVIEW:
            self.history.append((index, t))
            # every other tick: the input thread holds the clock meanwhile (0.2-1 ms)
            if len(self.history) > MIN_FIT and len(self.history) % 2 and self._reviewed():
                return
        clip = max(4 * self.jitter, 0.001)
        narrow_e, wide_e = (loop.update(t, clip) for loop in self.loops)
        self.n1 += 1
        other = self.loops[self.loop is self.loops[0]]
        if other.n_fit > 18 and other.mse < SWITCH * self.loop.mse:  # 16 errors in its mse
            self.loop = other  # a tempo ramp: the wide loop; steady again: the narrow one
        e = narrow_e if self.loop is self.loops[0] else wide_e
        n = self.n_fit
        if n > 2:  # errors of a line through two points say nothing about the jitter
            clipped = min(abs(e), clip, self.period / 2)  # nor an xrun's tick or a misnumbered one
            w = max(1 / (n - 2), 1 / 32)  # a running mean at first, then ~32 ticks of memory
            self.jitter = max(math.sqrt((1 - w) * self.jitter ** 2 + w * clipped ** 2), JITTER_FLOOR)
        # The narrow loop stands for "the tempo holds": RUN of its errors to one side say it
        # changed, and it starts afresh from those ticks (the wide one is already following).
        self.recent.append((index, t, narrow_e))
        if self.loops[0].n_fit > MIN_FIT and len(self.recent) == RUN:
            errs = [r[2] for r in self.recent]
            bound = max(3 * self.jitter, 0.001)
            if all(x > bound for x in errs) or all(x < -bound for x in errs):
                fresh = Loop.through(NARROW, [(i, t) for i, t, _ in self.recent], self.period)
                self.loop = fresh if self.loop is self.loops[0] else self.loop
                self.loops[0] = fresh
                # ... and the ticks before lie on another line: the review starts again
                self.history = [(i, t) for i, t, _ in self.recent]
                self.recent.clear()

    def _renumbered(self) -> bool:
        """Missed ticks keep being found: if the last WINDOW settled arrivals lie on a line
        as well without them (one after the other), the period was wrong, not the source
        (an unlucky start at heavy jitter, each "missed" tick making up for a period a bit
        short). Then renumber them so and restart the loops on them. True if it did."""
        first, last = self.settled[0][0], self.settled[-1][0]
        missed = last - first - (len(self.settled) - 1)
        if missed < SUSPECT:
            return False
        times = [t for _, t in self.settled]
        nats = len(times) / (2 * self.jitter ** 2)  # per unit of mean square error
        as_numbered = _line_rms([i for i, _ in self.settled], times) ** 2 * nats + missed * DROP_COST
        one_after_other = _line_rms(range(len(times)), times) ** 2 * nats
        if one_after_other > as_numbered:  # (placing "missed" ticks always fits the jitter a bit)
            return False
        self._restart_on([(first + j, t) for j, t in enumerate(times)])
        return True

    def _reviewed(self) -> bool:
        """The ticks since the restart, numbered anew as a whole (`renumbering`): a tick
        numbered wrongly in the first beats, while the period rested on a dozen ticks, shows
        as the ticks after it lying off the line by a whole period. If another numbering wins
        by REVIEW_MARGIN, the loops restart on it. True if they did."""
        x = np.array([i for i, _ in self.history], dtype=float)
        t = np.array([t for _, t in self.history])
        better = renumbering(x, t, DROP_COST, REVIEW_MARGIN, first=MIN_FIT, tail=RUN + 4)
        if better is None:
            return False
        self._restart_on([(int(i), u) for i, u in zip(better, t)])
        return True

    def _restart_on(self, ticks: list[tuple[int, float]]) -> None:
        """Both loops start afresh on these (index, arrival time) ticks (the tempo changed at
        once, or they were numbered anew), predicting the one after the last."""
        (i0, t0), (i1, t1) = ticks[0], ticks[-1]
        period = (t1 - t0) / (i1 - i0) if i1 > i0 and t1 > t0 else self.period
        self.loops = [Loop.through(gains, ticks, period) for gains in (NARROW, WIDE)]
        self.loop = self.loops[0]
        self.n1 = i1 + 1
        self.recent.clear()
        self.settled = deque(ticks, maxlen=WINDOW)
        self.history = list(ticks)[-REVIEW:]


def _line_rms(x, y) -> float:
    """Root mean square distance (s) of the points (x, y) from their least-squares line."""
    x = list(x)
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sxx
    return math.sqrt(sum((b - my - slope * (a - mx)) ** 2 for a, b in zip(x, y)) / n)


def renumbering(x: np.ndarray, t: np.ndarray, drop_cost: float, margin: float,
                first: int = 1, tail: int = 1) -> np.ndarray | None:
    """A likelier numbering of ticks numbered `x` (ints as floats, rising; the first one is
    fixed: the tick after a Start) that arrived at `t` (s), or None if none wins by `margin`
    nats. Tried: each numbering one edit away, a contiguous run of ticks moved by one (a
    missed tick put in, taken out, or moved); and the ticks one after the other, with or
    without one missed tick (where a period a little short made missed ticks of late ones
    all along, no single edit fits better). A run moved starts at least `first` ticks after
    the first and `tail` before the end (there the look-ahead decides). Each numbering is
    scored by its profile likelihood under Gaussian jitter about a line in the tick index
    (the jitter's size unknown: (m/2) ln SSE nats for m ticks) plus `drop_cost` nats per
    missed tick: a maximum-likelihood choice between tick-count hypotheses over the whole
    window, not only the loop's last few ticks. The line is a parabola (a tempo ramp) where
    the ticks as numbered fit one better by `CURVED` nats; a parabola's freedom otherwise
    lets a false missed tick near the window's edge pass for a bend."""
    m = len(x)
    j = np.arange(m)
    plain = x[0] + j.astype(float)
    gaps = np.flatnonzero(np.diff(x) >= 2) + 1  # arrivals after a missed tick
    ends = np.concatenate((gaps, [m]))
    starts = np.arange(first, m - tail + 1)
    # (base, a, b, sign): the base numbering (0 as numbered, 1 one after the other) moved by
    # sign over arrivals [a, b)
    parts = [(np.array([0, 1]), np.zeros(2, int), np.zeros(2, int), 0),  # as they are
             (1, starts, m, 1)]                  # one after the other, a tick missed before a
    parts += [(0, starts[starts < e], e, 1) for e in ends]  # a missed tick put in (one fewer at e)
    parts += [(0, g, np.arange(g + 1, m + 1), -1) for g in gaps[gaps >= first]]  # ... taken out
    parts = [part for part in parts if all(np.size(v) for v in part)]
    sizes = [max(np.size(v) for v in part) for part in parts]
    base, a, b, sign = (np.concatenate([np.resize(part[i], n) for part, n in zip(parts, sizes)])
                        for i in range(4))
    sign = sign.astype(float)
    tc = t - t.mean()
    centre = x.mean()
    u = x - centre
    design = np.stack((np.ones(m), u, u * u), axis=1)
    line, parabola = (max(np.sum((tc - design[:, :d + 1] @ np.linalg.lstsq(
        design[:, :d + 1], tc, rcond=None)[0]) ** 2), 1e-30) for d in (1, 2))
    degree = 2 if 0.5 * m * math.log(line / parabola) > CURVED else 1
    sse = np.empty(len(base))
    for k, numbering in enumerate((x, plain)):
        rows = base == k
        sse[rows] = _sse(numbering - centre, tc, a[rows], b[rows], sign[rows], degree)
    last = np.where(base == 0, x[-1], plain[-1]) + sign * (b == m)
    drops = last - x[0] - (m - 1)
    cost = 0.5 * m * np.log(sse) + drop_cost * drops
    best = int(np.argmin(cost))
    if cost[0] - cost[best] < margin:
        return None
    numbering = (x, plain)[base[best]].copy()
    numbering[a[best]:b[best]] += sign[best]
    return numbering


def _sse(u: np.ndarray, tc: np.ndarray, a: np.ndarray, b: np.ndarray, s: np.ndarray,
         degree: int) -> np.ndarray:
    """Sum of squared residuals (s^2) of the times `tc` (centred) about their least-squares
    polynomial of `degree` (1 or 2) in the tick indices `u` (centred) moved by s[k] over
    [a[k], b[k]), for every k at once: the sums of the normal equations from prefix sums,
    so each numbering costs the same whatever the window's length."""
    zero = np.zeros(1)
    P = [np.concatenate((zero, np.cumsum(u ** k))) for k in range(2 * degree + 1)]
    Q = [np.concatenate((zero, np.cumsum(u ** k * tc))) for k in range(degree + 1)]
    R = [p[b] - p[a] for p in P]
    T = [q[b] - q[a] for q in Q]
    S = [p[-1] for p in P]
    s1 = S[1] + s * R[0]
    s2 = S[2] + 2 * s * R[1] + R[0]
    b1 = Q[1][-1] + s * T[0]
    stt = tc @ tc
    if degree == 1:  # (the times are centred: their sum is 0)
        return np.maximum(stt - b1 * b1 * S[0] / (S[0] * s2 - s1 * s1), 1e-30)
    s3 = S[3] + 3 * s * R[2] + 3 * R[1] + s * R[0]
    s4 = S[4] + 4 * s * R[3] + 6 * R[2] + 4 * s * R[1] + R[0]
    b2 = Q[2][-1] + 2 * s * T[1] + T[0]
    s0 = np.full_like(s1, S[0])
    gram = np.stack((np.stack((s0, s1, s2), -1), np.stack((s1, s2, s3), -1),
                     np.stack((s2, s3, s4), -1)), -2)
    rhs = np.stack((np.zeros_like(b1), b1, b2), -1)
    coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
    return np.maximum(stt - np.einsum("ki,ki->k", coef, rhs), 1e-30)
