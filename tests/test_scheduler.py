"""The sender on a fake clock and a fake port: timing, note-off bookkeeping, silence."""
import pytest

from drumd.daemon.timing.scheduler import Sender


class Grid:
    """A fake clock: step k at t0 + k * dur; `running` False makes positions unresolvable."""

    def __init__(self, t0=10.0, dur=0.125):
        self.t0, self.dur, self.running = t0, dur, True

    def __call__(self, pos):
        return self.t0 + pos * self.dur if self.running else None


def make(gate=0.06, grid=None):
    sent = []
    clock = {"now": 0.0}
    s = Sender(sent.append, grid or Grid(), gate=gate, now=lambda: clock["now"],
               on_sent=lambda t, m, pos: None)
    return s, sent, clock


def advance(s, clock, until):
    """Drive run_due the way the thread does: jump to each due time in turn."""
    while True:
        with s.cond:
            t_next = s.run_due(clock["now"])
        if t_next > until:
            clock["now"] = until
            return
        clock["now"] = t_next


def test_on_grid_messages_go_at_the_predicted_time_and_get_note_offs():
    grid = Grid()
    s, sent, clock = make(grid=grid)
    times = []
    s._send = lambda m: (sent.append(m), times.append(clock["now"]))
    s.on_grid(4.0, [0x99, 36, 100])
    s.on_grid(4.25, [0x99, 42, 80])  # microtiming: a quarter step late
    s.on_grid(3.9, [0x99, 38, 90])   # and one early
    advance(s, clock, 20.0)
    assert sent == [[0x99, 38, 90], [0x99, 36, 100], [0x99, 42, 80],
                    [0x89, 38, 0], [0x89, 36, 0], [0x89, 42, 0]]
    assert times[:3] == pytest.approx([10.4875, 10.5, 10.53125])
    assert times[3:] == pytest.approx([10.5475, 10.56, 10.59125])  # gate 60 ms


def test_the_clock_moving_moves_what_is_queued():
    grid = Grid()
    s, sent, clock = make(grid=grid)
    times = []
    s._send = lambda m: (sent.append(m), times.append(clock["now"]))
    s.on_grid(8.0, [0x99, 36, 100])
    with s.cond:
        assert s.run_due(10.0) == pytest.approx(11.0)
    grid.dur = 0.1  # a new tick says the tempo went up
    advance(s, clock, 20.0)
    assert times[0] == pytest.approx(10.8)


def test_stopped_transport_holds_grid_messages():
    grid = Grid()
    grid.running = False
    s, sent, clock = make(grid=grid)
    s.on_grid(0.0, [0x99, 36, 100])
    with s.cond:
        assert s.run_due(100.0) == float("inf")
    assert sent == []


def test_retrigger_closes_the_previous_note_once():
    s, sent, clock = make(gate=0.2)
    s.on_grid(0.0, [0x99, 36, 100])
    s.on_grid(0.5, [0x99, 36, 90])  # 62.5 ms later, inside the first note's gate
    advance(s, clock, 20.0)
    ons = [m for m in sent if m[0] == 0x99]
    offs = [m for m in sent if m[0] == 0x89]
    assert len(ons) == 2 and len(offs) == 2
    assert sent == [[0x99, 36, 100], [0x89, 36, 0], [0x99, 36, 90], [0x89, 36, 0]]
    assert s.sounding == {}


def test_silence_sends_note_offs_for_sounding_notes_then_cc123():
    s, sent, clock = make(gate=1.0)
    s.on_grid(0.0, [0x99, 36, 100])
    s.on_grid(0.0, [0x99, 42, 100])
    s.on_grid(8.0, [0x99, 38, 100])  # planned, never sounds
    advance(s, clock, 10.01)
    sent.clear()
    s.silence()
    assert sent == [[0x89, 36, 0], [0x89, 42, 0], [0xB9, 123, 0]]
    sent.clear()
    advance(s, clock, 30.0)  # the stale note-offs and the dropped note-on stay quiet
    assert sent == []


def test_every_note_on_gets_exactly_one_note_off_under_random_traffic():
    import random
    rng = random.Random(3)
    s, sent, clock = make(gate=0.08)
    for k in range(400):
        for pitch in rng.sample([36, 38, 42, 46], rng.randint(0, 3)):
            s.on_grid(k + rng.uniform(-0.5, 0.5), [0x99, pitch, rng.randint(1, 127)])
        if k == 200:
            advance(s, clock, Grid()(k - 3))
            s.silence()
    advance(s, clock, 1e6)
    for pitch in (36, 38, 42, 46):
        depth = 0
        for m in sent:
            if m[1] == pitch and m[0] == 0x99:
                assert depth == 0
                depth += 1
            elif m[1] == pitch and m[0] == 0x89:
                assert depth == 1
                depth -= 1
        assert depth == 0


def test_sender_thread_sends_on_time():
    """The real thread with the real clock: lateness stays small (no load assumptions: 20 ms)."""
    import time
    sent = []
    t0 = time.perf_counter() + 0.05
    s = Sender(lambda m: sent.append((time.perf_counter(), m)), lambda pos: t0 + pos * 0.02, gate=0.01)
    s.start()
    try:
        for k in range(10):
            s.on_grid(k, [0x99, 36, 100])
        time.sleep(0.35)
    finally:
        s.close()
    ons = [t for t, m in sent if m[0] == 0x99]
    assert len(ons) == 10
    for k, t in enumerate(ons):
        assert 0 <= t - (t0 + k * 0.02) < 0.02
