"""The step encoding: hand-made cases and round trips."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from drumd.engine.data.encoding import (CLASS_NAMES, CLASS_PITCH, NUM_EVENTS, Hit, Step, bin_to_offset,
                                        bin_to_velocity, event_bits, event_classes, event_of,
                                        offset_to_bin, performance_of, position_bits, quantize_hits,
                                        steps_of, velocity_to_bin)


def test_class_table_is_drums_rnn_order():
    assert CLASS_NAMES == ("kick", "snare", "closed_hh", "open_hh", "low_tom", "mid_tom",
                           "high_tom", "crash", "ride")
    assert CLASS_PITCH == (36, 38, 42, 46, 45, 48, 50, 49, 51)
    assert NUM_EVENTS == 512


def test_event_of_hand_made():
    assert event_of([]) == 0
    assert event_of([Hit(36, 100)]) == 0b1                      # kick
    assert event_of([Hit(36, 100), Hit(42, 80)]) == 0b101       # kick + closed hat
    assert event_of([Hit(40, 100), Hit(37, 50)]) == 0b10        # rimshot + sidestick: both snare
    assert event_of([Hit(44, 60), Hit(54, 60)]) == 0b100        # pedal and tambourine: closed hat
    assert event_of([Hit(22, 60), Hit(60, 60)]) == 0            # not GM (a Roland hat edge), a bongo
    assert event_of([Hit(59, 90), Hit(57, 90)]) == 0b110000000  # ride edge + crash 2
    assert event_of([Hit(99, 100)]) == 0                        # not a drum: ignored
    assert event_classes(0b110000000) == [7, 8]


def test_position_bits_are_a_binary_counter():
    assert position_bits(0).tolist() == [-1] * 6
    assert position_bits(5).tolist() == [1, -1, 1, -1, -1, -1]
    assert position_bits(63).tolist() == [1] * 6
    assert (position_bits(64) == position_bits(0)).all()


def test_quantize_keeps_velocity_and_offset():
    # Kick just before step 4 (pushed), snare late on step 4, hat on 0.
    perf = quantize_hits([(0.0, 42, 70), (3.8, 36, 110), (4.25, 38, 90)])
    assert perf.events.tolist() == [0b100, 0, 0, 0, 0b11]
    assert perf.velocity[4, 0] == 110 and perf.velocity[4, 1] == 90
    assert perf.offset[4, 0] == pytest.approx(-0.2, abs=1e-6)
    assert perf.offset[4, 1] == pytest.approx(0.25, abs=1e-6)


def test_quantize_merges_same_class_to_loudest():
    perf = quantize_hits([(2.1, 38, 40), (1.9, 40, 100)])
    assert perf.events[2] == 0b10
    assert perf.velocity[2, 1] == 100 and perf.offset[2, 1] == pytest.approx(-0.1, abs=1e-6)


hits = st.lists(st.tuples(st.integers(0, 40), st.sampled_from(CLASS_PITCH), st.integers(1, 127),
                          st.floats(-0.5, 0.49)), max_size=30)


@given(hits)
def test_steps_performance_round_trip(raw):
    steps = [Step() for _ in range(42)]
    seen = {}
    for t, p, v, o in raw:
        seen[(t, p)] = (v, o)  # at most one hit per class and step
    by_step = {}
    for (t, p), (v, o) in seen.items():
        by_step.setdefault(t, []).append(Hit(p, v, o))
    steps = [Step(tuple(sorted(by_step.get(t, []), key=lambda h: CLASS_PITCH.index(h.pitch))))
             for t in range(42)]
    back = steps_of(performance_of(steps))
    assert len(back) == len(steps)
    for a, b in zip(steps, back):
        assert a.event == b.event
        for ha, hb in zip(a.hits, b.hits):
            assert (ha.pitch, ha.velocity) == (hb.pitch, hb.velocity)
            assert hb.offset == pytest.approx(ha.offset, abs=1e-5)


def test_bins_round_trip():
    v = np.arange(1, 128)
    # Performances store velocity as uint8: binning must not wrap around.
    assert (velocity_to_bin(v.astype(np.uint8)) == velocity_to_bin(v)).all()
    assert velocity_to_bin(np.uint8(127)) == 15 and velocity_to_bin(np.uint8(1)) == 0
    assert (velocity_to_bin(bin_to_velocity(velocity_to_bin(v))) == velocity_to_bin(v)).all()
    assert abs(bin_to_velocity(velocity_to_bin(v)) - v).max() <= 127 / 16
    o = np.linspace(-0.5, 0.49, 100)
    assert abs(bin_to_offset(offset_to_bin(o)) - o).max() <= 1 / 32 + 1e-9
    assert event_bits(5).tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 0]
