"""Meters (issue #14): the model's inputs count bars of a performance's meter, 4/4 inputs are
those of the 4/4-only model (so the shipped checkpoint plays exactly as before), libraries
and banks keep each file's meter."""
import hashlib

import mido
import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from drumd.engine.data.encoding import (METER_INPUTS, METERS, bar_steps, event_bits, meter_lookback,
                                        parse_meter, position_bits, quantize_hits, steps_of)
from drumd.engine.data.library import METER as METER_REASON, load_library
from drumd.engine.model.checkpoint import load_checkpoint, player_path, save_checkpoint
from drumd.engine.model.features import History, sequence_features
from drumd.engine.model.lstm import DrumLSTM, ModelConfig, StepInputs
from drumd.engine.sampling.generate import generate
from drumd.engine.sampling.sampler import Sampler
from drumd.engine.sampling.warmup import build_bank

from engine_fixtures import TINY_MODEL
from test_engine_model import groove

KICK, SNARE, HAT = 36, 38, 42


def beat(meter, bars=8, seed=0, style="rock"):
    """Hats on 8ths, a kick on each bar's one, a snare on its other beats' 8ths at random."""
    rng = np.random.default_rng(seed)
    per_bar = bar_steps(meter)
    onsets = []
    for t in range(per_bar * bars):
        i = t % per_bar
        if i % 2 == 0:
            onsets.append((t + rng.normal(0, 0.05), HAT, int(rng.integers(50, 90))))
        if i == 0:
            onsets.append((t, KICK, 110))
        elif i % 4 == 0 and rng.random() < 0.7:
            onsets.append((t, SNARE, 100))
    p = quantize_hits(onsets)
    p.events = np.concatenate([p.events, np.zeros(per_bar * bars - len(p), p.events.dtype)])
    p.velocity = np.concatenate([p.velocity, np.zeros((per_bar * bars - len(p.velocity), 9), np.uint8)])
    p.offset = np.concatenate([p.offset, np.zeros((per_bar * bars - len(p.offset), 9), np.float32)])
    p.bpm, p.style, p.meter = 100.0, style, meter
    return p


