"""The 16th grid (mappings/basics/grid.py): known values, and that it is the one home of them."""
import re
from pathlib import Path

import pytest

from drumd.mappings.basics import grid
from drumd.mappings.basics.grid import (PPQN, STEP_TICKS, STEPS_PER_BAR, STEPS_PER_BEAT,
                                        nearest_step, nearest_step_at_seconds, nearest_step_at_tick,
                                        seconds_per_step, steps_per_bar, steps_to_ticks,
                                        ticks_to_steps)

ROOT = Path(__file__).resolve().parents[1]


def test_constants():
    assert (PPQN, STEPS_PER_BEAT, STEP_TICKS, STEPS_PER_BAR) == (480, 4, 120, 16)


@pytest.mark.parametrize("meter, steps", [
    ((4, 4), 16), ((3, 4), 12), ((6, 8), 12), ((7, 8), 14), ((5, 4), 20), ((2, 2), 16),
    ((7, 16), 7), ((12, 8), 24), ((1, 1), 16),
])
def test_steps_per_bar(meter, steps):
    assert steps_per_bar(*meter) == steps


@pytest.mark.parametrize("meter, why", [((5, 32), "not a whole number of 16th"),
                                        ((3, 64), "not a whole number of 16th"),
                                        ((0, 4), "not a meter"), ((4, 0), "not a meter")])
def test_steps_per_bar_refuses(meter, why):
    with pytest.raises(ValueError, match=why):
        steps_per_bar(*meter)


def test_seconds_per_step():
    assert seconds_per_step(120) == 0.125
    assert seconds_per_step(60) == 0.25
    assert seconds_per_step(90) == pytest.approx(1 / 6)
    for bad in (0, -120, float("nan")):
        with pytest.raises(ValueError, match="BPM"):
            seconds_per_step(bad)


def test_ticks_and_steps():
    assert ticks_to_steps(120) == 1.0 and ticks_to_steps(60) == 0.5
    assert ticks_to_steps(96, ticks_per_beat=96) == 4.0  # one beat of a 96 PPQN file
    assert ticks_to_steps(1, ticks_per_beat=3) == pytest.approx(4 / 3)
    assert steps_to_ticks(1) == 120 and steps_to_ticks(-0.25) == -30
    assert steps_to_ticks(0.5, ticks_per_beat=1) == 0 and steps_to_ticks(2, ticks_per_beat=1) == 1
    assert steps_to_ticks(1 / 240) == 1  # half a tick rounds up


def test_nearest_step_halfway_goes_later():
    assert [nearest_step(t) for t in (0.0, 0.49, 0.5, 0.51, 1.49, -0.5, -0.51)] == [0, 0, 1, 1, 1, 0, -1]
    assert nearest_step_at_tick(59) == 0 and nearest_step_at_tick(60) == 1
    assert nearest_step_at_tick(180) == 2 and nearest_step_at_tick(48, ticks_per_beat=96) == 2
    assert nearest_step_at_seconds(0.0625, 120) == 1  # half a 16th at 120 BPM
    assert nearest_step_at_seconds(0.06, 120) == 0
    assert nearest_step_at_seconds(1.0, 120) == 8
    assert nearest_step_at_seconds(1.0, 60) == 4


# Files that must not define the grid themselves. Those still being edited by others keep
# their own constants for now (see the #13 report) and are not listed.
GRID_USERS = ["engine/data/encoding.py", "engine/sampling/generate.py", "engine/evaluation/baselines.py",
              "engine/data/stepfiles.py", "engine/data/gmd.py", "engine/evaluation/plots.py", "daemon/play/record.py",
              "daemon/play/modes.py", "daemon/cli/audio.py", "mappings/basics/midifile.py"]


@pytest.mark.parametrize("path", GRID_USERS)
def test_grid_constants_have_one_home(path):
    text = (ROOT / path).read_text()
    own = re.findall(r"^(?:TICKS_PER_BEAT|PPQN|STEPS_PER_BEAT|STEPS_PER_BAR|STEP_TICKS)\s*=",
                     text, re.M)
    assert not own, f"{path} defines {own}: import them from drumd.mappings.basics.grid"
    assert not re.search(r"=\s*480\b", text), f"{path} has its own 480 ticks per beat"


def test_grid_module_is_pure():
    text = Path(grid.__file__).read_text()
    assert not re.search(r"^(?:import|from) (?!__future__|math|fractions)", text, re.M)
