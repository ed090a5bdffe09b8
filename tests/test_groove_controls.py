"""What makes the sampler play like a drummer: warm-up, home groove (variation), phrase fills
into a crash, and a temperature that leaves density alone. Each is checked on a tiny
random-weight model, so the mechanism, not a lucky checkpoint, is what passes."""
import numpy as np
import pytest
import torch

from drumd.engine.data.encoding import CLASS_NAMES, Hit, Step, performance_of, quantize_hits, steps_of
from drumd.engine.model.checkpoint import load_checkpoint, save_checkpoint
from drumd.engine.model.features import HITS_PER_EVENT
from drumd.engine.model.lstm import DrumLSTM, ModelConfig
from drumd.engine.sampling.sampler import FILL_STEPS, Controls, Sampler, phrase_fill, tempered
from drumd.engine.sampling.warmup import WARMUP_STEPS, bank_to_meta, build_bank, steady_clips

from engine_fixtures import TINY_MODEL

STYLES = ["funk", "rock"]
CRASH = CLASS_NAMES.index("crash")


def rock_beat(bars: int, style: str = "rock", fill_bar: int | None = None):
    """8th hats, kick on 1 and 3, snare on 2 and 4; toms all through `fill_bar`."""
    onsets = []
    for t in range(16 * bars):
        if t // 16 == fill_bar:
            onsets.append((t, 45, 100))
            continue
        if t % 2 == 0:
            onsets.append((t, 42, 70 + 30 * (t % 4 == 0)))
        if t % 8 == 0:
            onsets.append((t, 36, 110))
        if t % 8 == 4:
            onsets.append((t, 38, 115))
    p = quantize_hits(onsets)
    p.style, p.bpm = style, 100.0
    return p


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = DrumLSTM(ModelConfig(n_styles=2, **TINY_MODEL))
    bank = build_bank([rock_beat(6), rock_beat(6, "funk")], STYLES)
    path = tmp_path_factory.mktemp("ck") / "tiny.pt"
    save_checkpoint(path, model, STYLES, {"warmup": bank_to_meta(bank)})
    return load_checkpoint(path)


def test_steady_clips_skip_fills_and_the_first_bar():
    starts = steady_clips(rock_beat(7, fill_bar=3))  # 6 whole bars: the last hit ends it
    # bars 1-2 and 4-5 are steady pairs; any pair touching the tom bar 3 is not; bar 0 never.
    assert starts == [16, 64]


@pytest.mark.parametrize("temperature", [0.3, 0.8, 1.5])
def test_temperature_keeps_the_expected_density(temperature):
    rng = np.random.default_rng(0)
    for _ in range(20):
        logits = rng.normal(0, 3, 512)
        logits[0] += 4  # silence most likely, as on most 16ths
        p1 = np.exp(logits - logits.max())
        p1 /= p1.sum()
        q = tempered(logits, temperature)
        q = q / q.sum()
        assert q @ HITS_PER_EVENT == pytest.approx(p1 @ HITS_PER_EVENT, abs=2e-3)
        # ... while the choice does sharpen (T < 1) or flatten (T > 1): entropy moves.
        h = lambda d: -(d * np.log(np.maximum(d, 1e-30))).sum()
        assert (h(q) < h(p1)) == (temperature < 1)


def test_plain_temperature_would_have_changed_density():
    """The defect tempered() exists for: T = 0.8 alone makes silence likelier."""
    logits = np.zeros(512)
    logits[0] = 6.0  # silence about as likely as all 511 others together
    plain = np.exp(logits / 0.8)
    plain /= plain.sum()
    p1 = np.exp(logits) / np.exp(logits).sum()
    assert plain @ HITS_PER_EVENT < 0.95 * (p1 @ HITS_PER_EVENT)


def test_phrase_fill_positions():
    fills = [t for t in range(40 * 16) if phrase_fill(t, 8)]
    assert fills[:FILL_STEPS] == list(range(7 * 16 + 16 - FILL_STEPS, 8 * 16))
    assert len(fills) == 5 * FILL_STEPS  # bars 8, 16, 24, 32, 40
    assert not any(phrase_fill(t, 0) for t in range(1000))


