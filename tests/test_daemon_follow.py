"""serve --audio-in / --synth without devices: the guitar -> controls mapping and the engine
thread's use of it, with scripted follower snapshots, a fake synth and fake ports."""
import queue
import time

import pytest

from drumd.daemon.cli import config
from drumd.daemon.play.follow import biased_density, effect, scaled_velocity
from drumd.daemon.play.session import Session
from drumd.daemon.play.voicing import PlayerInput, Voicing
from drumd.daemon.sound.guitar import GuitarState
from drumd.daemon.timing.clock import Clock
from test_daemon import FakePort, FakeSampler


def test_intensity_sets_density_and_velocity():
    soft, loud = effect(GuitarState(intensity=0.0, accompany=True), "generate"), \
        effect(GuitarState(intensity=1.0, accompany=True), "generate")
    assert (soft.density, soft.velocity) == (pytest.approx(-1.5), pytest.approx(0.6))
    assert (loud.density, loud.velocity) == (pytest.approx(1.5), pytest.approx(1.1))
    assert effect(GuitarState(intensity=0.5), "generate").density == pytest.approx(0.0)
    assert biased_density(9.5, 1.5) == 10.0 and biased_density(-9.0, -1.5) == -10.0
    assert scaled_velocity(120, 1.1) == 127 and scaled_velocity(1, 0.6) == 1
    assert scaled_velocity(100, 0.6) == 60


def test_gate_and_fill():
    resting = GuitarState(accompany=False)
    assert not effect(resting, "generate").play and not effect(resting, "accompany").play
    assert effect(resting, "call").play  # call mode answers the MIDI player, not the guitar
    assert effect(GuitarState(accompany=True), "accompany").play
    ended = GuitarState(accompany=False, phrase_ended=True)
    assert effect(ended, "generate").fill and not effect(ended, "generate", fill=False).fill
    assert not effect(GuitarState(accompany=True), "generate").fill


def test_internal_tempo_change_keeps_the_grid_continuous():
    c = Clock(bpm=120)
    c.start_internal(10.0, 0)
    c.set_internal_bpm(60, 11.0)  # at step 8
    assert c.position_at(11.0) == pytest.approx(8.0)
    assert c.time_of(12.0) == pytest.approx(12.0) and c.bpm == pytest.approx(60)


def test_config_file_takes_the_audio_settings(tmp_path):
    f = tmp_path / "drumd.yaml"
    f.write_text("synth: true\nsynth_device: 3\naudio_in: Scarlett\naudio_channel: 2\n"
                 "guitar_silence_bars: 2\nguitar_fill: false\nguitar_tempo: true\n")
    s = config.resolve(str(f), {})
    assert (s["synth"], s["synth_device"], s["audio_in"], s["audio_channel"]) == (True, "3", "Scarlett", 2)
    assert (s["guitar_silence_bars"], s["guitar_fill"], s["guitar_tempo"]) == (2, False, True)
    assert config.defaults()["guitar_silence_bars"] == 1.0 and config.defaults()["guitar_fill"]
    f.write_text("audio_channel: 0\n")
    with pytest.raises(config.ConfigError, match="audio_channel"):
        config.load(f)


class ScriptedGuitar:
    """Snapshots by call (the engine reads one per step): silence, a phrase, its end, rest."""

    def __init__(self, script, tempo=None):
        self.script, self.tempo, self.calls, self.bpm = script, tempo, 0, None

    def snapshot(self):
        i, self.calls = self.calls, self.calls + 1
        return GuitarState(tempo_bpm=self.tempo, **self.script(i))


class FakeSynth:
    def __init__(self):
        self.hits = []

    def play(self, pitch, velocity, when=None):
        self.hits.append((pitch, velocity, when, time.perf_counter()))


def script(i):
    if i < 8:
        return {"accompany": False}
    if i < 24:
        return {"accompany": True, "intensity": 1.0}
    return {"accompany": False, "intensity": 0.5, "phrase_ended": i == 24}


def serve(guitar, steps, synth=None, **flags):
    settings = config.resolve(None, {"clock": "internal", "bpm": 400.0, "quantize": 1.0, **flags})
    out, sampler = FakePort(), FakeSampler()
    s = Session(settings, sampler, FakePort(), out, queue.SimpleQueue(), Voicing("gm"),
                PlayerInput("gm"), synth=synth, guitar=guitar)
    s.start()
    end = time.monotonic() + 10
    while guitar.calls < steps and time.monotonic() < end:
        time.sleep(0.02)
    time.sleep(0.15)  # the last steps sound
    s.shutdown()
    assert s.error is None
    return s, out, sampler


def test_engine_plays_while_the_guitar_plays_fills_at_the_phrase_end_then_rests():
    synth = FakeSynth()
    s, out, sampler = serve(ScriptedGuitar(script), 40, synth)
    steps = {c[1]: c[2] for c in sampler.calls if c[0] == "step"}
    # silent until the guitar starts (step 8), where the groove starts afresh
    assert min(steps) == 8 and ("reset", [], "rock", 8) in sampler.calls
    assert all(steps[k].density == pytest.approx(1.5) and not steps[k].fill for k in range(8, 24))
    # the phrase ended at step 24: a fill to the bar line (step 32), then nothing
    assert all(steps[k].fill and steps[k].density == pytest.approx(0.0) for k in range(24, 32))
    assert max(steps) == 31
    ons = [(t, m) for t, m in out.sent if m[0] == 0x99 and m[2] > 0]
    assert [m[2] for _, m in ons] == [110] * 16 + [85] * 8  # 100 x 1.1 loud, x 0.85 at half
    assert out.sent[-1][1] == [0xB9, 123, 0]
    # the synth got every hit ahead of time, timed as the MIDI was sent
    assert [(p, v) for p, v, _, _ in synth.hits] == [(m[1], m[2]) for _, m in ons]
    step_s = s.clock.step_duration
    for (t_sent, _), (_, _, when, queued) in zip(ons, synth.hits):
        assert when - queued >= 0.2 * step_s and abs(t_sent - when) < 0.015


def test_guitar_tempo_drives_the_internal_clock_only_when_asked():
    loud = lambda i: {"accompany": True, "intensity": 1.0}  # noqa: E731
    s, _, _ = serve(ScriptedGuitar(loud, tempo=150.0), 6, guitar_tempo=True)
    assert s.clock.bpm == pytest.approx(150.0)
    s, _, _ = serve(ScriptedGuitar(loud, tempo=150.0), 6)
    assert s.clock.bpm == pytest.approx(400.0)
