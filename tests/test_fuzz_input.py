"""Fuzzing the MIDI input path: whatever bytes arrive, the rtmidi callback returns, the input
thread keeps running and every note drumd sent is closed once it stops.

JACK hands rtmidi each event's bytes as they were sent, so a callback can get anything: running
status (data bytes with no status), sysex, realtime bytes inside another message, data bytes
over 127, note-on with velocity 0. The callback is the one `ports.open_input` installs, on a
stand-in rtmidi port; the session is the real one on fake ports, so its input thread, clock,
controls, thru and sender all see the fuzz.
"""
import queue
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drumd.daemon.cli import config
from drumd.daemon.midi import ports
from drumd.daemon.play.session import Session
from drumd.daemon.play.voicing import PlayerInput, Voicing
from test_daemon import FakePort, FakeSampler

byte = st.integers(0, 255)
data = st.integers(0, 127)
channel_msg = st.builds(lambda s, ch, a, b: [s | ch, a, b][: 2 if s in (0xC0, 0xD0) else 3],
                        st.sampled_from([0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0]),
                        st.integers(0, 15), data, data)
realtime = st.sampled_from([0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF]).map(lambda b: [b])
sysex = st.lists(data, max_size=20).map(lambda d: [0xF0, *d, 0xF7])
spp = st.tuples(byte, byte).map(lambda d: [0xF2, *d])
running_status = st.lists(data, min_size=1, max_size=4)  # the data of a message whose status was sent before
raw = st.lists(byte, min_size=1, max_size=12)


@st.composite
def interleaved(draw):
    """A realtime byte inside another message, as the MIDI wire allows."""
    msg = draw(channel_msg)
    i = draw(st.integers(1, len(msg)))
    return msg[:i] + draw(realtime) + msg[i:]


message = st.one_of(channel_msg, realtime, sysex, spp, running_status, raw, interleaved(),
                    st.just([0x99, 38, 0]), st.just([0x99, 200, 255]))


class StandInMidiIn:
    """Takes the callback `ports.open_input` installs, as python-rtmidi's MidiIn would."""

    def __init__(self, **_):
        self.callback = None

    def open_virtual_port(self, name):
        pass

    def ignore_types(self, **_):
        pass

    def set_callback(self, fn):
        self.callback = fn


@pytest.fixture
def stand_in_rtmidi(monkeypatch):
    monkeypatch.setattr(ports.rtmidi, "MidiIn", StandInMidiIn)


def new_session(clock="auto", mode="accompany"):
    s = config.resolve(None, {"clock": clock, "bpm": 300.0, "mode": mode, "thru": True,
                              "gate_ms": 20.0})
    inbox = queue.SimpleQueue()
    in_port = ports.open_input(None, "fuzz", "in", None, inbox)
    out = FakePort()
    session = Session(s, FakeSampler(), in_port, out, inbox, Voicing("gm"), PlayerInput("gm"))
    return session, in_port.midi.callback, out


def all_closed(sent):
    """Note-ons minus note-offs per key, treating note-on velocity 0 as an off."""
    open_notes = {}
    for _, m in sent:
        kind, key = m[0] & 0xF0, (m[0] & 0x0F, m[1] if len(m) > 1 else None)
        if kind == 0x90 and m[2] > 0:
            open_notes[key] = open_notes.get(key, 0) + 1
        elif kind == 0x80 or kind == 0x90:
            open_notes[key] = open_notes.get(key, 0) - 1
    return {k: n for k, n in open_notes.items() if n > 0}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(msgs=st.lists(message, min_size=1, max_size=80),
       clock=st.sampled_from(["auto", "external", "internal"]),
       mode=st.sampled_from(["generate", "accompany", "call"]))
def test_any_input_leaves_the_session_running_and_no_note_sounding(stand_in_rtmidi, msgs, clock, mode):
    session, callback, out = new_session(clock, mode)
    session.start()
    try:
        # a DAW clock so the fuzz also hits a running transport: Start, then ticks among the fuzz
        callback(([0xFA], 0.0), None)
        for i, m in enumerate(msgs):
            callback((m, 0.0), None)  # must return, whatever m is
            if i % 2:
                callback(([0xF8], 0.0), None)
            time.sleep(0.002)
        time.sleep(0.05)
        assert session.error is None, repr(session.error)
        assert all(t.is_alive() for t in session._threads)
    finally:
        session.shutdown()
    assert session.error is None, repr(session.error)
    assert all_closed(out.sent) == {}
    assert all(0 <= b <= 255 for _, m in out.sent for b in m)