def test_a_fill_leads_into_a_crash_on_the_downbeat(ckpt):
    s = Sampler(ckpt, seed=4)
    s.reset(style="rock", step_index=0)
    steps = [s.step(Controls(fill_every=2)) for _ in range(16 * 8)]
    crash_at = [t for t, st in enumerate(steps) if any(h.pitch == 49 for h in st.hits)]
    for downbeat in (32, 64, 96):  # after the fills ending bars 2, 4, 6
        assert downbeat in crash_at
    # the crash is forced only there; a muted crash stays muted
    s.reset(style="rock", step_index=0)
    quiet = [s.step(Controls(fill_every=2, mute=frozenset({CRASH}))) for _ in range(16 * 4)]
    assert not any(h.pitch == 49 for st in quiet for h in st.hits)


def kept_skeleton(steps, pattern):
    """Share of the home groove's kick and snare hits (a repeated 2-bar pattern) still played."""
    a = performance_of(steps).events
    b = np.resize(pattern, len(a))
    home = ((b[:, None] >> np.arange(2)) & 1).astype(bool)
    played = ((a[:, None] >> np.arange(2)) & 1).astype(bool)
    return float((played & home).sum() / home.sum())


def test_variation_zero_keeps_the_groove_and_one_lets_it_wander(ckpt):
    primer = steps_of(rock_beat(2))
    primer += [Step()] * (32 - len(primer))  # the beat's last 16th is a rest
    home = performance_of(primer).events
    kept = {}
    for v in (0.0, 1.0):
        s = Sampler(ckpt, seed=1)
        s.reset(primer=primer, style="rock", step_index=32)
        out = [s.step(Controls(variation=v, fill_every=0)) for _ in range(16 * 16)]
        kept[v] = kept_skeleton(out, home)
    assert kept[0.0] > 0.95 and kept[1.0] < 0.8


def test_unprimed_play_starts_from_a_warm_up_groove(ckpt):
    s = Sampler(ckpt, seed=0)
    s.reset(style="rock", step_index=48)
    assert s.history.t == WARMUP_STEPS and s.position == 48
    # the warm-up is in the bar phase of step 48: its backbeat snare sits on position 36 and 44
    snare = [(t, bool(s.history.events[t % s.history.size] & 2)) for t in range(WARMUP_STEPS)]
    pos = [48 - WARMUP_STEPS + t for t, hit in snare if hit]
    assert pos and all(p % 16 in (4, 12) for p in pos)
    first = list(s.history.events)
    s.reset(style="rock", step_index=48)
    assert list(s.history.events) == first  # the same groove for this Sampler and style


