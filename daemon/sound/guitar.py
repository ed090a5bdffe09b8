"""Guitar following: level, onsets and their strength, a playing gate, phrase ends and tempo
from an audio input.

`GuitarAnalyzer` is the pure core (numpy arrays in, `GuitarState` out; no devices), so it is
tested on synthetic signals. `GuitarFollower` feeds it from a sounddevice input captured in a
child process (capture.py); a worker thread runs the analysis and publishes an immutable
`GuitarState` that the daemon polls once per step.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from drumd.daemon.sound.audio import AudioError

HOP = 256      # analysis hop in samples (5.3 ms at 48 kHz)
FRAME = 1024   # spectral-flux window


@dataclass(frozen=True)
class GuitarConfig:
    """Tuning of GuitarAnalyzer. Levels in dBFS of a hop's mean square (a full-scale sine is
    -3 dBFS), times in seconds, tempos in BPM (quarter notes per minute), bars of 4 beats."""
    floor_db: float = -55.0        # level mapped to intensity 0
    ceil_db: float = -12.0         # level mapped to intensity 1
    gate_on_db: float = -42.0      # the gate opens above this level...
    gate_off_db: float = -50.0     # ...and closes once below this one for hold_s (hysteresis)
    hold_s: float = 0.25           # s below gate_off_db before the gate closes
    release_db_s: float = 40.0     # level envelope fall rate: bridges the dips between notes
    intensity_tau_s: float = 0.3   # smoothing of intensity, so density does not flicker
    onset_window_s: float = 4.0    # onset_rate is counted over this window
    tempo_window_s: float = 8.0    # onsets used for the tempo estimate
    bpm_range: tuple[float, float] = (70.0, 180.0)
    default_bpm: float = 120.0     # bar length when neither a clock nor an estimate is known
    fill_after_bars: float = 1.0   # silence after a phrase that ends it (and calls for a fill)
    min_phrase_s: float = 1.0      # shorter bursts (a bumped string) never end a phrase


@dataclass(frozen=True)
class GuitarState:
    """What the guitar is doing, as of `t` seconds of analysed audio.

    The daemon polls `GuitarFollower.snapshot()` once per step: scale density and velocity by
    `intensity`; play while `accompany`; when `phrase_ended` is True (exactly one snapshot per
    phrase), play a fill, after which `accompany` stays False until the guitar plays again.
    """
    t: float = 0.0
    level_db: float = -120.0       # enveloped input level, dBFS
    intensity: float = 0.0         # 0..1
    playing: bool = False          # the gate (with hysteresis and hold)
    onset_rate: float = 0.0        # onsets per second over the last onset_window_s
    tempo_bpm: float | None = None  # estimated from onsets; kept through rests
    silent_s: float = 0.0          # seconds since the level fell away (0 while playing)
    bars_silent: float = 0.0       # silent_s in bars (clock tempo, else estimate, else default)
    accompany: bool = False        # playing, or resting for less than fill_after_bars
    phrases: int = 0               # phrases ended so far
    phrase_ended: bool = False     # a phrase ended since the previous follower snapshot()
    # recent onsets (those of the tempo window), oldest first: (time, s of analysed audio;
    # strength, the spectral-flux peak: louder plucks are stronger, see _detect_onset)
    onsets: tuple[tuple[float, float], ...] = ()
    # time.perf_counter() when the audio up to `t` had arrived (GuitarFollower; None offline):
    # an onset at time o was played at about wall - (t - o)
    wall: float | None = None


def estimate_tempo(onset_times, bpm_range=(70.0, 180.0), res: float = 0.005) -> float | None:
    """Beat tempo in BPM from onset times (1-d, seconds, rising), or None with fewer than 6
    onsets. `bpm_range`: (lowest, highest) BPM, searched in 0.25 BPM steps; `res`: the onset
    train's resolution in seconds.

    Autocorrelation of a smoothed onset train (12 ms Gaussian), scored over the first four
    multiples of each candidate beat period (so the beat beats its own subdivisions), with a
    mild preference for moderate tempi to settle octave ties: a log-Gaussian weight, one octave
    wide around 110 BPM, as the tempo prior of D. Ellis, "Beat tracking by dynamic
    programming", J. New Music Research 36(1), 2007.
    """
    t = np.asarray(onset_times, dtype=np.float64)
    if len(t) < 6:
        return None
    t = t - t[0]
    n = int(round(t[-1] / res)) + 1
    train = np.zeros(n)
    np.add.at(train, np.round(t / res).astype(int), 1.0)
    k = np.arange(-8, 9)
    train = np.convolve(train, np.exp(-0.5 * (k * res / 0.012) ** 2), mode="same")
    spec = np.fft.rfft(train, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    bpms = np.arange(bpm_range[0], bpm_range[1] + 1e-9, 0.25)
    period = 60.0 / bpms / res
    score = np.zeros_like(bpms)
    for m, w in ((1, 1.0), (2, 0.5), (3, 0.33), (4, 0.25)):
        score += w * np.interp(m * period, np.arange(n), ac, right=0.0)
    score *= np.exp(-0.5 * np.log2(bpms / 110.0) ** 2)
    if score.max() <= 0:
        return None
    return float(bpms[np.argmax(score)])


class GuitarAnalyzer:
    """Streaming analysis of a mono signal fed in chunks of any length.

    `samplerate` in Hz. The signal is analysed in hops of HOP samples (5.3 ms at 48 kHz); each
    hop updates the level envelope (dBFS: instant attack, release_db_s fall), the smoothed
    intensity, the gate and phrase ends, and looks for an onset: spectral flux of the last FRAME
    samples (Hann window; Bello et al. 2005, Dixon 2006: see _detect_onset), peak-picked above
    1.5 x the median flux of the last 0.25 s plus 0.05, at most one per 60 ms.

    `bpm`: the clock's tempo (quarter notes per minute) when the daemon has one; it sizes the
    bars of fill_after_bars and bars_silent (else the onsets' estimate, else
    config.default_bpm). Not thread-safe: one thread feeds and reads state() (GuitarFollower's
    worker); `bpm` alone may be assigned from another (one attribute).
    """

    def __init__(self, samplerate: float, config: GuitarConfig = GuitarConfig()):
        self.sr = float(samplerate)
        self.cfg = config
        self.bpm: float | None = None  # the clock's tempo, when the daemon has one
        self._hop_s = HOP / self.sr
        self._pend = np.zeros(0, np.float32)
        self._frame = np.zeros(FRAME, np.float32)
        self._window = np.hanning(FRAME).astype(np.float32)
        self._prev_mag = np.zeros(FRAME // 2 + 1)
        self._flux = deque([0.0] * 3, maxlen=3)  # last three flux values for peak picking
        self._flux_hist = deque(maxlen=max(1, int(0.25 / self._hop_s)))
        self._hops = 0
        self._env = -120.0
        self._intensity = 0.0
        self._playing = False
        self._quiet_since: float | None = None  # time the level fell below gate_off_db
        self._phrase_start = 0.0
        self._phrase_open = False  # a long-enough phrase awaits its end
        self._phrases = 0
        self._onsets: deque[float] = deque()
        self._strengths: deque[float] = deque()  # each onset's flux peak, beside _onsets
        self._onset_pairs: tuple[tuple[float, float], ...] = ()  # GuitarState.onsets, built on change
        self._last_onset = -1.0
        self._tempo: float | None = None
        self._tempo_dirty = False

    @property
    def t(self) -> float:
        """Seconds of audio analysed so far (whole hops), the clock every time in GuitarState
        and `onsets` counts in."""
        return self._hops * self._hop_s

    @property
    def pending(self) -> int:
        """Samples fed but not yet analysed (fewer than a hop)."""
        return len(self._pend)

    @property
    def onsets(self) -> list[float]:
        """Recent onset times (seconds of analysed audio), the tempo and rate windows' worth."""
        return list(self._onsets)

    def feed(self, x: np.ndarray) -> None:
        """Analyse the next samples of the stream: `x` of any length (flattened, as float32,
        full scale +-1). What falls short of a whole hop waits for the next call (`pending`).
        Costs one FFT of FRAME samples per hop."""
        x = np.asarray(x, np.float32).reshape(-1)
        if len(self._pend):
            x = np.concatenate([self._pend, x])
        n = len(x) // HOP * HOP
        for i in range(0, n, HOP):
            self._hop(x[i:i + HOP])
        self._pend = x[n:].copy()

    def _hop(self, h: np.ndarray) -> None:
        cfg = self.cfg
        self._hops += 1
        t = self.t
        self._frame[:-HOP] = self._frame[HOP:]
        self._frame[-HOP:] = h
        level = 10 * np.log10(float(np.mean(h * h)) + 1e-12)
        # Instant attack, linear-in-dB release: the gate closes a bounded time after the
        # guitar does, yet stays open across the decay between notes.
        self._env = max(level, self._env - cfg.release_db_s * self._hop_s)
        target = np.clip((self._env - cfg.floor_db) / (cfg.ceil_db - cfg.floor_db), 0.0, 1.0)
        self._intensity += (target - self._intensity) * (1 - np.exp(-self._hop_s / cfg.intensity_tau_s))
        self._detect_onset(t)
        self._gate(t)

    def _detect_onset(self, t: float) -> None:
        # Spectral flux of log magnitudes: a new pluck adds energy across the spectrum even
        # when the string it re-plucks is still ringing at the same level (Bello et al., "A
        # tutorial on onset detection in music signals", IEEE TSAP 13(5), 2005; Dixon, "Onset
        # detection revisited", DAFx 2006). The peak's height is the onset's strength, which
        # grows with how hard the string is plucked: on the test guitar a pluck at 0.8 of
        # full scale peaks at 0.9-1.2, one at 0.3 at 0.5-0.7, the ring of a low string 0.05-0.1.
        mag = np.log1p(1000.0 * np.abs(np.fft.rfft(self._frame * self._window)) / (FRAME / 2))
        flux = float(np.mean(np.maximum(mag - self._prev_mag, 0.0)))
        self._prev_mag = mag
        self._flux.append(flux)
        a, b, c = self._flux  # b is the candidate peak, one hop back
        # The threshold comes from the flux before b; the median ignores the rising edge of
        # this very onset, which a mean would not.
        self._flux_hist.append(a)
        thresh = 1.5 * np.median(self._flux_hist) + 0.05
        onset_t = t - self._hop_s
        if b > thresh and b > a and b >= c and self._env > self.cfg.gate_off_db:
            if onset_t - self._last_onset > 0.06:
                self._last_onset = onset_t
                self._onsets.append(onset_t)
                self._strengths.append(b)
                self._onset_pairs = ()
                self._tempo_dirty = True
            elif self._onsets and self._onsets[-1] == self._last_onset and b > 2 * self._strengths[-1]:
                # a far stronger peak within 60 ms of a weak one: that was a low string's ring
                # (its flux wobbles 60-80 ms after the pluck), this is the next pluck
                self._last_onset = self._onsets[-1] = onset_t
                self._strengths[-1] = b
                self._onset_pairs = ()
                self._tempo_dirty = True
        keep = max(self.cfg.tempo_window_s, self.cfg.onset_window_s)
        while self._onsets and self._onsets[0] < t - keep:
            self._onsets.popleft()
            self._strengths.popleft()
            self._onset_pairs = ()

    def _gate(self, t: float) -> None:
        cfg = self.cfg
        if self._env >= cfg.gate_off_db:
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = t
        if not self._playing:
            if self._env > cfg.gate_on_db:
                self._playing = True
                if not self._phrase_open:
                    self._phrase_start = t
        elif self._quiet_since is not None and t - self._quiet_since >= cfg.hold_s:
            self._playing = False
            if t - self._phrase_start >= cfg.min_phrase_s + cfg.hold_s:
                self._phrase_open = True
        if self._phrase_open and not self._playing and \
                self._silent_s(t) >= cfg.fill_after_bars * self._bar_s():
            self._phrase_open = False
            self._phrases += 1

    def _silent_s(self, t: float) -> float:
        return 0.0 if self._playing or self._quiet_since is None else t - self._quiet_since

    def _bar_s(self) -> float:
        return 4 * 60.0 / (self.bpm or self._tempo or self.cfg.default_bpm)

    def state(self) -> GuitarState:
        """The analysis as of `t`: a new GuitarState (`phrase_ended` False and `wall` None:
        GuitarFollower sets those). Re-estimates the tempo (estimate_tempo over tempo_window_s)
        when an onset came since the last call; an estimate is kept through rests."""
        if self._tempo_dirty:
            self._tempo_dirty = False
            since = self.t - self.cfg.tempo_window_s
            est = estimate_tempo([o for o in self._onsets if o >= since], self.cfg.bpm_range)
            self._tempo = est if est is not None else self._tempo  # hold through rests
        t = self.t
        window = min(self.cfg.onset_window_s, t) or 1.0
        if len(self._onset_pairs) != len(self._onsets):
            self._onset_pairs = tuple(zip(self._onsets, self._strengths))
        silent = self._silent_s(t)
        return GuitarState(
            t=t, level_db=self._env, intensity=float(self._intensity), playing=self._playing,
            onset_rate=sum(1 for o in self._onsets if o >= t - window) / window,
            tempo_bpm=self._tempo, silent_s=silent, bars_silent=silent / self._bar_s(),
            accompany=self._playing or self._phrase_open,
            phrases=self._phrases, onsets=self._onset_pairs)


