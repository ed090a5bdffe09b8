"""The engine thread's decisions (daemon/play/planner.py) on plain values: no threads, no clock
running, no sampler. The session carries them out (tests/test_daemon.py and the JACK tests)."""
import pytest

from drumd.daemon.play.planner import DEADLINE, Bars, BarPosition, StepPlanner
from drumd.daemon.timing.clock import CONTINUE, JACK_TRANSPORT, START, TICK, Clock, ClockView, tick_period


def view(epoch, running=True, start=0, source="internal", bpm=120.0):
    return ClockView(epoch=epoch, running=running, start_step=start, bpm=bpm, source=source,
                     fallback=False)


def steps(planner, n, fill_requests=(), guitar=None):
    """Plan n steps; fill asked at the steps in `fill_requests`; guitar(k) -> the gate or None."""
    return [planner.plan_step(planner.k in fill_requests, guitar(planner.k) if guitar else None)
            for _ in range(n)]


def started(start=0, mode="accompany", **kw):
    p = StepPlanner(**kw)
    assert p.resync(view(0, running=False), mode).start is None  # drumd comes up stopped
    r = p.resync(view(1, start=start), mode)
    assert r is not None and r.start == start
    return p


# --- transport: start, stop, relocate -------------------------------------------------------
def test_a_start_restarts_the_mode_at_the_start_step_primed_with_the_two_bars_before():
    p = StepPlanner((4, 4))
    assert p.resync(view(0, running=False), "generate").start is None
    r = p.resync(view(1, start=40, bpm=97.0), "call")
    assert (r.epoch, r.start, r.mode, r.bpm) == (1, 40, "call", 97.0)
    assert r.primer_steps == range(8, 40)
    assert (p.k, p.mode) == (40, "call")
    assert p.resync(view(1, start=40), "generate") is None  # same epoch: nothing to redo


def test_the_primer_is_two_bars_of_the_meter():
    p = StepPlanner((3, 4))
    assert p.resync(view(1, start=24), "generate").primer_steps == range(0, 24)


def test_a_stop_drops_the_plan_and_starts_nothing():
    p = started(start=0)
    steps(p, 10)
    r = p.resync(view(2, running=False), "accompany")
    assert r.start is None and r.clock_message is None and not r.primer_steps
    assert p.resync(view(2, running=False), "accompany") is None


def test_a_relocation_plans_from_the_new_position_and_its_first_step_is_not_judged_late():
    p = started(start=0)
    plans = steps(p, 40)
    assert [x.k for x in plans] == list(range(40))
    assert not plans[0].judged and all(x.judged for x in plans[1:])
    r = p.resync(view(2, start=4), "accompany")  # a DAW's loop back to the 5th 16th
    assert r.start == 4 and r.primer_steps == range(-28, 4)
    after = steps(p, 3)
    assert [x.k for x in after] == [4, 5, 6]
    assert [x.judged for x in after] == [False, True, True]


def test_steps_are_computed_earlier_in_generate_mode_and_due_half_a_step_before_their_grid_point():
    p = started(start=16, mode="accompany")
    assert p.compute_at() == 16 - 0.75 and p.deadline() == 16 - DEADLINE
    p = started(start=16, mode="generate")
    assert p.compute_at() == 16 - 1.5 and p.deadline() == 15.5
    p.plan_step()
    assert p.compute_at() == 17 - 1.5


@pytest.mark.parametrize("start, send_clock, source, message", [
    (0, True, "internal", START),
    (32, True, "internal", CONTINUE),
    (0, False, "internal", None),         # --send-clock off
    (0, True, "external", None),          # following a DAW's MIDI clock: it sends its own
    (0, True, JACK_TRANSPORT, None),
])
def test_send_clock_says_start_at_song_position_zero_and_continue_elsewhere(start, send_clock,
                                                                              source, message):
    p = StepPlanner(send_clock=send_clock)
    assert p.resync(view(1, start=start, source=source), "generate").clock_message == message


# --- mode changes -----------------------------------------------------------------------------
def test_another_mode_asked_starts_once_and_changes_when_steps_are_computed():
    p = started(mode="accompany")
    assert not p.switch_mode("accompany")
    assert p.switch_mode("generate")
    assert not p.switch_mode("generate")  # started once
    assert p.mode == "generate" and p.compute_at() == 0 - 1.5


# --- fills ------------------------------------------------------------------------------------
def fills(plans):
    return [x.k for x in plans if x.fill]


def test_a_fill_runs_to_the_end_of_the_bar_it_is_asked_in():
    p = started()
    assert fills(steps(p, 40, fill_requests={2})) == list(range(2, 16))


