"""MIDI ports through python-rtmidi: pick the API, open virtual ports or connect to named ones.

Input is only timestamped and enqueued; everything else happens on the daemon's threads. On
JACK the input is polled from a thread of ours rather than delivered by a Python callback:
rtmidi calls callbacks in JACK's process thread, which then waits for the GIL. JACK output
goes through an OutputGate (jackgate.py), so a stalled graph drops messages instead of
freezing drumd inside rtmidi; a JACK input holds a silent second connection (jackguard.py), so
it never reads another client's buffer while that client writes it. A port connected by name
that disappears is reopened when it shows up again (`Port.check()`, called periodically).
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import threading
import time

import rtmidi

from .jackgate import JackCycles, OutputGate, libjack_quiet
from .jackguard import InputGuard

log = logging.getLogger(__name__)

APIS = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK,
        "coremidi": rtmidi.API_MACOSX_CORE}


class PortError(Exception):
    pass


def choose_api(name: str = "auto") -> int:
    """The rtmidi API for `name`; auto: JACK if a server runs, else ALSA (with a sequencer
    device), else CoreMIDI on macOS."""
    compiled = set(rtmidi.get_compiled_api())
    if name != "auto":
        if name not in APIS:
            raise PortError(f"unknown MIDI API {name!r}; choose auto, {', '.join(APIS)}")
        if APIS[name] not in compiled:
            raise PortError(f"python-rtmidi was built without {name} support")
        return APIS[name]
    if rtmidi.API_UNIX_JACK in compiled and _jack_running():
        return rtmidi.API_UNIX_JACK
    if rtmidi.API_LINUX_ALSA in compiled and os.path.exists("/dev/snd/seq"):
        return rtmidi.API_LINUX_ALSA
    if rtmidi.API_MACOSX_CORE in compiled and sys.platform == "darwin":
        return rtmidi.API_MACOSX_CORE
    raise PortError("no MIDI system found: start a JACK server, or load the ALSA sequencer "
                    "(modprobe snd-seq), or pass --api")


def _jack_running() -> bool:
    try:  # rtmidi's JACK backend never starts a server; it fails at once when none runs
        with libjack_quiet():
            rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="drumd-probe").delete()
        return True
    except rtmidi.RtMidiError:
        return False


def api_name(api: int) -> str:
    return rtmidi.get_api_name(api)


def list_ports(api: int) -> tuple[list[str], list[str]]:
    """(input ports, output ports) the API sees: sources drumd can read, destinations it can play.
    Raises PortError when the MIDI system is not there (no JACK server running, say)."""
    try:
        with _quiet(api):
            return (rtmidi.MidiIn(rtapi=api, name="drumd-list").get_ports(),
                    rtmidi.MidiOut(rtapi=api, name="drumd-list").get_ports())
    except rtmidi.RtMidiError as e:
        raise _system_error(api, e) from None


# libasound's error handler is variadic (file, line, function, err, fmt, ...); ours reads none.
_ALSA_SILENT = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                ctypes.c_int, ctypes.c_char_p)(lambda *args: None)


@contextlib.contextmanager
def _quiet(api: int):
    """The MIDI system's own messages off while drumd opens a client of it (with no JACK
    server or ALSA sequencer it prints its failure in lines of its own): drumd says it in one."""
    if api == rtmidi.API_UNIX_JACK:
        with libjack_quiet():
            yield
        return
    try:
        set_handler = ctypes.CDLL("libasound.so.2").snd_lib_error_set_handler
    except (OSError, AttributeError):  # not ALSA, or no libasound
        set_handler = None
    if set_handler is None:
        yield
        return
    set_handler.argtypes, set_handler.restype = [ctypes.c_void_p], ctypes.c_int
    set_handler(ctypes.cast(_ALSA_SILENT, ctypes.c_void_p))
    try:
        yield
    finally:
        set_handler(None)  # ALSA's default handler


def _system_error(api: int, e: Exception) -> PortError:
    """The MIDI system would not give drumd a client: one line saying what to do."""
    if api == rtmidi.API_UNIX_JACK:  # rtmidi: "JACK server not running?"
        return PortError("no JACK server is running: start one (jackd, or QjackCtl), "
                         "or pass --api alsa")
    if api == rtmidi.API_LINUX_ALSA:  # rtmidi: "error creating ALSA sequencer client object"
        return PortError("no ALSA sequencer (/dev/snd/seq): load it (modprobe snd-seq), "
                         "or pass --api jack")
    return PortError(f"cannot open the {api_name(api)} MIDI system: {e}")


def _find(ports: list[str], name: str) -> int | None:
    """Exact name first, then a unique substring (ALSA adds client:port numbers to names)."""
    if name in ports:
        return ports.index(name)
    hits = [i for i, p in enumerate(ports) if name.lower() in p.lower()]
    return hits[0] if len(hits) == 1 else None


class Port:
    """One rtmidi port: virtual (`connect=None`) or connected to an existing port by name."""

    def __init__(self, kind: str, api: int, client: str, port_name: str, connect: str | None):
        self.kind, self.connect = kind, connect
        cls = rtmidi.MidiIn if kind == "in" else rtmidi.MidiOut
        try:
            with _quiet(api):  # no server: drumd's line, not libjack's five
                self.midi = cls(rtapi=api, name=client)
        except rtmidi.RtMidiError as e:
            raise _system_error(api, e) from e
        self.port_name = port_name
        self.lock = threading.Lock()  # send/reopen come from different threads
        self.closed = False
        self.connected = True
        self.gate = self.cycles = self.guard = None
        self.abandoned = False  # left open because the JACK server hung (see close())
        if api == rtmidi.API_UNIX_JACK:
            try:
                self.cycles = JackCycles(f"{client}-watch")
            except OSError as e:
                raise PortError(f"cannot watch the JACK server for {client}: {e}") from e
            if kind == "out":
                self.gate = OutputGate(self.cycles)
        if connect is None:
            self.midi.open_virtual_port(port_name)
        else:
            self._open_named(fail=True)
        if self.cycles is not None and kind == "in":
            try:
                self.guard = InputGuard(self.cycles, f"{client}-guard", f"{client}:{port_name}")
            except (OSError, rtmidi.RtMidiError) as e:
                raise PortError(f"cannot guard the JACK input {client}:{port_name}: {e}") from e

    def _open_named(self, fail: bool) -> bool:
        ports = self.midi.get_ports()
        i = _find(ports, self.connect)
        if i is None:
            if fail:
                listing = "\n  ".join(ports) or "(none)"
                what = "sources" if self.kind == "in" else "destinations"
                raise PortError(f"no MIDI port matching {self.connect!r}; available {what}:\n  {listing}")
            return False
        self.midi.open_port(i, self.port_name)
        self.target = ports[i]
        return True

    def check(self) -> str | None:
        """For ports connected by name: 'lost' when the target went away, 'back' when it was
        reconnected, None otherwise. Also puts back the input's guard connection."""
        if not self.server_alive():
            return None
        change = None
        if self.connect is not None:
            present = self.target in self.midi.get_ports()
            if self.connected and not present:
                with self.lock:
                    self.midi.close_port()
                    self.connected = False
                change = "lost"
            elif not self.connected:
                with self.lock:
                    self.connected = self._open_named(fail=False)
                change = "back" if self.connected else None
        if self.guard is not None and self.connected:
            self.guard.hold()
        return change

    def send(self, msg) -> None:
        with self.lock:
            if not self.connected:
                return
            if self.gate is None:
                self.midi.send_message(msg)
                return
            was_stalled = self.gate.stalled
            msgs = self.gate.allow(msg)
            for m in msgs:
                self.midi.send_message(m)
            if self.gate.stalled != was_stalled:
                if self.gate.stalled:
                    log.warning("JACK is not taking MIDI from port %r; dropping it", self.port_name)
                else:
                    log.warning("JACK takes MIDI again (%d messages dropped in all)",
                                self.gate.dropped)

    def server_alive(self, within: float = 0.1) -> bool:
        """False only for a JACK server that stopped cycling (libjack calls would hang)."""
        return self.cycles is None or self.cycles.moving(within)

    def close(self) -> None:
        """Close the port; on a hung JACK server leave it (`abandoned`): libjack would block
        this thread forever, so the caller exits without tearing the client down."""
        with self.lock:
            self.closed = True
            if not self.server_alive(0.2):
                self.abandoned = True
                return
            self.midi.close_port()
            self.midi.delete()
            if self.guard is not None:
                self.guard.close()
            if self.cycles is not None:
                self.cycles.close()