def test_a_checkpoint_without_a_bank_starts_cold(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "cold.pt"
    save_checkpoint(path, DrumLSTM(ModelConfig(n_styles=2, **TINY_MODEL)), STYLES, {})
    s = Sampler(load_checkpoint(path), seed=0)
    s.reset(style="rock")
    assert s.history.t == 0


def test_a_style_change_moves_the_home_groove(ckpt):
    s = Sampler(ckpt, seed=0)
    s.reset(style="rock", step_index=0)
    s.step(Controls())
    rock_home = s.home
    s.step(Controls(style="funk"))
    assert s.home is not rock_home and s.style_name == "funk"
    funk_clip = s.bank["funk"]["events"][s._warmup_pick["funk"]]
    assert (s.home.bits.any(-1) == (funk_clip > 0)).all()


def test_a_style_of_short_loops_gets_a_warm_up_groove():
    """A folder of 1- and 2-bar loops (a pack) has no 3-bar file for steady_clips: its loops
    become the bank, a one-bar loop played twice, its trailing rests restored."""
    one, two = rock_beat(1), rock_beat(2)
    assert len(one) < 16  # it ends at its last hit
    bank = build_bank([one, two, rock_beat(1, "funk")], STYLES)
    events = bank["rock"]["events"]
    assert events.shape == (2, WARMUP_STEPS)
    np.testing.assert_array_equal(events[0, :16], events[0, 16:])  # the bar, twice
    assert events[0, len(one):16].tolist() == [0] * (16 - len(one))
    assert list(bank) == ["funk", "rock"] and len(bank["funk"]["events"]) == 1
    # a longer file's steady clip wins: loops only when nothing else is there
    assert len(build_bank([rock_beat(6), one], STYLES)["rock"]["events"]) == 1


def _accompany(ckpt, follow: float, bars: int = 12) -> tuple[int, int, int]:
    """(drumd hits on the player's drum and 16th, drumd snares, drumd hits) after 2 bars of a
    player's half-time feel (kick on 1, snare on 3), drumd hearing each of their steps."""
    player = {0: (Hit(36, 100, 0.0),), 8: (Hit(38, 100, 0.0),)}
    s = Sampler(ckpt, seed=4)
    s.reset(style="rock")
    doubled = snares = hits = 0
    for k in range(bars * 16):
        if k:
            s.amend_last(player.get((k - 1) % 16, ()))
        step = s.step(Controls(density=2.0, follow=follow))
        if k >= 32:
            theirs = {h.pitch for h in player.get(k % 16, ())}
            doubled += sum(h.pitch in theirs for h in step.hits)
            snares += sum(h.pitch == 38 for h in step.hits)
            hits += len(step.hits)
    return doubled, snares, hits


def test_following_a_player_leaves_them_their_drums(ckpt):
    """follow 1: no drumd hit on a drum the player plays on that 16th (it would flam), and
    their drum (the snare) given way to; follow 0: drumd plays over them as before."""
    doubled0, snares0, hits0 = _accompany(ckpt, 0.0)
    doubled1, snares1, hits1 = _accompany(ckpt, 1.0)
    assert doubled0 >= 5 and doubled1 == 0
    assert snares1 <= snares0 / 4
    assert hits1 >= hits0 / 3  # it still plays (hats, cymbals, toms)


def test_in_unison_drumd_plays_the_players_feel_with_them(ckpt):
    """--unison: over a half-time player (kick on 1 a little late, snare on 3 a little early),
    most of drumd's snares are on 3 and its kicks on 1 (the issue's half-time target: 60 % and
    50 %), its 2 and 4 are gone, and each hit it doubles lands at the player's own timing."""
    from drumd.engine.evaluation.follow_eval import accompany_run
    half = {k: 0 for k in ("snare", "snare3", "kick", "kick1", "backbeat")}
    for seed in range(3):
        for k, v in accompany_run(ckpt, "rock", 0.8, 10, seed, unison=True).items():
            if k in half:
                half[k] += v
    assert half["snare3"] >= 0.6 * half["snare"] > 0 and half["kick1"] >= 0.5 * half["kick"] > 0
    assert half["backbeat"] == 0
    player = {0: (Hit(36, 100, 0.12),), 8: (Hit(38, 100, -0.08),)}
    s = Sampler(ckpt, seed=1)
    s.reset(style="rock")
    doubled = []
    for k in range(10 * 16):
        if k:
            s.amend_last(player.get((k - 1) % 16, ()))
        step = s.step(Controls(follow=0.8, unison=True))
        if k >= 32:
            doubled += [h.offset for h in step.hits if h.pitch in {p.pitch for p in player.get(k % 16, ())}]
    assert len(doubled) >= 8 and set(np.round(doubled, 6)) <= {0.12, -0.08}


def test_a_players_hit_on_step_k_can_change_step_k_plus_1(ckpt):
    """Reaction stays one step (#17): the same seeds, a player's kick and snare merged after step
    k or not; step k+1 differs in some runs, and steps up to k in none."""
    differs = 0
    for seed in range(12):
        runs = []
        for hits in ((), (Hit(36, 110, 0.0), Hit(38, 110, 0.0))):
            s = Sampler(ckpt, seed=seed)
            s.reset(style="rock")
            steps = [s.step(Controls()) for _ in range(21)]
            s.amend_last(hits)  # their hits on step 20, heard before step 21 is computed
            runs.append((steps, s.step(Controls())))
        assert runs[0][0] == runs[1][0]
        differs += runs[0][1] != runs[1][1]
    assert differs >= 2, differs


def test_no_player_no_following(ckpt):
    """Without amend_last (generate mode) follow changes nothing: same seed, same steps."""
    runs = []
    for follow in (0.0, 1.0):
        s = Sampler(ckpt, seed=2)
        s.reset(style="rock")
        runs.append([s.step(Controls(follow=follow)) for _ in range(64)])
    assert runs[0] == runs[1]
