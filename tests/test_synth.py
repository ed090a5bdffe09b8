"""The drum synth and its mixer: pitch table, velocity curve, sample accuracy, chokes."""
import numpy as np
import pytest

from drumd.daemon.sound.synth import (VOICES, VoiceMixer, sample_for, velocity_gain, voice_of,
                                      voice_sample)

SR = 48000


@pytest.mark.parametrize("pitches, voice", [
    ((35, 36), "kick"), ((38, 40), "snare"), ((37,), "rim"), ((42,), "closed_hh"),
    ((44,), "pedal_hh"), ((46,), "open_hh"), ((41, 43, 45), "low_tom"), ((47, 48), "mid_tom"),
    ((50,), "high_tom"), ((49, 52, 55, 57), "crash"), ((51, 53, 59), "ride"),
    ((54,), "closed_hh"),  # tambourine: the model's closed hat (#13; it was the ride's)
    ((56,), "ride"), ((58, 60, 64, 75, 81), "rim"),  # cowbell; hand percussion
])
def test_gm_pitches_play_their_voice(pitches, voice):
    assert all(voice_of(p) == voice for p in pitches)


def test_pitches_outside_gm_play_the_nearest_gm_pitch():
    assert voice_of(34) == "kick" and voice_of(0) == "kick"
    assert voice_of(82) == "rim" and voice_of(127) == "rim"


def test_voices_are_cached_normalised_and_start_at_once():
    for v in VOICES:
        x = voice_sample(v, SR)
        assert x is voice_sample(v, SR)
        assert x.dtype == np.float32 and np.max(np.abs(x)) == pytest.approx(1.0)
        assert np.max(np.abs(x[:int(SR * 0.003)])) > 0.2, v  # a drum has no slow attack
        assert abs(x[-1]) < 1e-3  # faded out, no click at the end


def test_velocity_curve_is_monotonic_and_steeper_than_linear():
    g = [velocity_gain(v) for v in range(1, 128)]
    assert all(a < b for a, b in zip(g, g[1:]))
    assert velocity_gain(64) / velocity_gain(127) < 64 / 127


@pytest.mark.parametrize("block", [1, 64, 100, 256, 1000])
def test_hits_land_on_their_frame_whatever_the_block_size(block):
    hits = [(36, 127, 0), (42, 90, 777), (38, 64, 1500), (49, 110, 2049)]
    m = VoiceMixer(SR)
    for pitch, vel, at in hits:
        m.schedule(pitch, vel, at)
    total = 6000
    out = np.concatenate([m.render(min(block, total - i)) for i in range(0, total, block)])
    expected = np.zeros(total, np.float32)
    for pitch, vel, at in hits:
        s = sample_for(pitch, SR)[:total - at]
        expected[at:at + len(s)] += s * velocity_gain(vel)
    np.testing.assert_allclose(out, np.clip(expected, -1, 1), atol=1e-6)


def test_render_into_a_stereo_callback_buffer():
    m = VoiceMixer(SR, channels=2)
    m.schedule(38, 100, 10)
    buf = np.full((256, 2), 9.0, np.float32)
    m.render(256, buf)
    assert np.all(buf[:10] == 0) and np.array_equal(buf[:, 0], buf[:, 1])
    assert np.max(np.abs(buf[10:])) > 0


def test_a_late_hit_starts_at_the_next_block_and_is_counted():
    m = VoiceMixer(SR)
    m.render(512)
    m.schedule(36, 127, 100)
    out = m.render(256)
    assert m.late == 1
    np.testing.assert_allclose(out, sample_for(36, SR)[:256] * velocity_gain(127), atol=1e-6)


def test_closed_hat_chokes_open_hat():
    def tail(with_close):
        m = VoiceMixer(SR)
        m.schedule(46, 120, 0)
        if with_close:
            m.schedule(42, 1, 4800)  # nearly silent closed hat: what remains is the open hat
        x = m.render(SR)
        return np.max(np.abs(x[4800 + int(0.006 * SR):]))
    assert tail(False) > 0.05
    assert tail(True) < 1e-3


def test_a_closed_hat_before_the_open_hat_does_not_choke_it():
    m = VoiceMixer(SR)
    m.schedule(42, 100, 0)
    m.schedule(46, 100, 480)
    x = m.render(SR)
    assert np.max(np.abs(x[SR // 2:])) > 0.01


def test_tail_and_busy():
    m = VoiceMixer(SR)
    assert not m.busy and m.tail_frames() == 0
    m.schedule(36, 100, 1000)
    assert m.busy and m.tail_frames() == 1000 + len(sample_for(36, SR))
    m.render(m.tail_frames())
    assert not m.busy
