"""What `drumd eval` reports of following a player (engine/evaluation/follow_eval.py), on the shipped model:
seeded, with the player ignored (follow 0) as the control, so each figure can fail."""
import pytest

from drumd.engine.model.checkpoint import load_checkpoint
from drumd.engine.evaluation.follow_eval import following


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
