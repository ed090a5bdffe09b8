"""`drumd render`: MIDI in, WAV out, onsets where the notes are."""
import wave

import numpy as np
import pytest
from click.testing import CliRunner

from audio_jack import TPB, write_midi
from drumd.daemon.cli import main as drumd
from drumd.daemon.cli.audio import midi_hits, render_blocks, render_hits, write_wav
from drumd.mappings.basics.midifile import MidiFileError

SR = 48000


def seconds_at(tick, tempo_changes):
    """Tick -> seconds through a tempo map, computed here rather than by mido."""
    s, last_tick, bpm = 0.0, 0, tempo_changes[0][1]
    for t, b in tempo_changes:
        if t >= tick:
            break
        s += (t - last_tick) / TPB * 60 / bpm
        last_tick, bpm = t, b
    return s + (tick - last_tick) / TPB * 60 / bpm


def onsets(x, sr=SR):
    """Sample positions where energy jumps: 2 ms of energy against the 30 ms before, in the
    signal (toms, kicks) or its first difference (hats, cymbals over a ringing tail); the onset
    is then the first sample well above anything in the 30 ms before."""
    w, past = int(0.002 * sr), int(0.030 * sr)  # longer than a kick's period
    bands = [np.abs(x), np.abs(np.diff(x, prepend=0.0))]
    cums = [np.concatenate([[0.0], np.cumsum(b * b)]) for b in bands]
    found, i = [], past
    while i < len(x) - w:
        for b, c in zip(bands, cums):
            now = (c[i + w] - c[i]) / w
            if now > 1e-5 and now > 4 * (c[i] - c[i - past]) / past:
                break
        else:
            i += 1
            continue
        floor = 1.5 * b[i - past:i].max() + 1e-4
        found.append(i + int(np.argmax(b[i:i + w] > floor)))
        i += int(0.05 * sr)
    return np.array(found)


def read_wav(path):
    with wave.open(str(path)) as w:
        raw, width, rate = w.readframes(w.getnframes()), w.getsampwidth(), w.getframerate()
    if width == 2:
        return np.frombuffer(raw, "<i2") / 32767.0, rate
    b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
    v = b[:, 0].astype(np.int32) | b[:, 1].astype(np.int32) << 8 | b[:, 2].astype(np.int8).astype(np.int32) << 16
    return v / (2 ** 23 - 1), rate


def test_rendered_onsets_match_the_midi_notes_within_1ms(tmp_path):
    tempo = ((0, 120.0), (TPB * 8, 97.0))  # a tempo change halfway
    # Every voice, off the grid. (pitch, extra rest in ticks): the cymbals come after a rest
    # and the closed hat choking the open one after half a second, as finding an onset under
    # a ringing cymbal would test the detector rather than the timing.
    seq = [(36, 0), (38, 0), (42, 0), (45, 0), (37, 0), (48, 0), (36, 0), (50, 0), (44, 0),
           (38, 0), (41, 0), (47, 0), (43, 0), (46, 0), (42, 400), (51, 2000), (49, 2000)]
    pitches, rests = zip(*seq)
    rng = np.random.default_rng(3)
    gaps = rng.integers(170, 330, len(seq)) + np.array(rests)
    ticks = np.cumsum(gaps)
    notes = [(int(t), p, int(rng.integers(90, 128))) for t, p in zip(ticks, pitches)]
    write_midi(tmp_path / "in.mid", notes, tempo)

    result = CliRunner().invoke(drumd, ["render", str(tmp_path / "in.mid"), str(tmp_path / "out.wav")])
    assert result.exit_code == 0, result.output
    x, rate = read_wav(tmp_path / "out.wav")
    assert rate == SR
    expected = np.array([seconds_at(t, tempo) for t, _, _ in notes]) * SR
    found = onsets(x)
    assert len(found) == len(expected)
    err_ms = np.abs(found - expected) / SR * 1000
    assert err_ms.max() < 1.0, np.round(err_ms, 2).tolist()