# --- inputs -------------------------------------------------------------------------------------
@pytest.mark.parametrize("meter", METERS)
def test_features_count_bars_of_the_meter(meter):
    p = beat(meter)
    per_bar = bar_steps(meter)
    f = sequence_features(p, style=0)
    T = len(p)
    assert f["position"].shape == (T, 6) and f["meter"].shape == (T, METER_INPUTS)
    assert f["lookback"].shape == (T, 18)
    t = np.arange(T)
    # bits 0-3: the 16th in the bar; bits 4-5: the bar
    assert (f["position"][:, :4] == position_bits(t % per_bar)[:, :4]).all()
    assert (f["position"][:, 4:] == position_bits((t // per_bar) << 4)[:, 4:]).all()
    # lookback: what was played one and two bars of this meter back
    bits = event_bits(p.events)
    assert (f["lookback"][per_bar:, :9] == bits[:-per_bar]).all()
    assert (f["lookback"][2 * per_bar:, 9:] == bits[:-2 * per_bar]).all()
    assert meter_lookback((16, 32), meter) == (per_bar, 2 * per_bar)
    # the meter inputs: nothing in 4/4; elsewhere its one-hot, and the long bars' 16ths past 16
    assert (f["meter"][:, 0] == (t % per_bar >= 16)).all()
    assert f["meter"][:, 1:].sum(1).tolist() == [0 if meter == (4, 4) else 1] * T
    # the live path builds the same inputs
    hist = History((16, 32), meter)
    for i in range(T):
        live = hist.features(i, 0, p.fill, p.bpm)
        for k, v in live.items():
            np.testing.assert_allclose(np.asarray(v, np.float64), np.asarray(f[k][i], np.float64),
                                       atol=1e-6, err_msg=f"{meter} {k} at step {i}")
        hist.push(int(p.events[i]), p.velocity[i], p.offset[i])


def test_four_four_inputs_are_the_four_four_only_models():
    """position_bits of the 16th counted from the first bar line, no meter input: the inputs
    the shipped checkpoint was trained with."""
    p = groove(8)
    f = sequence_features(p, style=0)
    assert (f["position"] == position_bits(np.arange(len(p)))).all()
    assert not f["meter"].any()
    hist = History()
    for t in (-40, -1, 0, 5, 63, 64, 200):
        assert (hist.features(t, 0, False, 120.0)["position"] == position_bits(t % 64)).all()


def test_parse_meter_names_the_meters():
    assert parse_meter("12/8") == (12, 8)
    with pytest.raises(ValueError, match="4/4, 3/4, 6/8, 12/8, 5/4, 7/8, 5/8"):
        parse_meter("2/4")


# --- the shipped checkpoint, before and after ----------------------------------------------------
def digest(steps):
    return hashlib.sha256(repr([[(h.pitch, h.velocity, round(h.offset, 5)) for h in s.hits]
                                for s in steps]).encode()).hexdigest()[:16]


def test_shipped_checkpoint_plays_four_four_exactly_as_before():
    """Its weights gain zero columns for the meter inputs and nothing else changes: the same
    grooves, bit for bit, as drumd made before meters (the digests were taken then)."""
    ckpt = load_checkpoint(None)
    raw = load_file(str(player_path(ckpt.path)))
    w0 = ckpt.weights["lstm.weight_ih_l0"]
    before = raw["model.lstm.weight_ih_l0"]
    assert w0.shape == (before.shape[0], before.shape[1] + METER_INPUTS)
    assert (w0[:, :before.shape[1]] == before).all() and not w0[:, before.shape[1]:].any()
    assert ckpt.meters == ["4/4"]
    out = generate(ckpt, 4, style="rock", seed=3)
    assert digest(out) == "ca70e9291253d269" and sum(len(s.hits) for s in out) == 81
    primed = generate(ckpt, 4, style="funk", primer=steps_of(groove(4)), bpm=100, seed=5)
    assert digest(primed) == "85b7dd9f4597672a"
    # and the torch model (training, eval) computes the logits it did
    f = sequence_features(groove(4), style=ckpt.styles.index("rock"))
    x = StepInputs(**{k: torch.from_numpy(np.asarray(f[k]))[None] for k in StepInputs.__dataclass_fields__})
    bits = torch.from_numpy(((f["target_event"][:, None] >> np.arange(9)) & 1).astype(np.float32))[None]
    with torch.no_grad():
        ev = ckpt.model(x, bits)[0]
    np.testing.assert_allclose(ev[0, 40, :5].numpy(), [3.9447832, 6.8958726, 2.4348555, 4.2433610,
                                                      6.8021507], atol=1e-5)
    assert ev[0].sum().item() == pytest.approx(-203593.5625, abs=0.5)


# --- another meter through the model and the sampler ---------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny model with random weights (meter inputs included) and a 3/4 warm-up bank."""
    torch.manual_seed(0)
    model = DrumLSTM(ModelConfig(n_styles=2, **TINY_MODEL))
    perfs = [beat((3, 4), bars=6, seed=s) for s in range(3)] + [beat((4, 4), bars=6, seed=9)]
    path = tmp_path_factory.mktemp("ck") / "tiny.pt"
    save_checkpoint(path, model, ["jazz", "rock"], {"meters": ["4/4", "3/4"],
                                                    "warmup": build_bank(perfs, ["jazz", "rock"])})
    return load_checkpoint(path)


def test_numpy_step_matches_torch_in_three_four(tiny):
    p = beat((3, 4))
    f = sequence_features(p, style=1)
    x = StepInputs(**{k: torch.from_numpy(np.asarray(f[k]))[None] for k in StepInputs.__dataclass_fields__})
    bits = torch.from_numpy(((f["target_event"][:, None] >> np.arange(9)) & 1).astype(np.float32))[None]
    with torch.no_grad():
        ev = tiny.model(x, bits)[0]
    s = Sampler(tiny, seed=0)
    state, hist = s.net.zero_state(), History(tiny.config.lookback, (3, 4))
    for t in range(len(p)):
        h = s.net.step(hist.features(t, 1, p.fill, p.bpm), state)
        np.testing.assert_allclose(s.net.event_logits(h), ev[0, t].numpy(), atol=1e-4)
        hist.push(int(p.events[t]), p.velocity[t], p.offset[t])


def test_checkpoint_keeps_its_meters_and_banks_per_meter(tiny):
    assert tiny.meters == ["4/4", "3/4"] and tiny.knows_meter((3, 4)) and not tiny.knows_meter((7, 8))
    bank = tiny.meta["warmup"]
    assert set(bank) == {"rock", "rock@3/4"}
    assert bank["rock@3/4"]["events"].shape == (3, 24) and bank["rock"]["events"].shape == (1, 32)


def test_sampler_warms_up_in_its_meter_or_not_at_all(tiny):
    s = Sampler(tiny, seed=1)
    s.reset(style="rock", meter=(3, 4))
    assert s.history.t == 24  # two 3/4 bars of rock's 3/4 groove, fed silently
    s.step()
    assert len(s.home.bits) == 24
    s.reset(style="rock", meter=(7, 8))  # no groove of rock in 7/8: it starts unwarmed
    assert s.history.t == 0 and s.home is None
    s.reset(style="jazz", meter=(3, 4))  # nor of jazz at all
    assert s.history.t == 0
    out = [s.step() for _ in range(14 * 4)]
    assert len(out) == 56 and s.steps_per_bar == 12


# --- libraries -----------------------------------------------------------------------------------
def write_mid(path, steps_per_bar, bars, meters=((0, 3, 4),)):
    track = mido.MidiTrack()
    for tick, num, den in meters:
        track.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=tick))
    t = 0
    for i in range(steps_per_bar * bars):
        for p in ((KICK,) if i % steps_per_bar == 0 else ()) + ((HAT,) if i % 2 == 0 else ()):
            track.append(mido.Message("note_on", channel=9, note=p, velocity=100, time=i * 120 - t))
            t = i * 120
    track.append(mido.MetaMessage("end_of_track", time=steps_per_bar * bars * 120 - t))
    mid = mido.MidiFile(ticks_per_beat=480)
    mid.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(path)


def test_library_reads_a_three_four_file_and_skips_a_meter_change(tmp_path):
    write_mid(tmp_path / "waltz" / "a.mid", 12, 4)
    write_mid(tmp_path / "waltz" / "b.mid", 12, 4)
    write_mid(tmp_path / "rock" / "c.mid", 16, 4, meters=((0, 4, 4),))
    write_mid(tmp_path / "rock" / "d.mid", 16, 4, meters=((0, 4, 4),))
    write_mid(tmp_path / "rock" / "odd.mid", 16, 4, meters=((0, 4, 4), (16 * 120 * 2, 7, 8)))
    lib = load_library(tmp_path, seed=0)
    meters = {f.rel.as_posix(): (f.meter, f.skipped) for f in lib.files}
    assert meters["waltz/a.mid"] == ((3, 4), None) and meters["rock/c.mid"] == ((4, 4), None)
    assert meters["rock/odd.mid"] == ((4, 4), METER_REASON)
    waltz = [f.perf for f in lib.read if f.style == "waltz"]
    assert [p.meter for p in waltz] == [(3, 4), (3, 4)]
    report = lib.report()
    assert "changes from 4/4 to 7/8 at bar 3" in report and "3/4 8" in report
