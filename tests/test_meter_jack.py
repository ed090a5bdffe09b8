"""`drumd serve --meter 3/4` through the real stack (issue #14): on a JACK dummy server, on its
own clock, with a checkpoint that learnt 3/4 (the shipped weights and a 3/4 warm-up groove of
rock): the take is labelled 3/4 and drumd's kicks fall on the 3/4 downbeats (12 16ths apart);
with the shipped checkpoint, which learnt 4/4 only, drumd says so in one line and plays on."""
import time

import mido
import numpy as np
import pytest

from jackstack import Drumd

from drumd.engine.data.encoding import quantize_hits
from drumd.engine.model.checkpoint import load_checkpoint, save_checkpoint
from drumd.engine.sampling.warmup import build_bank, bank_to_meta
from drumd.mappings.basics.grid import STEP_TICKS
from drumd.mappings.basics.midifile import read_drum_notes

pytestmark = pytest.mark.jack

KICK, SNARE, HAT = 36, 38, 42


def waltz(seed):
    """Eight bars of 3/4 rock: hats on 8ths, a kick on one, snares on two and three."""
    rng = np.random.default_rng(seed)
    onsets = [(t + rng.normal(0, 0.04), HAT, int(rng.integers(60, 90))) for t in range(0, 96, 2)]
    onsets += [(b * 12, KICK, 110) for b in range(8)] + [(b * 12 + i, SNARE, 100)
                                                          for b in range(8) for i in (4, 8)]
    p = quantize_hits(onsets)
    p.style, p.meter = "rock", (3, 4)
    return p


@pytest.fixture(scope="module")
def waltz_checkpoint(tmp_path_factory):
    base = load_checkpoint(None)
    bank = {**base.meta["warmup"], **bank_to_meta(build_bank([waltz(s) for s in range(4)], ["rock"]))}
    path = tmp_path_factory.mktemp("waltz") / "waltz.pt"
    save_checkpoint(path, base.model, base.styles, {"meters": ["4/4", "3/4"], "warmup": bank})
    return path


def test_serve_plays_and_records_three_four(jack, waltz_checkpoint, tmp_path):
    take = tmp_path / "take.mid"
    drumd = Drumd(jack, "--checkpoint", str(waltz_checkpoint), "--clock", "internal", "--bpm", "300",
                  "--meter", "3/4", "--style", "rock", "--quantize", "1", "--fill-every", "0",
                  "--record", str(take), "--seed", "4", client="drumd-waltz")
    time.sleep(5.0)
    out = drumd.terminate()
    assert "learnt" not in out and "Traceback" not in out, out
    sigs = [(m.numerator, m.denominator) for tr in mido.MidiFile(take).tracks
            for m in tr if m.type == "time_signature"]
    assert sigs == [(3, 4)], sigs
    steps = [n.tick // STEP_TICKS for n in read_drum_notes(take).notes if n.note == KICK]
    bars = max(steps) // 12
    assert bars >= 4, out
    on_one = sum(b * 12 in steps for b in range(bars))
    print(f"kick on one in {on_one} of {bars} 3/4 bars")
    assert on_one / bars >= 0.7, f"a kick on one in {on_one} of {bars} 3/4 bars: {sorted(steps)}"


def test_serve_says_when_the_model_never_learnt_the_meter(jack, drumd_checkpoint, tmp_path):
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "internal",
                  "--meter", "7/8", client="drumd-seven")
    time.sleep(1.0)
    out = drumd.terminate()
    assert out.count("learnt 4/4 only, not 7/8") == 1 and "Traceback" not in out, out