def test_24_bit_wav_keeps_the_audio(tmp_path):
    audio = render_hits([(0.01, 38, 100), (0.2, 36, 127)])
    write_wav(tmp_path / "a.wav", audio, SR, bits=24)
    x, _ = read_wav(tmp_path / "a.wav")
    np.testing.assert_allclose(x, audio, atol=2 ** -22)


@pytest.mark.parametrize("bits", [16, 24])
def test_a_render_streamed_in_blocks_is_the_whole_render(tmp_path, bits):
    hits = [(0.01, 38, 100), (0.2, 36, 127), (0.21, 46, 90), (0.3, 42, 60)]  # a choke too
    blocks = list(render_blocks(hits, SR, block=1000))
    assert {len(b) for b in blocks[:-1]} == {1000} and 0 < len(blocks[-1]) <= 1000
    assert write_wav(tmp_path / "blocks.wav", iter(blocks), SR, bits) == sum(map(len, blocks))
    write_wav(tmp_path / "whole.wav", render_hits(hits, SR), SR, bits)
    assert (tmp_path / "blocks.wav").read_bytes() == (tmp_path / "whole.wav").read_bytes()


def test_wav_is_written_atomically(tmp_path, monkeypatch):
    out = tmp_path / "keep.wav"
    write_wav(out, np.zeros(100, np.float32), SR)
    before = out.read_bytes()

    def fail(*a):
        raise OSError("disk full")
    monkeypatch.setattr(wave.Wave_write, "writeframes", fail)
    with pytest.raises(OSError):
        write_wav(out, np.ones(100, np.float32), SR)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]  # no temp file left


def test_only_the_drum_channel_is_read(tmp_path):
    write_midi(tmp_path / "a.mid", [(0, 36, 100)], channel=9)
    write_midi(tmp_path / "b.mid", [(0, 36, 100)], channel=0)
    assert len(midi_hits(tmp_path / "a.mid")) == 1
    with pytest.raises(MidiFileError, match=r"no notes on channel 10; notes on channel 1 \(1\): use --channel 1"):
        midi_hits(tmp_path / "b.mid")  # examined, and the channel in use reported (issue #13)
    assert len(midi_hits(tmp_path / "b.mid", channel=1)) == 1
    result = CliRunner().invoke(drumd, ["render", str(tmp_path / "b.mid"), str(tmp_path / "b.wav")])
    assert result.exit_code != 0 and "no notes on channel 10" in result.output


def test_vendor_map_translates_to_gm(tmp_path):
    # Roland TD: 22 = hi-hat edge (GM 42), 58 = tom 3 rim (GM 43); 1 means nothing: dropped.
    write_midi(tmp_path / "td.mid", [(0, 22, 100), (240, 58, 90), (480, 1, 100)])
    write_midi(tmp_path / "gm.mid", [(0, 42, 100), (240, 43, 90)])
    runner = CliRunner()
    for name, extra in (("td", ["--map", "roland-td"]), ("gm", [])):
        r = runner.invoke(drumd, ["render", str(tmp_path / f"{name}.mid"), str(tmp_path / f"{name}.wav"), *extra])
        assert r.exit_code == 0, r.output
    assert (tmp_path / "td.wav").read_bytes() == (tmp_path / "gm.wav").read_bytes()
    r = runner.invoke(drumd, ["render", str(tmp_path / "td.mid"), str(tmp_path / "x.wav"), "--map", "no-such-kit"])
    assert r.exit_code == 1 and r.output.startswith("Error: unknown drum map 'no-such-kit'; known")


def test_hi_hat_pedal_cc4_decides_open_or_closed(tmp_path):
    from drumd import mappings
    # GetGood Invasion's note 17 is a hi-hat whose openness follows CC4 (127 = closed)
    write_midi(tmp_path / "hh.mid", [(0, 17, 100), (480, 17, 100), (960, 17, 100)],
               cc=[(0, 4, 127), (400, 4, 0), (900, 4, 120)])
    hits = midi_hits(tmp_path / "hh.mid", drum_map=mappings.load_map("getgood-invasion"))
    assert [p for _, p, _ in hits] == [42, 46, 42]