@pytest.mark.parametrize("asked, until", [(12, 16), (13, 32), (15, 32), (16, 32)])
def test_a_fill_asked_under_a_beat_before_the_bar_line_fills_the_next_bar(asked, until):
    p = started()
    assert fills(steps(p, 48, fill_requests={asked})) == list(range(asked, until))


def test_a_fill_follows_the_meter():
    p = started(meter=(3, 4))  # 12 16ths a bar
    assert fills(steps(p, 40, fill_requests={9})) == list(range(9, 24))


def test_a_fill_asked_again_during_a_fill_runs_to_the_later_bar_line():
    p = started()
    assert fills(steps(p, 48, fill_requests={2, 14})) == list(range(2, 32))


# --- the guitar gate --------------------------------------------------------------------------
def test_without_a_guitar_every_step_plays_and_none_restarts():
    p = started()
    assert all(x.play and not x.fresh for x in steps(p, 64))


def test_the_guitar_gate_rests_then_restarts_a_fresh_groove_when_the_guitar_comes_back():
    p = started()
    plans = steps(p, 24, guitar=lambda k: not 4 <= k < 10)
    assert [x.k for x in plans if not x.play] == list(range(4, 10))
    assert [x.k for x in plans if x.fresh] == [10]  # once, on the first step back


def test_a_fill_plays_through_a_closed_gate():
    p = started()
    # the guitar's phrase ends at step 6 (it asks for a fill) and it stays silent
    plans = steps(p, 40, fill_requests={6}, guitar=lambda k: k < 6)
    assert [x.k for x in plans if x.play] == list(range(0, 16))
    assert not any(x.fresh for x in plans)
    back = steps(p, 1, guitar=lambda k: True)
    assert back[0].fresh and back[0].play


# --- bars and beats ---------------------------------------------------------------------------
@pytest.mark.parametrize("meter, step, where", [
    ((4, 4), 0, BarPosition(1, 1, 1)),
    ((4, 4), 17, BarPosition(2, 1, 2)),
    ((4, 4), 15, BarPosition(1, 4, 4)),
    ((4, 4), -1, BarPosition(0, 4, 4)),   # computed ahead of the start: before bar 1
    ((3, 4), 12, BarPosition(2, 1, 1)),
    ((6, 8), 11, BarPosition(1, 6, 2)),   # 8th-note beats
    ((7, 8), 14, BarPosition(2, 1, 1)),
])
def test_bars_place_a_step_in_bar_beat_and_sixteenth(meter, step, where):
    assert Bars(meter).position(step) == where


def test_next_bar_line():
    b = Bars((5, 4))
    assert [b.next_bar_line(k) for k in (0, 19, 20, -1)] == [20, 20, 40, 0]


def test_a_meter_that_is_not_whole_sixteenths_is_refused():
    with pytest.raises(ValueError, match="5/32"):
        Bars((5, 32))


# --- what the clock tells ---------------------------------------------------------------------
def test_the_clock_view_is_its_state_at_one_instant():
    c = Clock(bpm=100.0)
    assert c.view() == ClockView(0, False, 0, pytest.approx(100.0), "internal", False)
    c.start_internal(5.0, 8)
    v = c.view()
    assert (v.epoch, v.running, v.start_step, v.internal) == (1, True, 8, True)
    c.stop(6.0)
    assert v.running and not c.view().running  # a view does not change under its reader


def test_the_midi_clock_announces_each_beat_on_its_24th_tick():
    c = Clock(bpm=120.0)
    c.message([START], 0.999)
    p = tick_period(120.0)
    beats = []
    for i in range(100):
        c.message([TICK], 1.0 + i * p)
        if c.beat_tick():
            beats.append(i)
    assert beats == [23, 47, 71, 95]


def test_no_beat_is_announced_off_midi_clock():
    c = Clock(bpm=120.0)
    c.start_internal(0.0)
    assert not c.beat_tick()


# --- a resync starts the plan afresh ----------------------------------------------------------
def test_a_loop_back_ends_the_fill_asked_before_it():
    p = started()
    assert fills(steps(p, 64, fill_requests={60})) == [60, 61, 62, 63]  # to bar 5's line (64)
    p.resync(view(2, start=0), "accompany")  # the DAW loops back to bar 1
    assert fills(steps(p, 64)) == []  # not bars 1 to 4 as fills


def test_a_relocation_keeps_the_primer_when_the_guitar_plays_at_the_new_position():
    p = started()
    steps(p, 40, guitar=lambda k: k < 20)  # the guitar rested from step 20
    p.resync(view(2, start=64), "accompany")  # the mode restarts there, primed
    assert not p.plan_step(guitar_plays=True).fresh  # not restarted again without the primer
