"""The guitar-following analysis core on synthetic plucked-string signals (no audio device)."""
import numpy as np
import pytest

from audio_jack import SR, guitar_phrases
from drumd.daemon.sound.guitar import GuitarAnalyzer, GuitarConfig, estimate_tempo

BPM = 120.0
BEAT = 60 / BPM


def run(x, chunk=480, analyzer=None, bpm=None):
    """Feed x in chunks; returns the analyzer and its state after every chunk."""
    a = analyzer or GuitarAnalyzer(SR)
    a.bpm = bpm
    states = []
    for i in range(0, len(x), chunk):
        a.feed(x[i:i + chunk])
        states.append(a.state())
    return a, states


@pytest.fixture(scope="module")
def two_phrases():
    """A soft phrase (beats 0-8), a rest, a loud phrase (beats 14-22), then silence."""
    x, onsets = guitar_phrases([(0, 8, 0.1), (14, 8, 0.5)], BPM, 15.0)
    a, states = run(x, bpm=BPM)
    t = np.array([s.t for s in states])
    return x, onsets, a, states, t


def during(states, t, lo, hi):
    return [s for s, ts in zip(states, t) if lo <= ts < hi]


def test_onsets_are_found_where_the_plucks_are(two_phrases):
    x, onsets, *_ = two_phrases
    a = GuitarAnalyzer(SR, GuitarConfig(tempo_window_s=100))
    a.feed(x)
    found = np.array(a.onsets)
    err = np.abs(found[:, None] - onsets[None, :]).min(axis=0)
    assert len(found) == len(onsets)
    assert err.max() < 0.015  # the analysis hop is 5.3 ms, the frame 21 ms


@pytest.mark.parametrize("bpm", [92.0, 120.0, 138.0])
def test_tempo_of_a_known_pattern(bpm):
    x, onsets = guitar_phrases([(0, 16, 0.3)], bpm, 16 * 60 / bpm + 1, seed=int(bpm))
    assert estimate_tempo(onsets) == pytest.approx(bpm, abs=1.0)
    a, _ = run(x)
    assert a.state().tempo_bpm == pytest.approx(bpm, abs=1.5)


def test_tempo_needs_a_few_onsets():
    assert estimate_tempo([0.0, 0.5, 1.0]) is None


def test_gate_follows_phrases_and_rests(two_phrases):
    *_, states, t = two_phrases
    for start, end in ((0, 8 * BEAT), (14 * BEAT, 22 * BEAT)):
        assert all(s.playing for s in during(states, t, start + 0.03, end))
        # the last note rings out; the gate closes a bounded time after it fades
        assert not any(s.playing for s in during(states, t, end + 1.5, end + 2.9))
    first_on = t[[s.playing for s in states].index(True)]
    assert first_on < 0.03
    second_on = next(ts for s, ts in zip(states, t) if s.playing and ts > 5)
    assert second_on - 14 * BEAT < 0.03


def test_intensity_follows_loudness(two_phrases):
    *_, states, t = two_phrases
    soft = np.mean([s.intensity for s in during(states, t, 1.0, 8 * BEAT)])
    loud = np.mean([s.intensity for s in during(states, t, 14 * BEAT + 1.0, 22 * BEAT)])
    assert 0.1 < soft < loud - 0.2 and loud <= 1.0
    assert states[-1].intensity < 0.05


def test_a_phrase_ends_after_a_bar_of_silence(two_phrases):
    *_, states, t = two_phrases
    counts = np.array([s.phrases for s in states])
    assert counts[-1] == 2
    for k in (1, 2):
        ended = t[np.argmax(counts >= k)]
        s = states[int(np.argmax(counts >= k))]
        assert not s.playing and s.bars_silent == pytest.approx(1.0, abs=0.05)
        assert s.silent_s == pytest.approx(4 * BEAT, abs=0.05)
        assert not s.accompany
    # drums accompany while the guitar plays and through the bar of silence before the end
    assert all(s.accompany for s in during(states, t, 0.05, 8 * BEAT + 2.0))
    assert ended > 22 * BEAT


def test_a_stray_pluck_is_not_a_phrase():
    x, _ = guitar_phrases([(0, 0.5, 0.5)], BPM, 5.0)
    _, states = run(x, bpm=BPM)
    assert any(s.playing for s in states)
    assert states[-1].phrases == 0 and not states[-1].accompany


def test_clock_tempo_sizes_the_bars():
    x, _ = guitar_phrases([(0, 4, 0.3)], BPM, 6.0)
    _, states = run(x, bpm=60.0)  # a bar of 60 BPM is 4 s: the phrase has not ended yet
    assert states[-1].phrases == 0 and states[-1].accompany
    assert states[-1].bars_silent == pytest.approx(states[-1].silent_s / 4.0)


def test_chunking_does_not_change_the_result(two_phrases):
    x, *_ = two_phrases
    a1, _ = run(x[:SR * 4], chunk=SR * 4)
    a2, _ = run(x[:SR * 4], chunk=37)
    assert a1.state() == a2.state()


def test_an_audio_input_that_cannot_be_opened_is_a_clear_error():
    """The capture process (capture.py) reports the device error, naming the device."""
    from drumd.daemon.sound.guitar import AudioInputError, GuitarFollower
    with pytest.raises(AudioInputError, match="no-such-interface"):
        GuitarFollower(device="no-such-interface")
