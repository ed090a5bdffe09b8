"""Features, model, checkpoint and sampler: training/generation parity and the step API."""
import numpy as np
import pytest
import torch

from drumd.engine.data.encoding import CLASS_PITCH, Hit, Step, performance_of, quantize_hits
from drumd.engine.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from drumd.engine.model.features import History, sequence_features
from drumd.engine.model.lstm import DrumLSTM, ModelConfig, StepInputs
from drumd.engine.sampling.sampler import Controls, Sampler

from engine_fixtures import TINY_MODEL

STYLES = ["funk", "jazz", "rock"]


def groove(bars=8, seed=0):
    """A rock-ish beat with human velocity and timing, as a Performance."""
    rng = np.random.default_rng(seed)
    onsets = []
    for t in range(16 * bars):
        if t % 2 == 0:
            onsets.append((t + rng.normal(0, 0.1), 42, int(rng.integers(50, 90))))
        if t % 8 == 0:
            onsets.append((t + rng.normal(0, 0.05), 36, int(rng.integers(90, 120))))
        if t % 8 == 4:
            onsets.append((t + rng.normal(0.05, 0.05), 38, int(rng.integers(90, 127))))
    p = quantize_hits(onsets)
    p.bpm, p.style = 100.0, "rock"
    return p


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = DrumLSTM(ModelConfig(n_styles=3, **TINY_MODEL))
    path = tmp_path_factory.mktemp("ck") / "tiny.pt"
    save_checkpoint(path, model, STYLES, {"note": "random weights"})
    return load_checkpoint(path)


def test_history_features_equal_training_features():
    """The live sampler builds exactly the inputs training saw (drums_rnn's hparam trap)."""
    perf = groove()
    seq = sequence_features(perf, style=2)
    hist = History()
    for t in range(len(perf)):
        live = hist.features(t, 2, perf.fill, perf.bpm)
        for k, v in live.items():
            np.testing.assert_allclose(np.asarray(v, np.float64), np.asarray(seq[k][t], np.float64),
                                       atol=1e-6, err_msg=f"{k} at step {t}")
        hist.push(int(perf.events[t]), perf.velocity[t], perf.offset[t])


def test_numpy_step_matches_torch_sequence(ckpt):
    perf = groove()
    f = sequence_features(perf, style=1)
    x = StepInputs(**{k: torch.from_numpy(np.asarray(f[k]))[None] for k in StepInputs.__dataclass_fields__})
    bits = torch.from_numpy(((f["target_event"][:, None] >> np.arange(9)) & 1).astype(np.float32))[None]
    with torch.no_grad():
        ev, vel, off, _ = ckpt.model(x, bits)
    s = Sampler(ckpt, seed=0)
    s.reset(style="jazz", bpm=perf.bpm)
    state, hist = s.net.zero_state(), History()
    for t in range(len(perf)):
        feats = hist.features(t, 1, perf.fill, perf.bpm)
        h = s.net.step(feats, state)
        np.testing.assert_allclose(s.net.event_logits(h), ev[0, t].numpy(), atol=1e-4)
        vl, ol = s.net.expression_logits(h, bits[0, t].numpy().astype(np.float64), feats)
        np.testing.assert_allclose(vl, vel[0, t].numpy(), atol=1e-4)
        np.testing.assert_allclose(ol, off[0, t].numpy(), atol=1e-4)
        hist.push(int(perf.events[t]), perf.velocity[t], perf.offset[t])


