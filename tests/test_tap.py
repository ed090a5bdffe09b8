"""Tap to groove (issue #17): the player taps a rhythm on any key, drumd's accents follow it.

Engine: Sampler.tap and the tapping bias, on the shipped checkpoint with fixed seeds, against
the same seed playing with the taps ignored (follow 0). Daemon: the tap mode's wiring (any note,
any channel, never echoed; the taps told to the sampler; CC, flag, config, status line)."""
import queue

import pytest

from drumd.daemon.cli import config
from drumd.daemon.play.controls import LiveControls
from drumd.daemon.play.modes import PlayerLog, Tap, make_mode
from drumd.daemon.play.session import Session
from drumd.daemon.play.status import format_status
from drumd.daemon.play.voicing import PlayerInput, Voicing
from drumd.engine.data.encoding import Hit
from drumd.engine.sampling.sampler import Controls, Sampler
from test_daemon import STYLES, FakePort, FakeSampler

KICK, SNARE = 36, 38
# a syncopated figure, repeated every bar: {16th: velocity}; 3 and 13 off the 8th notes
FIGURE = {0: 115, 3: 90, 6: 100, 10: 95, 13: 85}


@pytest.fixture(scope="module")
def ckpt():
    from drumd.engine.model.checkpoint import load_checkpoint
    return load_checkpoint(None)


def tapped(ckpt, follow: float, bars: int = 8, seed: int = 3):
    """(tapped 16ths after bar 2, of them covered by a kick or snare, mean |velocity of that
    accent - the tap's|, hits) with drumd told each tap a step later, as tap mode does."""
    s = Sampler(ckpt, seed=seed)
    s.reset(style="rock")
    taps = covered = hits = 0
    dv = []
    for k in range(bars * 16):
        if k and (k - 1) % 16 in FIGURE:
            s.tap(k - 1, FIGURE[(k - 1) % 16])
        step = s.step(Controls(follow=follow))
        if k < 32:
            continue
        hits += len(step.hits)
        v = FIGURE.get(k % 16)
        if v:
            taps += 1
            accents = [h.velocity for h in step.hits if h.pitch in (KICK, SNARE)]
            if accents:
                covered += 1
                dv.append(abs(max(accents) - v))
    return taps, covered, sum(dv) / max(len(dv), 1), hits


def test_taps_are_covered_by_accents_at_their_velocity(ckpt):
    taps, covered, dv, hits = tapped(ckpt, 0.8)
    taps0, covered0, dv0, hits0 = tapped(ckpt, 0.0)  # same seed, taps ignored
    assert taps == taps0 == 6 * len(FIGURE)
    assert covered >= 0.9 * taps, (covered, taps)
    assert covered0 <= 0.7 * taps0, (covered0, taps0)  # the model alone does not: the test can fail
    assert dv <= 15 and dv0 >= 20, (dv, dv0)
    assert 12 * 6 <= hits <= 22 * 6  # still a full groove, not a kick on every tap and nothing else


def test_a_tap_is_answered_on_its_16th_the_next_bar_and_changes_nothing_before(ckpt):
    """One tap on 35, told before step 36 is computed: the steps up to 50 are those of the same
    seed without it; 51, a bar on, has its kick or snare."""
    runs = []
    for tap in (False, True):
        s = Sampler(ckpt, seed=7)
        s.reset(style="rock")
        steps = []
        for k in range(56):
            if tap and k == 36:
                s.tap(35, 110)
            steps.append(s.step(Controls(follow=1.0)))
        runs.append(steps)
    assert runs[0][:51] == runs[1][:51]
    assert {h.pitch for h in runs[1][51].hits} & {KICK, SNARE}, runs[1][51]


def test_tap_bookkeeping(ckpt):
    s = Sampler(ckpt, seed=1)
    s.reset(style="rock", step_index=0)
    for _ in range(20):
        s.step()
    s.tap(19, 90)
    s.tap(19, 60)   # told twice (tap mode re-sends the last two steps): the loudest is kept
    s.tap(20, 100)  # not computed yet: ignored
    s.tap(-20, 100)  # more than two bars back: ignored
    s.tap(18, 0)  # no velocity: no tap
    assert s._expected_tap() == (0.0, 90.0, False)  # a tap on 19 is expected on 35, 51
    for _ in range(15):
        s.step()
    assert s._expected_tap() == (90.0, 90.0, True)  # position 35: the 16th tapped a bar ago
    for _ in range(32):
        s.step()
    assert s._expected_tap() == (0.0, 0.0, False)  # two bars without taps: back to its groove


# --- daemon ------------------------------------------------------------------------------------
class TapRecorder(FakeSampler):
    def tap(self, position, velocity):
        self.calls.append(("tap", position, velocity))


def test_tap_mode_tells_the_sampler_the_last_two_steps_taps_before_each_step():
    s, log = TapRecorder(), PlayerLog()
    m = make_mode("tap", 2, 1.0)
    assert isinstance(m, Tap) and m.name == "tap"
    m.start(s, 16, "rock", 120, ())
    log.add(14.2, 72, 90)   # a tap on 14, heard in time
    log.add(14.6, 72, 70)   # ... and one on 15
    m.step(s, 16, Controls(), log)
    assert s.calls[-3:] == [("tap", 14, 90), ("tap", 15, 70), ("step", 16, Controls())]
    m.step(s, 17, Controls(), log)  # 15 again (one that came late would be caught now)
    assert s.calls[-2:] == [("tap", 15, 70), ("step", 17, Controls())]


def test_tap_mode_by_cc_flag_config_and_status(tmp_path):
    c = LiveControls(STYLES, "rock")
    c.control_change(24, 127)
    assert c.mode == "tap"
    c.control_change(24, 80)
    assert c.mode == "call"
    cfg = tmp_path / "drumd.yaml"
    cfg.write_text("mode: tap\nfollow: 0.9\n")
    s = config.resolve(str(cfg), {})
    assert (s["mode"], s["follow"]) == ("tap", 0.9)
    assert config.resolve(str(cfg), {"mode": "generate"})["mode"] == "generate"
    line = format_status({"bpm": 120.0, "source": "internal", "fallback": False, "running": True,
                          "bar": 1, "beat": 1, "mode": "tap", "temperature": 1.0,
                          "density": 0.0, "quantize": 0.0, "variation": 0.5, "fill_every": 8,
                          "follow": 0.9, "late": 0, "p99": 0.3})
    assert " tap " in line and "F 0.90" in line


def test_any_key_on_any_channel_is_a_tap_and_is_never_echoed():
    """In tap mode a note no drum map knows (100 on channel 1) is a tap as a snare (38 on 10) is,
    kept by its note, and --thru passes neither on (a tap is not a drum); in accompany mode 100
    is nobody's drum and the snare is passed on."""
    for mode, kept, echoed in (("tap", [100, 38], []), ("accompany", [38], [38])):
        settings = config.resolve(None, {"clock": "internal", "mode": mode, "thru": True})
        out = FakePort()
        s = Session(settings, TapRecorder(), FakePort(), out, queue.SimpleQueue(), Voicing("gm"),
                    PlayerInput("gm"))
        s.clock.start_internal(0.0, 0)
        s._player_hit(0.26, 0, 100, 100)
        s._player_hit(0.51, 9, 38, 100)
        with s.sender.cond:
            s.sender.run_due(1.0)  # what is due by then is sent (no sender thread: no race)
        s.sender.close()
        assert [h.pitch for _, hits in sorted(s.player.by_step.items()) for h in hits] == kept
        assert [m[1] for _, m in out.sent if m[0] & 0xF0 == 0x90 and m[2] > 0] == echoed
