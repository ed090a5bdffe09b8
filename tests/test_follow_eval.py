"""What `drumd eval` reports of following a player (engine/evaluation/follow_eval.py), on the shipped model:
seeded, with the player ignored (follow 0) as the control, so each figure can fail."""
import pytest

from drumd.engine.evaluation.follow_eval import following
from drumd.engine.model.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def figures():
    return following(load_checkpoint(None), ["rock"], runs=2, bars=8, seed=0)["rock"]


def test_following_gives_way_and_covers_the_taps(figures):
    off, on = figures["0"], figures["0.8"]
    # over a half-time player drumd stops laying its own 2 and 4 and doubling their hits
    assert off["halftime_backbeat"] >= 0.5 and on["halftime_backbeat"] <= 0.1
    assert on["halftime_doubled"] < off["halftime_doubled"]
    # a player's kick pattern is theirs: drumd's kicks elsewhere go, its backbeat stays
    assert on["kicks_off"] <= 0.2 < off["kicks_off"] and on["kicks_backbeat"] >= 0.4
    # tapped accents get a kick or snare, at a real groove's density
    assert on["tap_accent"] >= 0.8 > off["tap_accent"] and 12 <= on["tap_hits_per_bar"] <= 22


def test_when_the_player_stops_drumd_carries_their_feel_on(figures):
    off, on = figures["0"], figures["0.8"]
    # the half-time player stops after bar 4: drumd's snare moves to 3 and stays there, its own
    # 2 and 4 do not come back, and it plays a whole groove (before the handover: snare on 3
    # in 2 of 30 bars, kick on 1 in about half)
    assert on["handover_feel"] >= 0.6 > off["handover_feel"]
    assert on["handover_backbeat"] < off["handover_backbeat"]
    assert on["handover_hits_per_bar"] >= 12
