"""A small synthesised GM drum kit and a sample-accurate voice mixer (pure numpy, no I/O).

Each voice is rendered once per sample rate (sine sweeps, shaped noise, inharmonic square
clusters for metal) and cached; a hit is then just a scaled copy of the cached sample, so the
real-time callback only adds slices.
"""
from __future__ import annotations

import heapq
import zlib
from functools import lru_cache

import numpy as np

from drumd.mappings import gm_classes

# drumd's drum classes (mappings.CLASSES) -> the voice that plays them. The kit has no hand
# percussion: those play the rim click (short, like a conga slap or a wood block), the cowbell
# the ride (a struck bell).
VOICE_OF_CLASS: dict[str, str] = {
    "kick": "kick", "snare": "snare", "sidestick": "rim", "clap": "snare",
    "closed_hh": "closed_hh", "pedal_hh": "pedal_hh", "tambourine": "closed_hh",
    "open_hh": "open_hh", "low_tom": "low_tom", "mid_tom": "mid_tom", "high_tom": "high_tom",
    "crash": "crash", "china": "crash", "splash": "crash", "ride": "ride", "ride_bell": "ride",
    "cowbell": "ride", "perc": "rim", "other": "rim",
}
# GM percussion pitch -> voice, through the one GM pitch -> class table (maps/gm.yaml).
VOICE_OF_PITCH: dict[int, str] = {p: VOICE_OF_CLASS[c] for p, c in gm_classes().items()}
_LOWEST, _HIGHEST = min(VOICE_OF_PITCH), max(VOICE_OF_PITCH)
# A closed or pedal hat cuts a ringing open hat, as on a real hi-hat stand.
CHOKES: dict[str, tuple[str, ...]] = {"closed_hh": ("open_hh",), "pedal_hh": ("open_hh",)}
CHOKE_S = 0.004  # fade length: short enough to read as a choke, long enough not to click
VELOCITY_CURVE = 1.7  # level = (velocity/127)**curve: soft notes fall off like a real kit
MASTER_GAIN = 0.5  # headroom for a few loud voices summing
MAX_VOICES = 48


def voice_of(pitch: int) -> str:
    """The voice that plays a GM pitch; a pitch outside the GM key map (35-81) plays the
    voice of the nearest GM pitch (a kick below it, the rim click above)."""
    return VOICE_OF_PITCH[min(max(int(pitch), _LOWEST), _HIGHEST)]


def velocity_gain(velocity: int) -> float:
    """Linear amplitude for a MIDI velocity (clipped to 0..127): MASTER_GAIN x
    (velocity/127)^VELOCITY_CURVE, a power law so soft notes fall off as on a real kit: 0.5 at
    127, -3.5 dB at 100, -10 dB at 64, -20 dB at 32, silence at 0."""
    return MASTER_GAIN * (min(max(int(velocity), 0), 127) / 127.0) ** VELOCITY_CURVE


# --- voice synthesis -------------------------------------------------------------------------

def _t(sr: int, seconds: float) -> np.ndarray:
    return np.arange(int(sr * seconds)) / sr


def _decay(t: np.ndarray, tau: float) -> np.ndarray:
    return np.exp(-t / tau)


def _sweep(t: np.ndarray, sr: int, f_start: float, f_end: float, tau: float) -> np.ndarray:
    """Sine whose frequency glides exponentially from f_start to f_end (phase-continuous)."""
    f = f_end + (f_start - f_end) * np.exp(-t / tau)
    return np.sin(2 * np.pi * (np.cumsum(f) - f[0]) / sr)