def open_input(api: int, client: str, port_name: str, connect: str | None, queue) -> Port:
    """An input port whose messages land in `queue` as (perf_counter time, bytes)."""
    p = Port("in", api, client, port_name, connect)
    p.midi.ignore_types(sysex=True, timing=False, active_sense=True)  # we need 0xF8 clock
    put, now = queue.put, time.perf_counter

    def callback(event, _data):
        put((now(), event[0]))

    if api == rtmidi.API_UNIX_JACK:
        threading.Thread(target=_poll, args=(p, put, now), name="drumd-midi-in", daemon=True).start()
    else:
        p.midi.set_callback(callback)
    return p


POLL_S = 0.0005  # well inside a JACK period; JACK delivers input once per period anyway


def _poll(p: Port, put, now) -> None:
    """Drain rtmidi's lock-free input queue; timestamps are taken here, within POLL_S."""
    while True:
        with p.lock:
            if p.closed:
                return
            msg = p.midi.get_message()
        if msg is None:
            time.sleep(POLL_S)
        else:
            put((now(), msg[0]))


def default_port_names(api: int) -> tuple[str, str]:
    """JACK shows `client:port`, so short names read well; ALSA lists port names alone."""
    return ("in", "out") if api == rtmidi.API_UNIX_JACK else ("drumd in", "drumd out")


def client_names(api: int, client: str) -> tuple[str, str]:
    """(input client, output client). rtmidi opens one client per port; on JACK a second client
    of the same name would become `drumd-01` (whichever opened last), so the input client is
    named `<client>-in` and the output keeps `<client>`: `drumd-in:in`, `drumd:out`."""
    return (f"{client}-in", client) if api == rtmidi.API_UNIX_JACK else (client, client)
