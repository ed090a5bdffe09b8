"""Audio devices through sounddevice: the real-time synth output and device listing.

sounddevice loads PortAudio when it is imported; drumd imports it only through `sounddevice()`,
so a machine without PortAudio gets one AudioError line naming the package to install.
"""
from __future__ import annotations

import collections
import ctypes
import time

import numpy as np

from drumd.daemon.sound.synth import VoiceMixer
from drumd.mappings.basics.errors import DrumdError

_jack_name = None  # the client name's bytes must outlive PortAudio's use of them

# Callbacks whose clock estimate is kept; the least-delayed of them gives the clock.
_CLOCK_WINDOW = 64


PORTAUDIO_MISSING = ("the PortAudio library is not installed; drumd needs it for audio "
                     "(Debian/Ubuntu: apt-get install libportaudio2; "
                     "Fedora: dnf install portaudio; macOS: brew install portaudio)")


class AudioError(DrumdError):
    """No audio: PortAudio is missing, or a device is not there or refuses to open. One line."""


def sounddevice():
    """The sounddevice module. Raises AudioError where PortAudio cannot be loaded."""
    try:
        import sounddevice as sd
    except OSError:  # sounddevice: "PortAudio library not found", or the library fails to load
        raise AudioError(PORTAUDIO_MISSING) from None
    return sd


def open_error(e: Exception, device, kind: str) -> AudioError:
    """sounddevice's error opening `device` (None: the default) for `kind` ("input" or
    "output") as one line naming the device."""
    if device is None and "querying device -1" in str(e):
        return AudioError(f"no default audio {kind} device (see `drumd devices`)")
    if "querying device" in str(e):  # no device of that number
        return AudioError(f"no audio {kind} device {device!r} (see `drumd devices`)")
    name = "the default" if device is None else repr(device)
    if isinstance(e, ValueError):  # no device of that name, several, or settings it refuses
        return AudioError(f"audio {kind} {name}: {e} (see `drumd devices`)")
    return AudioError(f"audio {kind} {name} cannot be opened: {e}")


def set_jack_client_name(name: str) -> bool:
    """Name this process's JACK client (ports show as NAME:out_0 instead of PortAudio:out_0).

    PortAudio reads the name when it initialises, so this re-initialises it: call it before
    opening any stream. Returns False where PortAudio has no JACK support.
    """
    sd = sounddevice()
    try:
        fn = ctypes.CDLL(sd._libname).PaJack_SetClientName
    except (AttributeError, OSError):
        return False
    global _jack_name
    _jack_name = ctypes.create_string_buffer(name.encode())  # PortAudio keeps the pointer
    fn.argtypes = [ctypes.c_char_p]
    sd._terminate()
    fn(_jack_name)
    sd._initialize()
    return True


