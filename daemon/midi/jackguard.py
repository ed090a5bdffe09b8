"""Keeps a second, silent connection on a JACK MIDI input, so JACK hands it a private copy.

An input with exactly one connection gets the sender's own buffer ("zero copy"). When the
sender runs late on a busy box, its next cycle clears and rewrites that buffer while our
process thread is still reading it: `jack_midi_event_get` then fails for an event that
`jack_midi_get_event_count` had just announced, and RtMidi, which ignores that result, copies an
uninitialised event. That was drumd's SIGSEGV in rtmidi's JACK input after 8-33 minutes of soak
(bench/jack_input_race.py counts such failed reads side by side, with and without this guard;
figures in docs/benchmarks.md). With two or more connections JACK
first mixes the senders into the input's own buffer, checking every event, and only our thread
writes that buffer. So a silent output of ours stays connected to every JACK input drumd reads.
"""
from __future__ import annotations

import ctypes
import logging

import rtmidi

from drumd.daemon.midi.jackgate import JackCycles

log = logging.getLogger(__name__)


class InputGuard:
    """A never-sending JACK MIDI output (its own client) held connected to `target`."""

    def __init__(self, watch: JackCycles, client: str, target: str):
        self.watch, self.target = watch, target
        lib = watch.lib
        lib.jack_port_by_name.restype = ctypes.c_void_p
        lib.jack_port_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.jack_port_connected_to.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.jack_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
        self.midi = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=client)
        self.midi.open_virtual_port("guard")
        self.source = f"{client}:guard"
        self.reconnects = 0
        self._connect()
        if not self.connected():
            raise OSError(f"cannot connect {self.source} to {target} (is another client named "
                          f"{target.split(':')[0]!r} running? JACK renames the second one)")

    def connected(self) -> bool:
        """Whether the guard's port is connected to the guarded input now (a libjack call)."""
        lib, client = self.watch.lib, self.watch.client
        port = lib.jack_port_by_name(client, self.target.encode())
        return bool(port) and lib.jack_port_connected_to(port, self.source.encode()) == 1

    def hold(self) -> bool:
        """Reconnect if someone (a patchbay's "disconnect all") removed the connection; True
        when it is in place."""
        if self.connected():
            return True
        self._connect()
        if not self.connected():
            return False
        self.reconnects += 1
        log.info("reconnected %s to %s (it keeps JACK from handing drumd a buffer another "
                 "client is still writing)", self.source, self.target)
        return True

    def _connect(self) -> None:
        self.watch.lib.jack_connect(self.watch.client, self.source.encode(), self.target.encode())

    def close(self) -> None:
        """Close the guard's port and its client."""
        self.midi.close_port()
        self.midi.delete()