def test_checkpoint_round_trip_and_errors(ckpt, tmp_path):
    assert ckpt.styles == STYLES and ckpt.meta["note"] == "random weights"
    raw = ckpt.path.with_suffix(".pt").read_bytes()  # the .pt alone is read with torch
    (tmp_path / "trunc.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="trunc.pt.*not a drumd checkpoint"):
        load_checkpoint(tmp_path / "trunc.pt")
    torch.save({"hello": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="foreign.pt.*expected format"):
        load_checkpoint(tmp_path / "foreign.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="text.pt"):
        load_checkpoint(tmp_path / "text.pt")
    with pytest.raises(CheckpointError, match="missing.pt.*cannot read"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="unknown style 'polka'"):
        ckpt.style_index("polka")


def test_checkpoint_write_is_atomic(ckpt, tmp_path, monkeypatch):
    target = tmp_path / "keep.pt"
    target.write_bytes(b"the user's old checkpoint")

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(target, ckpt.model, STYLES, {})
    assert target.read_bytes() == b"the user's old checkpoint"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pt"]


def count_hits(steps):
    return sum(len(s.hits) for s in steps)


def test_controls_shape_the_output(ckpt):
    s = Sampler(ckpt, seed=1)
    s.reset(style="rock")
    muted = [s.step(Controls(mute=frozenset({0, 1}))) for _ in range(200)]
    assert all(h.pitch not in (36, 38) for st in muted for h in st.hits)
    s.reset(style="rock")
    sparse = count_hits([s.step(Controls(density=-3)) for _ in range(200)])
    s.reset(style="rock")
    busy = count_hits([s.step(Controls(density=3)) for _ in range(200)])
    assert busy > 2 * sparse
    s.reset(style="rock")
    grid = [s.step(Controls(quantize=1.0, density=2)) for _ in range(100)]
    assert count_hits(grid) > 0 and all(h.offset == 0 for st in grid for h in st.hits)
    for st in grid:
        for h in st.hits:
            assert h.pitch in CLASS_PITCH and 1 <= h.velocity <= 127


def test_same_seed_same_groove(ckpt):
    a, b = Sampler(ckpt, seed=7), Sampler(ckpt, seed=7)
    a.reset(style="funk"); b.reset(style="funk")
    assert [a.step() for _ in range(64)] == [b.step() for _ in range(64)]


def test_observed_steps_drive_the_model(ckpt):
    """A player's hits replace sampling, are returned as given and change what follows."""
    played = Step((Hit(38, 120, 0.1),))
    s = Sampler(ckpt, seed=3)
    s.reset(style="rock")
    assert s.step(observed=played) == played
    assert s.position == 1
    primer = [Step((Hit(36, 100),)) if t % 4 == 0 else Step() for t in range(32)]
    a, b = Sampler(ckpt, seed=5), Sampler(ckpt, seed=5)
    a.reset(primer=primer, style="rock", step_index=32)
    b.reset(style="rock", step_index=32)
    assert a.position == b.position == 32
    assert [a.step() for _ in range(32)] != [b.step() for _ in range(32)]


def test_amend_last_feeds_late_hits(ckpt):
    s = Sampler(ckpt, seed=2)
    s.reset(style="rock")
    s.step(Controls(mute=frozenset(range(9))))
    s.amend_last((Hit(36, 110, -0.1),))
    assert s.history.events[0] == 1 and s.history.velocity[0, 0] == 110


def test_step_memory_is_constant(ckpt):
    s = Sampler(ckpt, seed=0)
    s.reset(style="rock")
    for _ in range(100):
        s.step()
    sizes = (s.history.events.nbytes, s.history.velocity.nbytes, len(s.state[0]))
    for _ in range(2000):
        s.step()
    assert (s.history.events.nbytes, s.history.velocity.nbytes, len(s.state[0])) == sizes


def _accompany(s, steps, player, c):
    """Play `steps` 16ths of accompaniment; player(k) -> that 16th's hits."""
    for k in range(steps):
        if s.position:
            s.amend_last(player(s.position - 1))
        s.step(c)


HALF = {0: (Hit(36, 100, 0.0),), 8: (Hit(38, 105, 0.0),)}  # kick on 1, snare on 3


def test_a_player_who_stops_hands_their_feel_over(ckpt):
    s = Sampler(ckpt, seed=3)
    s.reset(style="rock", step_index=0)
    c = Controls(follow=0.8)
    _accompany(s, 64, lambda k: HALF.get(k % 16, ()), c)  # bars 1-4 together
    own = s.home
    assert s.player.any()
    # they stop: their kick on the next 1 does not come, two beats after their last hit
    _accompany(s, 3, lambda k: HALF.get(k % 16, ()) if k < 64 else (), c)
    assert s.home is not own and not s.player.any()
    for row in (0, 16):  # the groove the two played: their kick on 1, snare on 3, in both bars
        assert s.home.bits[row, 0] and s.home.bits[row + 8, 1]


QUARTERS = {0: (Hit(36, 100, 0.0),), 4: (Hit(38, 100, 0.0),), 8: (Hit(36, 100, 0.0),),
            12: (Hit(38, 100, 0.0),)}


def test_no_handover_while_they_play_or_with_follow_0(ckpt):
    stops = lambda k: HALF.get(k % 16, ()) if k < 64 else ()  # noqa: E731
    skips_one = lambda k: () if k == 72 else QUARTERS.get(k % 16, ())  # noqa: E731  a beat's rest
    for follow, player in ((0.8, lambda k: HALF.get(k % 16, ())), (0.8, skips_one), (0.0, stops)):
        s = Sampler(ckpt, seed=3)
        s.reset(style="rock", step_index=0)
        c = Controls(follow=follow)
        _accompany(s, 64, player, c)
        own = s.home
        _accompany(s, 48, player, c)
        assert s.home is own