class SynthOutput:
    """Plays drum hits through the built-in synth on an audio output, sample-accurately.

    Usage (e.g. the daemon with `serve --synth`):

        out = SynthOutput(device=None)       # default output; a name or index as sounddevice takes
        out.start()
        out.play(36, 100, when=t)            # t: time.perf_counter() seconds the hit should sound
        ...                                  # play() is thread-safe and never blocks
        out.close()                          # or: with SynthOutput() as out: ...

    Send each hit at least `out.latency` plus one block before `when`; later ones play at the
    next block (counted in `out.late_hits`). The callback only drains a deque and mixes.

    `source` makes the sound source, called as source(samplerate, channels, max_block=N) once
    the device's rate is known: synth.VoiceMixer (the built-in kit) by default, or a factory of
    soundfont.FluidSource. Its errors (SoundFontError) come out of the constructor.

    `samplerate`: Hz, None for the device's default; `blocksize`: frames per callback (128:
    2.7 ms at 48 kHz); `latency`: seconds from a callback to the DAC, the least seen over the
    last 64 callbacks. Raises AudioError (one line naming the device) when PortAudio is missing
    or the device is not there or refuses the settings.

    Threads: play() from any (the engine and input threads): a deque append, atomic under the
    GIL; the callback runs on the audio host's thread and estimates when frame 0 reached the DAC
    (perf_counter seconds) from the least-delayed of its last 64 calls.
    """

    def __init__(self, device=None, samplerate: float | None = None, blocksize: int = 128,
                 channels: int = 2, source=None):
        sd = sounddevice()
        self._queue: collections.deque = collections.deque()
        try:
            self._stream = sd.OutputStream(device=device, samplerate=samplerate,
                                           blocksize=blocksize, channels=channels,
                                           dtype="float32", latency="low", callback=self._callback)
        except (ValueError, sd.PortAudioError) as e:
            raise open_error(e, device, "output") from None
        self.samplerate = int(self._stream.samplerate)
        try:
            self._mixer = (source or VoiceMixer)(self.samplerate, channels,
                                                 max_block=max(blocksize, 4096))
        except BaseException:
            self._stream.close()
            raise
        self.source = self._mixer  # what makes the sound (its kit's name, for a SoundFont)
        self._clock = np.full(_CLOCK_WINDOW, np.inf)  # estimates of frame 0's DAC time
        self._lat = np.full(_CLOCK_WINDOW, np.inf)
        self._clock_i = 0
        self._stream_latency = float(self._stream.latency)
        self.latency = self._stream_latency  # seconds from a callback to the DAC

    def start(self) -> None:
        """Start the stream: the callback runs from now on (sounddevice.PortAudioError if the
        host refuses)."""
        self._stream.start()

    def close(self) -> None:
        """Stop the stream (after the running callback returns) and close it, then free the
        source (a SoundFont's FluidSynth). Hits still queued are dropped."""
        self._stream.stop()
        self._stream.close()
        if hasattr(self._mixer, "close"):  # a SoundFont's FluidSynth, once no callback runs
            self._mixer.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def play(self, pitch: int, velocity: int, when: float | None = None) -> None:
        """Queue a hit to sound at perf_counter time `when` in seconds (None: as soon as
        possible, the next block): GM `pitch` (others play the nearest GM drum's voice),
        `velocity` 1..127 (0 or less: no hit). Thread-safe, never blocks."""
        self._queue.append((pitch, velocity, when))

    @property
    def late_hits(self) -> int:
        """Hits that reached the callback after their frame had been played (queued less than
        `latency` plus one block ahead): they sounded at the start of the next block instead."""
        return self._mixer.late

    @property
    def busy(self) -> bool:
        """True while hits are queued or still sounding."""
        return bool(self._queue) or self._mixer.busy

    def _callback(self, outdata, frames, time_info, status):
        now = time.perf_counter()
        lat = time_info.outputBufferDacTime - time_info.currentTime
        if not 0.0 <= lat < 1.0:  # some host APIs report no times; use the stream's figure
            lat = self._stream_latency
        if status.output_underflow:
            self._clock.fill(np.inf)  # an xrun shifts the DAC against our frame count
            self._lat.fill(np.inf)
        # When frame 0 would reach the DAC, as seen from this callback. Scheduling delays only
        # ever make the callback late, so the minimum over recent callbacks is the truest.
        i = self._clock_i
        self._clock[i] = now + lat - self._mixer.frame / self.samplerate
        # PortAudio may split a host buffer into several callbacks, later ones with a longer
        # lat (their DAC time moves on, `now` does not): the shortest is the host's latency.
        self._lat[i] = lat
        self._clock_i = (i + 1) % _CLOCK_WINDOW
        origin = float(self._clock.min())
        self.latency = float(self._lat.min())
        q = self._queue
        while q:
            pitch, velocity, when = q.popleft()
            at = self._mixer.frame if when is None else round((when - origin) * self.samplerate)
            self._mixer.schedule(pitch, velocity, at)
        self._mixer.render(frames, outdata)


def describe_devices() -> str:
    """A readable table of host APIs and audio devices (defaults marked with >/<)."""
    sd = sounddevice()
    apis = sd.query_hostapis()
    devices = sd.query_devices()
    default_in, default_out = sd.default.device
    lines = ["Host APIs:"]
    for i, api in enumerate(apis):
        lines.append(f"  {i}  {api['name']}  ({len(api['devices'])} devices)")
    lines += ["", "Devices:  (> default input, < default output)",
              f"  {'':2} {'#':>3}  {'name':<40} {'host API':<28} {'in':>3} {'out':>3} {'rate':>7}"]
    for d in devices:
        i = d["index"]
        mark = (">" if i == default_in else " ") + ("<" if i == default_out else " ")
        lines.append(f"  {mark} {i:>3}  {d['name'][:40]:<40} {apis[d['hostapi']]['name'][:28]:<28}"
                     f" {d['max_input_channels']:>3} {d['max_output_channels']:>3}"
                     f" {d['default_samplerate']:>7.0f}")
    if not len(devices):
        lines.append("  (none: PortAudio finds no audio device; is the sound server running?)")
    return "\n".join(lines)
