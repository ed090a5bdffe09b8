"""Which evaluation becomes best.pt (engine/training/selection.py): events, all, auto."""
import math

import pytest

from drumd.engine.training.selection import Selection


def kept(mode, evals, hits=1.0, start=True):
    """Feed (val_nll, val_expr) evaluations, the first the fine-tune's start when `start`;
    returns the indices that became best.pt and the selection."""
    sel = Selection(mode, hits)
    first = 0 if start else 10  # a run from scratch first evaluates after some iterations
    keep = [i for i, (nll, expr) in enumerate(evals) if sel.judge(nll, expr, first + 10 * i)]
    return keep, sel


# a fine-tune on human playing: events improve, velocity and timing only get worse
HUMAN = [(1.084, 4.40), (1.082, 4.45), (1.079, 4.43), (1.078, 4.44), (1.080, 4.46)]
# a programmed pack: events flat, velocity and timing fall fast
PROGRAMMED = [(1.067, 4.72), (1.070, 3.00), (1.061, 2.00), (1.066, 1.20), (1.075, 0.70)]


def test_events_and_all_each_keep_their_own_lowest():
    assert kept("events", HUMAN)[0] == [0, 1, 2, 3]
    assert kept("all", HUMAN)[0] == [0]  # every later whole is worse than the start's 5.484
    assert kept("events", PROGRAMMED)[0] == [0, 2]
    assert kept("all", PROGRAMMED)[0] == [0, 1, 2, 3, 4]


def test_auto_is_events_until_the_whole_beats_the_start_then_all():
    keep, sel = kept("auto", HUMAN)
    assert keep == [0, 1, 2, 3] and sel.on == "events" and sel.best == 1.078
    keep, sel = kept("auto", PROGRAMMED)
    assert keep == [0, 1, 2, 3, 4] and sel.on == "all" and sel.best == pytest.approx(1.775)
    # events first, then the whole gains: from there only the whole counts
    keep, sel = kept("auto", [(1.0, 5.0), (0.9, 5.1), (1.0, 4.0), (0.8, 4.5), (1.0, 3.9)])
    assert keep == [0, 1, 2, 4] and sel.on == "all"


def test_from_scratch_auto_is_all():
    keep, sel = kept("auto", HUMAN, start=False)
    assert keep == [0] and sel.on == "all"


def test_patience_counts_evaluations_since_best_pt_changed():
    _, sel = kept("auto", HUMAN)
    assert sel.bad_evals == 1
    _, sel = kept("all", HUMAN)
    assert sel.bad_evals == 4


def test_resume_carries_the_choice_and_reads_an_older_last_pt():
    _, sel = kept("auto", PROGRAMMED[:2])
    again = Selection("auto", 1.0)
    again.resume({"selection": sel.state()})
    assert again.state() == sel.state() and again.on == "all"
    old = Selection("events", 1.0)
    old.resume({"best": 1.07, "bad_evals": 2})
    assert old.best == 1.07 and old.bad_evals == 2 and math.isinf(old.best_all)


def test_an_unknown_mode_is_one_line():
    with pytest.raises(ValueError, match="select_on 'velocity': expected one of events, all, auto"):
        Selection("velocity", 1.0)