def _shaped_noise(n: int, sr: int, lo: float, hi: float, rng: np.random.Generator,
                  order: int = 2) -> np.ndarray:
    """White noise band-limited in the frequency domain (zero-phase; the envelope is applied
    afterwards, so there is no pre-ringing before the onset)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    with np.errstate(divide="ignore"):
        hp = 1 / np.sqrt(1 + (lo / np.maximum(f, 1e-9)) ** (2 * order)) if lo > 0 else 1.0
    lp = 1 / np.sqrt(1 + (f / hi) ** (2 * order))
    x = np.fft.irfft(spec * hp * lp, n)
    return x / (np.max(np.abs(x)) + 1e-12)


def _metal(t: np.ndarray, sr: int, lo: float, rng: np.random.Generator) -> np.ndarray:
    """808-style metallic cluster: six detuned square waves, high-passed."""
    freqs = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)
    x = sum(np.sign(np.sin(2 * np.pi * f * 1.7 * t + rng.uniform(0, 2 * np.pi))) for f in freqs)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(t), 1 / sr)
    x = np.fft.irfft(spec * (f > lo), len(t))
    return x / (np.max(np.abs(x)) + 1e-12)


def _kick(sr, rng):
    t = _t(sr, 0.6)
    body = _sweep(t, sr, 160.0, 48.0, 0.03) * _decay(t, 0.16)
    click = _shaped_noise(len(t), sr, 1500, 6000, rng) * _decay(t, 0.003)
    return body + 0.3 * click


def _snare(sr, rng):
    t = _t(sr, 0.4)
    tone = (np.sin(2 * np.pi * 185 * t) + 0.6 * np.sin(2 * np.pi * 330 * t)) * _decay(t, 0.05)
    rattle = _shaped_noise(len(t), sr, 1800, 9000, rng) * _decay(t, 0.09)
    return 0.6 * tone + rattle


def _rim(sr, rng):
    t = _t(sr, 0.08)
    return (np.sin(2 * np.pi * 1700 * t) * 0.7
            + _shaped_noise(len(t), sr, 2000, 8000, rng)) * _decay(t, 0.008)


def _hat(seconds, tau, gain):
    def make(sr, rng):
        t = _t(sr, seconds)
        x = 0.6 * _metal(t, sr, 7000, rng) + 0.5 * _shaped_noise(len(t), sr, 7000, 16000, rng)
        return gain * x * _decay(t, tau)
    return make


def _tom(f0):
    def make(sr, rng):
        t = _t(sr, 0.7)
        body = _sweep(t, sr, f0 * 1.6, f0, 0.05) * _decay(t, 0.2)
        skin = _shaped_noise(len(t), sr, 300, 3000, rng) * _decay(t, 0.02)
        return body + 0.25 * skin
    return make


def _crash(sr, rng):
    t = _t(sr, 2.5)
    x = 0.5 * _metal(t, sr, 3000, rng) + _shaped_noise(len(t), sr, 3000, 14000, rng)
    return 0.7 * x * _decay(t, 0.7)


def _ride(sr, rng):
    t = _t(sr, 2.0)
    wash = 0.4 * _metal(t, sr, 5000, rng) + 0.4 * _shaped_noise(len(t), sr, 5000, 14000, rng)
    bell = 0.35 * (np.sin(2 * np.pi * 720 * t) + 0.5 * np.sin(2 * np.pi * 1150 * t))
    return wash * _decay(t, 0.5) + bell * _decay(t, 0.25)


_MAKERS = {
    "kick": _kick, "snare": _snare, "rim": _rim,
    "closed_hh": _hat(0.15, 0.025, 0.8), "pedal_hh": _hat(0.12, 0.018, 0.6),
    "open_hh": _hat(1.0, 0.25, 0.8),
    "low_tom": _tom(90.0), "mid_tom": _tom(125.0), "high_tom": _tom(170.0),
    "crash": _crash, "ride": _ride,
}
VOICES = tuple(_MAKERS)


@lru_cache(maxsize=None)
def voice_sample(voice: str, sr: int) -> np.ndarray:
    """The cached mono sample of a voice (one of VOICES) at sample rate sr (Hz): (n,) float32,
    read-only, peak 1, starting at full attack and ending on a 10 ms fade. The same in every
    process (its noise is seeded by the voice's name). KeyError for an unknown voice."""
    rng = np.random.default_rng(zlib.crc32(voice.encode()))  # same kit in every process
    x = _MAKERS[voice](sr, rng)
    fade = min(len(x), int(sr * 0.01))  # end on silence, not a cut
    x[-fade:] *= np.linspace(1, 0, fade)
    x = (x / np.max(np.abs(x))).astype(np.float32)
    x.flags.writeable = False
    return x


def sample_for(pitch: int, sr: int) -> np.ndarray:
    """The cached sample that plays GM `pitch` at `sr` Hz (voice_sample of voice_of(pitch))."""
    return voice_sample(voice_of(pitch), sr)


# --- mixer -----------------------------------------------------------------------------------

class _Voice:
    __slots__ = ("name", "sample", "pos", "gain", "end", "fade_from")

    def __init__(self, name, sample, gain, start):
        self.name, self.sample, self.gain = name, sample, gain
        self.pos = -start  # sample index at the mixer's current frame (negative = not yet)
        self.end = len(sample)
        self.fade_from = None  # sample index where a choke fade starts


class VoiceMixer:
    """Mixes scheduled hits into consecutive blocks, sample-accurately.

    Frames count from 0 at construction; `frame` is the first frame of the next block.
    Hits scheduled in the past start at the beginning of the next block (counted in `late`).

    `samplerate` in Hz; `channels`: the output's (every channel gets the same mono mix);
    `max_block`: frames render() mixes without allocating. At most MAX_VOICES sound at once
    (the oldest is stolen); a closed or pedal hat chokes an open one over CHOKE_S. Every voice
    is rendered at construction (the first at a rate: 0.14 s at 48 kHz here), never in an audio
    callback. Not thread-safe: one thread schedules and renders (SynthOutput's callback, or
    `drumd render`).
    """

    def __init__(self, samplerate: int = 48000, channels: int = 1, max_block: int = 8192):
        self.sr, self.channels = int(samplerate), channels
        self.frame = 0
        self._pending: list[tuple[int, int, int, int]] = []  # heap of (frame, seq, pitch, vel)
        self._seq = 0
        self.late = 0  # hits that arrived after their frame had been rendered
        self._active: list[_Voice] = []
        self._mono = np.zeros(max_block, np.float32)
        self._scratch = np.zeros(max_block, np.float32)
        self._choke = np.linspace(1, 0, max(1, int(self.sr * CHOKE_S)), dtype=np.float32)
        for v in VOICES:  # render every voice now, never inside an audio callback
            voice_sample(v, self.sr)

    def schedule(self, pitch: int, velocity: int, at_frame: int) -> None:
        """A hit of GM `pitch` (voice_of: any int) at `velocity` 1..127 (0 or less: ignored)
        to start at mixer frame `at_frame`."""
        if velocity <= 0:
            return
        heapq.heappush(self._pending, (int(at_frame), self._seq, int(pitch), int(velocity)))
        self._seq += 1

    @property
    def busy(self) -> bool:
        """True while any hit is pending or still sounding."""
        return bool(self._pending or self._active)

    def tail_frames(self) -> int:
        """Frames until every pending and sounding voice has finished."""
        last = self.frame
        for v in self._active:
            last = max(last, self.frame + v.end - v.pos)
        for at, _, pitch, _ in self._pending:
            last = max(last, max(at, self.frame) + len(sample_for(pitch, self.sr)))
        return last - self.frame

    def render(self, nframes: int, out: np.ndarray | None = None) -> np.ndarray:
        """Mix the next nframes; returns (nframes,) for mono or (nframes, channels) float32.

        With `out` (shape (nframes, channels)), mixes into it in place without allocating
        big arrays: the form for audio callbacks.
        """
        if nframes > len(self._mono):
            self._mono = np.zeros(nframes, np.float32)
            self._scratch = np.zeros(nframes, np.float32)
        mono = self._mono[:nframes]
        mono.fill(0.0)
        end = self.frame + nframes
        while self._pending and self._pending[0][0] < end:
            at, _, pitch, vel = heapq.heappop(self._pending)
            self.late += at < self.frame
            self._start(pitch, vel, max(at, self.frame) - self.frame)
        keep = []
        for v in self._active:
            self._mix(v, mono, nframes)
            if v.pos < v.end:
                keep.append(v)
        self._active = keep
        self.frame = end
        np.clip(mono, -1.0, 1.0, out=mono)
        if out is None:
            return mono.copy() if self.channels == 1 else np.repeat(mono[:, None], self.channels, 1)
        out[:] = mono[:, None]
        return out

    def _start(self, pitch, vel, offset):
        name = voice_of(pitch)
        choked = CHOKES.get(name)
        if choked:  # only hats choke: the others skip the walk over the sounding voices
            for v in self._active:
                at = v.pos + offset  # the choking hit's position in this voice's own timeline
                if v.name in choked and v.fade_from is None and 0 <= at < v.end:
                    v.fade_from = at
                    v.end = min(v.end, at + len(self._choke))
        if len(self._active) >= MAX_VOICES:
            self._active.pop(0)  # steal the oldest voice
        self._active.append(_Voice(name, voice_sample(name, self.sr), velocity_gain(vel), offset))

    def _mix(self, v: _Voice, mono: np.ndarray, nframes: int) -> None:
        a = max(v.pos, 0)  # first sample index that sounds in this block
        b = min(v.pos + nframes, v.end)
        if b > a:
            dst = a - v.pos
            k = b - a
            seg = self._scratch[:k]
            np.multiply(v.sample[a:b], v.gain, out=seg)
            if v.fade_from is not None and b > v.fade_from:
                f0 = max(a, v.fade_from)
                seg[f0 - a:] *= self._choke[f0 - v.fade_from:b - v.fade_from]
            mono[dst:dst + k] += seg
        v.pos += nframes
