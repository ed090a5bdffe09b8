"""Ableton Link as drumd's clock (`drumd serve --clock link`): tempo, bar phase and start/stop
shared with every Link peer on this machine or the local network (Live, Bitwig, Reason,
Traktor, phone apps), no MIDI routing needed.

Read through the LinkPython-extern package (`link` module, a pybind11 wrapper of Ableton's
Link SDK) from drumd's transport thread: `captureAppSessionState` is the SDK's call for
non-audio threads (Link SDK, Link.hpp: "Thread-safe: yes, Realtime-safe: no").

Like JACK transport (jacktransport.py) this is polled: each `query()` captures the session
state and turns it into a TransportState for Clock.transport(), which re-anchors drumd's grid
on it. Units: song positions in 16ths, tempos in quarter notes per minute (Link's beats are
quarters), times in seconds of the `now` clock (time.perf_counter by default). Link's own
clock (`Clock.micros`, CLOCK_MONOTONIC_RAW on Linux) is read beside `now`; as every poll
re-anchors the grid, the two clocks' slightly different rates never add up.

Bars: Link shares only the phase of its beats within a quantum; with quantum = one bar of
drumd's meter in quarter notes (QUANTUM = 4 in 4/4; 3 in 3/4 and 6/8, 3.5 in 7/8: `--meter`)
a position whose phase is 0 is the session's bar one. When the
session starts playing drumd asks for beat 0 at the start (`requestBeatAtStartPlayingTime`,
as the SDK's LinkHut does): alone, beat 0 is the start; with peers, it is the first bar line
at or after it. drumd's song position is 4 x that beat, so its bar 1 is the session's first
bar and nothing sounds before it (negative positions: Clock.transport starts at step 0).

Start/stop sync is on both ways: a peer's start or stop starts or stops drumd; drumd started
when no peer has appeared within ALONE_GRACE seconds sets the session tempo from `--bpm` and
starts the session itself (START_LEAD ahead, so its first step is computed in time).
"""
from __future__ import annotations

import time

from drumd.daemon.timing.jacktransport import TransportError, TransportState
from drumd.mappings.basics.grid import STEPS_PER_BEAT

LINK = "link"        # Clock.source while following Link
QUANTUM = 4          # Link beats (quarter notes) per drumd bar in 4/4
# s for Link's discovery to find peers before drumd starts the session alone: on this machine
# peers met within 0.1-0.3 s; a Wi-Fi network that drops a multicast announcement needs longer,
# and a wrong "alone" would leave drumd playing beside a stopped session
ALONE_GRACE = 2.0
START_LEAD = 0.1     # s between drumd starting the session alone and its beat 0
POLL_S = 0.002       # s between polls: a peer's stop is seen within 2 ms of Link reporting it


def song_position(beat: float) -> float:
    """drumd's song position in 16ths at Link beat `beat` (a quarter note; beat 0 = bar 1)."""
    return beat * STEPS_PER_BEAT


def _load_link():
    try:
        import link
    except ImportError as e:
        raise TransportError(f"--clock link needs the LinkPython-extern package "
                             f"(`pip install LinkPython-extern`): {e}") from None
    return link


class LinkTransport:
    """A Link peer drumd follows. `bpm`: the session tempo drumd sets when it is alone (also
    Link's starting tempo). `link_module`: the `link` module or a stand-in (tests).

    Raises TransportError when the binding is missing or Link cannot be started.
    Attributes: `source` (Clock.source), `poll_s` (seconds between queries)."""

    source = LINK
    poll_s = POLL_S

    def __init__(self, bpm: float = 120.0, now=time.perf_counter, link_module=None,
                 grace: float = ALONE_GRACE, meter: tuple[int, int] = (4, 4)):
        mod = link_module if link_module is not None else _load_link()
        try:
            self.link = mod.Link(float(bpm))
            self.link.startStopSyncEnabled = True
            self.link.enabled = True
            self._clock = self.link.clock()
        except Exception as e:  # the SDK failing to open its sockets or threads
            raise TransportError(f"--clock link: Link could not start ({e})") from None
        self.bpm, self.now, self.grace = bpm, now, grace
        self.meter = tuple(meter)
        self.quantum = QUANTUM * self.meter[0] / self.meter[1]  # a bar of the meter, in quarters
        self.t_enabled = now()
        self._seen_playing = False  # the session has played since drumd joined
        self._rolling = False       # what the last query reported

    def _times(self) -> tuple[int, float]:
        """(Link's clock in microseconds, `now` in seconds) of one instant."""
        a = self.now()
        micros = self._clock.micros()
        return micros, (a + self.now()) / 2

    def query(self) -> TransportState:
        """The session now: playing or not, drumd's song position (16ths) and the tempo, with
        `peers` the number of other Link peers. Starts the session when drumd is alone and it
        has never played; asks for beat 0 at each start (see the module's docstring)."""
        state = self.link.captureAppSessionState()
        micros, t = self._times()
        peers = self.link.numPeers()
        playing = state.isPlaying()
        commit = False
        if (not playing and not self._seen_playing and peers == 0
                and t - self.t_enabled >= self.grace):
            state.setTempo(float(self.bpm), micros)
            state.setIsPlayingAndRequestBeatAtTime(True, micros + int(START_LEAD * 1e6), 0.0, self.quantum)
            playing = commit = True
        if playing and not self._rolling:
            state.requestBeatAtStartPlayingTime(0.0, self.quantum)
            commit = True
        if commit:
            self.link.commitAppSessionState(state)
        self._seen_playing |= playing
        # a stop a peer scheduled for later (timeForIsPlaying ahead) is obeyed at its time
        rolling = playing or (self._rolling and state.timeForIsPlaying() > micros)
        self._rolling = rolling
        beat = state.beatAtTime(micros, self.quantum)
        return TransportState(rolling, t, song_position(beat), state.tempo(), self.meter, 0,
                              peers=peers)

    def close(self) -> None:
        """Leave the session (peers see one peer fewer); the session plays on without drumd."""
        self.link.enabled = False
