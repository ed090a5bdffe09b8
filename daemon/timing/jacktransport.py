"""JACK transport as drumd's clock (`drumd serve --clock jack`, and `--clock auto` where a JACK
server runs: followed while it rolls, a timebase master waited for): rolling or stopped, the song
position (bar, beat, tick: BBT), the tempo and the meter, as the DAW that is JACK's timebase
master (Ardour, Qtractor, Hydrogen, `jack_transport`) publishes them once per JACK period.

Read through the JACK-Client package (`jack` module, the jackclient-python binding of libjack's
API) from an ordinary thread: `jack_transport_query` is realtime-safe and may be called from
any thread (JACK API, transport.h), so drumd needs no Python in JACK's process thread.

Units: song positions are in 16th steps from bar 1 beat 1 (grid.py); tempos in quarter notes
per minute; times in seconds of the `now` clock (time.perf_counter by default). The position
JACK reports is that of the first frame of the current process cycle; the time of that frame
is the query time less `jack_frames_since_cycle_start` (JACK's own estimate, from its
delay-locked loop, of the frames since the cycle began). So a step is placed from the
transport's frame count, to well under a millisecond, not from when the query happened.

BBT (JACK's jack_position_t, "JackPositionBBT"): `bar` and `beat` count from 1, `tick` from 0
in `ticks_per_beat` per beat; a beat is a 1/`beat_type` note and `beats_per_minute` counts
those beats. drumd plays 4/4: in another meter it counts 16ths from the song's start (its
bars then drift from the transport's; the session says so once). With no timebase master the
transport has a frame count but no BBT; drumd then counts the frames at the fallback tempo
(`--bpm`) from frame 0 as bar 1.
"""
from __future__ import annotations

import dataclasses
import time

from drumd.daemon.timing.clock import JACK_TRANSPORT
from drumd.mappings.basics.errors import DrumdError
from drumd.mappings.basics.grid import STEPS_PER_BEAT

QUARTER = 4  # a quarter note's beat_type


class TransportError(DrumdError):
    """An external transport cannot be followed (no JACK server or library for JACK
    transport; no Link binding, or Link failing to start, for Link: linkclock.py)."""


@dataclasses.dataclass(frozen=True)
class TransportState:
    """One reading of an external transport (JACK transport, Link) as Clock.transport takes
    it: song position in 16ths at `time` (seconds of the reader's `now` clock), tempo in quarter
    notes per minute."""
    rolling: bool
    time: float           # seconds (the `now` clock) of the frame the position belongs to
    position: float       # song position in 16ths at `time`
    bpm: float            # quarter notes per minute
    meter: tuple[int, int] | None  # (beats per bar, beat type); None: no BBT (no timebase master)
    frame: int            # the transport's frame at `time` (0 for Link)
    peers: int | None = None  # Link: the other peers in the session; None for JACK


def song_position(pos: dict, fallback_bpm: float) -> tuple[float, float, tuple[int, int] | None]:
    """(song position in 16ths, tempo in quarter notes per minute, (beats per bar, beat type)
    or None) at the frame `pos` describes: a jack_position_t as JACK-Client's transport_query
    returns it (only its valid fields). Without BBT fields, `pos['frame']` counted at
    `fallback_bpm` from frame 0."""
    rate = pos["frame_rate"]
    if "bar" not in pos:
        return pos["frame"] / rate * fallback_bpm / 60 * STEPS_PER_BEAT, fallback_bpm, None
    per_bar, beat_type = int(round(pos["beats_per_bar"])), int(round(pos["beat_type"]))
    beats = (pos["bar"] - 1) * pos["beats_per_bar"] + pos["beat"] - 1 + pos["tick"] / pos["ticks_per_beat"]
    steps_per_beat = STEPS_PER_BEAT * QUARTER / beat_type
    bpm = pos["beats_per_minute"] * QUARTER / beat_type
    steps = beats * steps_per_beat
    # JackBBTFrameOffset: the BBT fields describe the frame `bbt_offset` frames before `frame`
    steps += pos.get("bbt_offset", 0) / rate * bpm / 60 * STEPS_PER_BEAT
    return steps, bpm, (per_bar, beat_type)


def jack_client_module():
    """JACK-Client's `jack` module, loaded on the libjack python-rtmidi runs on (jackgate's
    libjack_path). JACK-Client opens the system's libjack by default (ctypes.util.find_library),
    and a second libjack in one process maps all of JACK's shared memory a second time: serve's
    RSS was 264 MB with both (205 MB of it JACK's), against a 220 MB target (bench/startup_bench.py).
    Raises ImportError or OSError as `import jack` does."""
    import sys
    if "jack" in sys.modules:
        return sys.modules["jack"]
    import ctypes.util

    from drumd.daemon.midi.jackgate import libjack_path
    path, find_library = libjack_path(), ctypes.util.find_library
    # jack.py reads `ctypes.util.find_library` once, as it is imported
    ctypes.util.find_library = lambda name: path if name in ("jack", "libjack", "libjack64") else find_library(name)
    try:
        import jack
    finally:
        ctypes.util.find_library = find_library
    return jack


class JackTransport:
    """A JACK client (no ports) that reads the transport. `client`: its JACK client name.
    `source`: Clock.source while following it; `poll_s`: seconds between queries (half a JACK
    period, 1-10 ms). `fallback_bpm`: the tempo that counts frames without a timebase master.
    Raises TransportError (one line) when the JACK library is missing or no server runs; it
    never starts one. query() and close() from one thread (the transport thread)."""

    source = JACK_TRANSPORT

    def __init__(self, client: str, fallback_bpm: float = 120.0, now=time.perf_counter):
        try:
            jack = jack_client_module()
        except (ImportError, OSError) as e:  # OSError: JACK-Client finds no libjack
            raise TransportError(f"--clock jack needs the JACK library ({e})") from None
        self._jack = jack
        # libjack's own lines for a missing server ("Cannot connect to server socket...", five
        # of them) off: drumd says it in one line, or (--clock auto) has nothing to say
        jack.set_error_function(lambda message: None)
        jack.set_info_function(lambda message: None)
        try:
            self.client = jack.Client(client, no_start_server=True)
        except jack.JackError:
            raise TransportError("--clock jack: no JACK server is running (start one, e.g. "
                                 "`jackd -d alsa`, or your DAW's)") from None
        finally:
            jack.set_error_function(None)  # libjack's default: stderr
            jack.set_info_function(None)
        self.fallback_bpm, self.now = fallback_bpm, now
        self.rate = self.client.samplerate
        self.period = self.client.blocksize / self.rate  # seconds per JACK process cycle
        self.poll_s = min(max(self.period / 2, 0.001), 0.01)  # twice a period, at most every 10 ms

    def query(self) -> TransportState:
        """Where the transport is: its state and position at the current cycle's first frame."""
        for _ in range(3):  # a cycle boundary between the two reads: ask again
            before = self.client.frames_since_cycle_start
            state, pos = self.client.transport_query()
            t = self.now()
            since = self.client.frames_since_cycle_start
            if since >= before:
                break
        steps, bpm, meter = song_position(pos, self.fallback_bpm)
        return TransportState(state == self._jack.ROLLING, t - since / self.rate, steps, bpm,
                              meter, pos["frame"])

    def close(self) -> None:
        """Leave the JACK server (the client and its name go)."""
        self.client.close()
