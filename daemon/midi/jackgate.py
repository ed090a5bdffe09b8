"""Keeps drumd from ever blocking on a JACK output that no longer drains.

rtmidi's JACK output writes each message into a 16 KiB ring buffer that its process callback
empties once per JACK cycle, and when the ring is full `send_message` spins until there is room,
holding the GIL. If the graph stalls (a server gone, hung or overloaded), the process then
freezes for good: no SIGTERM, no all-notes-off. So before each send we check that JACK is still
cycling: bytes written are taken as drained once the server's cycle counter has moved two
periods past the write, and we never let undrained bytes reach half the ring. Messages over that
are dropped (counted), and when JACK cycles again the channels that lost notes get All Notes Off.

The cycle counter comes from a second, never-activated libjack client that only reads the
server's shared frame timer (through ctypes; rtmidi does not expose its client).
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import time
from collections import deque
from pathlib import Path
from typing import Callable

RING_BYTES = 16384  # rtmidi's JACK_RINGBUFFER_SIZE
LIMIT = RING_BYTES // 2
HEADER = 4  # rtmidi stores an int length before each message
JACK_NO_START_SERVER = 0x01


def libjack_path() -> str:
    """The libjack rtmidi runs on. python-rtmidi's wheels bundle their own copy; loading the
    system's as well would map all of JACK's shared memory a second time (+100 MB RSS)."""
    import rtmidi
    bundled = sorted(Path(rtmidi.__file__).parent.parent.glob("python_rtmidi*/libjack*.so*"))
    return str(bundled[0]) if bundled else (ctypes.util.find_library("jack") or "libjack.so.0")


_JACK_MESSAGE = ctypes.CFUNCTYPE(None, ctypes.c_char_p)
_SILENT = _JACK_MESSAGE(lambda message: None)  # module-level: libjack keeps the pointer


@contextlib.contextmanager
def libjack_quiet():
    """libjack's own error and info messages off inside the block (with no server running,
    opening a client prints five lines: "Cannot connect to server socket ..."), for probes
    whose failure drumd reports in its own words; the previous handlers are put back after."""
    try:
        lib = ctypes.CDLL(libjack_path())
        saved = [ctypes.c_void_p.in_dll(lib, f"jack_{kind}_callback").value
                 for kind in ("error", "info")]
        setters = [lib.jack_set_error_function, lib.jack_set_info_function]
    except (OSError, ValueError, AttributeError):  # no libjack: nothing to silence
        setters = []
    if not setters:
        yield
        return
    for setter in setters:
        setter.argtypes, setter.restype = [ctypes.c_void_p], None
        setter(ctypes.cast(_SILENT, ctypes.c_void_p))
    try:
        yield
    finally:
        for setter, handler in zip(setters, saved):
            setter(handler)


class JackCycles:
    """The start frame of the server's current cycle and its period, without joining the graph."""

    def __init__(self, name: str):
        self.lib = lib = ctypes.CDLL(libjack_path())
        lib.jack_client_open.restype = ctypes.c_void_p
        lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
        lib.jack_client_close.argtypes = [ctypes.c_void_p]
        for fn in (lib.jack_last_frame_time, lib.jack_get_buffer_size):
            fn.argtypes, fn.restype = [ctypes.c_void_p], ctypes.c_uint32
        self.client = lib.jack_client_open(name.encode(), JACK_NO_START_SERVER, None)
        if not self.client:
            raise OSError("cannot open a JACK client to watch the server's cycles")

    def __call__(self) -> tuple[int, int]:
        return self.lib.jack_last_frame_time(self.client), self.lib.jack_get_buffer_size(self.client)

    def moving(self, within: float = 0.1) -> bool:
        """Whether the server starts a new cycle within `within` seconds. A server that does not
        is hung or gone, and any call into libjack (closing a port, listing ports) may block
        forever holding the GIL."""
        first, end = self()[0], time.monotonic() + within
        while time.monotonic() < end:
            if self()[0] != first:
                return True
            time.sleep(0.002)
        return False

    def close(self) -> None:
        """Close the watching client (safe to call twice)."""
        if self.client:
            self.lib.jack_client_close(self.client)
            self.client = None


class OutputGate:
    """Admits a message only while JACK is draining what was sent before it."""

    def __init__(self, cycles: Callable[[], tuple[int, int]], limit: int = LIMIT):
        self.cycles, self.limit = cycles, limit
        self.marks: deque[list[int]] = deque()  # [frame when written, bytes], oldest first
        self.pending = 0
        self.dropped = 0
        self.silenced: set[int] = set()  # channels that lost a message while stalled
        self.stalled = False

    def allow(self, msg) -> list:
        """What to send now for `msg`: nothing while JACK is not draining; after such a stall,
        All Notes Off first on each channel that lost messages (a dropped note-off must not
        leave the synth ringing), then `msg`."""
        frame, period = self.cycles()
        while self.marks and (frame - self.marks[0][0]) % 2**32 >= 2 * period:
            self.pending -= self.marks.popleft()[1]
        out = [[0xB0 | ch, 123, 0] for ch in sorted(self.silenced)] + [msg]
        size = sum(HEADER + len(m) for m in out)
        if self.pending + size > self.limit:
            self.dropped += 1
            self.stalled = True
            if 0x80 <= msg[0] < 0xF0:
                self.silenced.add(msg[0] & 0x0F)
            return []
        self.silenced.clear()
        self.stalled = False
        if self.marks and self.marks[-1][0] == frame:
            self.marks[-1][1] += size
        else:
            self.marks.append([frame, size])
        self.pending += size
        return out
