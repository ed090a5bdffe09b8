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
  one after the other.
The loops are updated only by settled ticks; `time_of_tick` is the followed loop's
prediction, so held arrivals never move the grid by a whole tick and back.

Known limit (bench/clock_bench.py): where jitter exceeds half a tick and ticks are also
dropped (±5 ms and 1 % at 300 BPM), 3-8 % of runs still slip by a few ticks, nearly all in
the first two beats after Start, before the period is known well enough to tell a late
tick from a missed one (target: 2 %).

Pure logic, times in s (any monotonic clock), tick indices as ints. Not thread-safe.
"""
from __future__ import annotations

import math
from collections import deque

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
        if missed and self._renumbered():
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

    def _restart_on(self, ticks: list[tuple[int, float]]) -> None:
        """The tempo changed at once: both loops start afresh on these consecutive (index,
        arrival time) ticks, predicting the one after."""
        (i0, t0), (i1, t1) = ticks[0], ticks[-1]
        period = (t1 - t0) / (i1 - i0) if i1 > i0 and t1 > t0 else self.period
        self.loops = [Loop.through(gains, ticks, period) for gains in (NARROW, WIDE)]
        self.loop = self.loops[0]
        self.n1 = i1 + 1
        self.recent.clear()
        self.settled = deque(ticks, maxlen=WINDOW)


def _line_rms(x, y) -> float:
    """Root mean square distance (s) of the points (x, y) from their least-squares line."""
    x = list(x)
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sxx
    return math.sqrt(sum((b - my - slope * (a - mx)) ** 2 for a, b in zip(x, y)) / n)