class AudioInputError(AudioError):
    """The guitar's audio input cannot be opened (no PortAudio, no such device, or it refuses)."""


class GuitarFollower:
    """Follows a guitar on a sounddevice input. Usage:

        follower = GuitarFollower(device="Scarlett", channel=0)  # name or index; None: default
        follower.start()
        follower.bpm = clock_bpm        # optional: the MIDI clock's tempo sizes the bars
        state = follower.snapshot()     # once per step; a GuitarState
        follower.close()

    The audio is captured by a child process (capture.py), so the audio host's real-time
    thread never waits for this process's GIL; a worker thread here ("drumd-guitar") reads its
    samples from a pipe, runs the analysis and publishes an immutable `GuitarState`.

    `channel`: the input channel, from 0; `samplerate`: Hz, None for the device's default;
    `blocksize`: frames per audio callback; `client`: the capture's JACK client name (None:
    PortAudio's). The constructor starts the capture process and waits for it to open the
    device; raises AudioInputError (an AudioError, one line) when PortAudio is missing or the
    device is not there or refuses.
    """

    def __init__(self, device=None, channel: int = 0, samplerate: float | None = None,
                 blocksize: int = HOP, config: GuitarConfig = GuitarConfig(),
                 client: str | None = "drumd-guitar"):
        opts = {"device": device, "channel": channel, "samplerate": samplerate,
                "blocksize": blocksize, "client": client}
        self._proc = subprocess.Popen([sys.executable, "-m", "drumd.daemon.sound.capture", json.dumps(opts)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        header = self._proc.stdout.readline()
        info = json.loads(header) if header.strip() else {}
        if "samplerate" not in info:
            self._proc.stdin.close()
            self._proc.wait()
            raise AudioInputError(info.get("error") or f"the audio capture process exited "
                                                       f"with code {self._proc.returncode}")
        self.analyzer = GuitarAnalyzer(info["samplerate"], config)
        self._state = self.analyzer.state()
        self._seen_phrases = 0
        self._worker = threading.Thread(target=self._run, name="drumd-guitar", daemon=True)

    @property
    def bpm(self) -> float | None:
        """The clock's tempo (quarter notes per minute) that sizes the analysis's bars, or None
        for the guitar's own estimate. Set by the engine thread, read by the worker: one
        attribute, no lock."""
        return self.analyzer.bpm

    @bpm.setter
    def bpm(self, value: float | None) -> None:
        self.analyzer.bpm = value

    def start(self) -> None:
        """Start the worker thread and tell the capture to start: samples flow from now on.
        Call once. (BrokenPipeError if the capture process has died since the constructor.)"""
        self._worker.start()
        self._proc.stdin.write(b"start\n")
        self._proc.stdin.flush()

    def close(self) -> None:
        """Stop the capture (its stdin closed; killed if it has not exited within 5 s, as in
        a hung audio host) and join the worker (up to 2 s). Safe to call twice; the last
        snapshot() stays readable."""
        try:
            self._proc.stdin.close()  # the capture stops and exits on end of input
        except BrokenPipeError:
            pass
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:  # stuck in a host that stopped answering
            self._proc.kill()
            self._proc.wait()
        if self._worker.is_alive():
            self._worker.join(2)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def snapshot(self) -> GuitarState:
        """The latest state; `phrase_ended` is True in the first snapshot after a phrase end.
        Never blocks (the worker replaces the state whole). One reader: the engine thread, once
        per step (it remembers the phrases it has seen)."""
        st = self._state
        ended = st.phrases > self._seen_phrases
        self._seen_phrases = st.phrases
        return dataclasses.replace(st, phrase_ended=ended) if ended else st

    def _run(self) -> None:
        rest = b""
        while chunk := self._proc.stdout.read1(1 << 16):  # waits without the GIL
            data = rest + chunk
            whole = len(data) - len(data) % 4
            self.analyzer.feed(np.frombuffer(data[:whole], np.float32))
            rest = data[whole:]
            # the samples just read arrived now; the last few short of a hop are not analysed yet
            wall = time.perf_counter() - self.analyzer.pending / self.analyzer.sr
            self._state = dataclasses.replace(self.analyzer.state(), wall=wall)
