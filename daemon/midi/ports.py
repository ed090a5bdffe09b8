"""MIDI ports through python-rtmidi: pick the MIDI system, open virtual ports or connect to named ones.

One small port base and one subclass per MIDI system, chosen once by `backend(api)`, as mido
does: its `ports.BaseInput`/`BaseOutput` keep the public open/send/close and their checks, and
each backend (`mido/backends/rtmidi.py`, picked by name in `mido/backends/backend.py`) fills in
only what differs (github.com/mido/mido, docs/new_port_types.rst). Here:

  Port          the plain rtmidi path: input by rtmidi's callback, output straight to rtmidi,
                no watch on the server. CoreMidiPort is this path unchanged.
  AlsaPort      + libasound's own error lines silenced while a client opens; ALSA's hint.
  JackPort      + input polled from a thread of ours rather than delivered by a Python
                callback (rtmidi calls callbacks in JACK's process thread, which then waits
                for the GIL); output through an OutputGate (jackgate.py), so a stalled graph
                drops messages instead of freezing drumd inside rtmidi; an input holds a
                silent second connection (jackguard.py), so it never reads another client's
                buffer while that client writes it; a hung server is detected and its ports
                left open (`abandoned`) rather than closed into a libjack call that never returns.

Input is only timestamped and enqueued; everything else happens on the daemon's threads. A
port connected by name that disappears is reopened when it shows up again (`Port.check()`,
called periodically). Every error a user can mend is a PortError (a DrumdError).
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

from drumd.daemon.midi.jackgate import JackCycles, OutputGate, libjack_quiet
from drumd.daemon.midi.jackguard import InputGuard
from drumd.mappings.basics.errors import DrumdError

log = logging.getLogger(__name__)

APIS = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK,
        "coremidi": rtmidi.API_MACOSX_CORE}

POLL_S = 0.0005  # JACK input poll; well inside a JACK period, which delivers input once anyway


class PortError(DrumdError):
    """A MIDI system or port drumd cannot use; str() says what to do (one line, but for a
    port not found: then the ports there are follow, one a line)."""


def _find(ports: list[str], name: str) -> int | None:
    """Exact name first, then a unique substring (ALSA adds client:port numbers to names)."""
    if name in ports:
        return ports.index(name)
    hits = [i for i, p in enumerate(ports) if name.lower() in p.lower()]
    return hits[0] if len(hits) == 1 else None


class Port:
    """One rtmidi port of `kind` 'in' or 'out', in client `client`: virtual, named `port_name`
    (`connect=None`), or connected to the existing port whose name matches `connect` (exactly,
    else a unique substring). The plain rtmidi path; subclasses add what their system needs.

    Raises PortError when the MIDI system gives no client (`system_error`) or no port matches
    `connect` (the line lists the ports there are). Thread-safe: send, check and close may be
    called from different threads.
    """

    api: int = rtmidi.API_UNSPECIFIED
    port_names = ("drumd in", "drumd out")  # the system lists port names alone: say whose

    # --- the system as a whole (no port needed) ---

    @classmethod
    def api_name(cls) -> str:
        """rtmidi's name of the system, e.g. 'JACK', 'ALSA'."""
        return rtmidi.get_api_name(cls.api)

    @classmethod
    def client_names(cls, client: str) -> tuple[str, str]:
        """(input client, output client) for drumd's --client name."""
        return client, client

    @classmethod
    def quiet(cls):
        """A block in which the system's own messages are off while drumd opens a client (with
        no server it prints its failure in lines of its own; drumd says it in one)."""
        return contextlib.nullcontext()

    @classmethod
    def system_error(cls, e: Exception) -> PortError:
        """The system would not give drumd a client: one line saying what to do."""
        return PortError(f"cannot open the {cls.api_name()} MIDI system: {e}")

    @classmethod
    def list_ports(cls) -> tuple[list[str], list[str]]:
        """(input ports, output ports) the system sees: sources drumd can read, destinations it
        can play. Raises PortError when the system is not there (no JACK server, say)."""
        try:
            with cls.quiet():
                return (rtmidi.MidiIn(rtapi=cls.api, name="drumd-list").get_ports(),
                        rtmidi.MidiOut(rtapi=cls.api, name="drumd-list").get_ports())
        except rtmidi.RtMidiError as e:
            raise cls.system_error(e) from None

    @classmethod
    def open_input(cls, client: str, port_name: str, connect: str | None, queue) -> Port:
        """An input port whose messages land in `queue` as (time.perf_counter() s, bytes)."""
        p = cls("in", client, port_name, connect)
        p.midi.ignore_types(sysex=True, timing=False, active_sense=True)  # we need 0xF8 clock
        p.listen(queue.put, time.perf_counter)
        return p

    @classmethod
    def open_output(cls, client: str, port_name: str, connect: str | None) -> Port:
        """An output port: a virtual one named `port_name`, or connected to the existing port
        `connect`. Raises PortError (one line naming the port) when it cannot be opened."""
        return cls("out", client, port_name, connect)

    # --- one port ---

    def __init__(self, kind: str, client: str, port_name: str, connect: str | None):
        self.kind, self.client, self.connect = kind, client, connect
        midi_class = rtmidi.MidiIn if kind == "in" else rtmidi.MidiOut
        try:
            with self.quiet():  # no server: drumd's line, not libjack's five
                self.midi = midi_class(rtapi=self.api, name=client)
        except rtmidi.RtMidiError as e:
            raise self.system_error(e) from e
        self.port_name = port_name
        self.target = None  # the port connected to, by its full name
        self.lock = threading.Lock()  # send/reopen come from different threads
        self.closed = False
        self.connected = True
        self.abandoned = False  # left open because the server hung (see close())
        self._before_open()
        if connect is None:
            self.midi.open_virtual_port(port_name)
        else:
            self._open_named(fail=True)
        self._after_open()

    def _before_open(self) -> None:
        """Hook: what the system needs before the port exists."""

    def _after_open(self) -> None:
        """Hook: what the system needs once the port exists."""

    def listen(self, put, now) -> None:
        """Deliver each message as put((now(), bytes)); rtmidi's callback, on its own thread."""
        def callback(event, _data):
            put((now(), event[0]))

        self.midi.set_callback(callback)

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
        reconnected, None otherwise (and always None while the server does not answer)."""
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
        self._after_check()
        return change

    def _after_check(self) -> None:
        """Hook: periodic upkeep of the system's own helpers."""

    def send(self, msg) -> None:
        """Send one message (a list of bytes); nothing while the named target is gone."""
        with self.lock:
            if self.connected:
                self._send(msg)

    def _send(self, msg) -> None:
        self.midi.send_message(msg)

    def server_alive(self, within: float = 0.1) -> bool:
        """False only for a server that stopped cycling (its library's calls would hang)."""
        return True

    def close(self) -> None:
        """Close the port; on a hung server leave it (`abandoned`): the library would block
        this thread forever, so the caller exits without tearing the client down."""
        with self.lock:
            self.closed = True
            if not self.server_alive(0.2):
                self.abandoned = True
                return
            self.midi.close_port()
            self.midi.delete()
            self._after_close()

    def _after_close(self) -> None:
        """Hook: close the system's own helpers (called with the lock held)."""

    def describe(self) -> str:
        """One line for logs, e.g. 'JACK in drumd-in:in <- a2j:keys'."""
        arrow = "<-" if self.kind == "in" else "->"
        where = f" {arrow} {self.target}" if self.target else ""
        return f"{self.api_name()} {self.kind} {self.client}:{self.port_name}{where}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class CoreMidiPort(Port):
    """macOS CoreMIDI: the plain rtmidi path as it is."""

    api = rtmidi.API_MACOSX_CORE


# libasound's error handler is variadic (file, line, function, err, fmt, ...); ours reads none.
_ALSA_SILENT = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                ctypes.c_int, ctypes.c_char_p)(lambda *args: None)


class AlsaPort(Port):
    """The ALSA sequencer (/dev/snd/seq): the plain rtmidi path, with libasound kept quiet."""

    api = rtmidi.API_LINUX_ALSA

    @classmethod
    @contextlib.contextmanager
    def quiet(cls):
        try:
            set_handler = ctypes.CDLL("libasound.so.2").snd_lib_error_set_handler
        except (OSError, AttributeError):  # no libasound
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

    @classmethod
    def system_error(cls, e: Exception) -> PortError:
        # rtmidi: "error creating ALSA sequencer client object"
        return PortError("no ALSA sequencer (/dev/snd/seq): load it (modprobe snd-seq), "
                         "or pass --api jack")


class JackPort(Port):
    """A JACK MIDI port: input polled, output gated, input guarded, the server watched.

    Opens two more libjack clients of its own: `<client>-watch` (reads the server's cycle
    counter, never activated) and, for an input, `<client>-guard` (jackguard.py). Raises
    PortError when either cannot be opened.
    """

    api = rtmidi.API_UNIX_JACK
    port_names = ("in", "out")  # JACK shows `client:port`, so short names read well

    @classmethod
    def client_names(cls, client: str) -> tuple[str, str]:
        """rtmidi opens one client per port; on JACK a second client of the same name would
        become `drumd-01` (whichever opened last), so the input client is named `<client>-in`
        and the output keeps `<client>`: `drumd-in:in`, `drumd:out`."""
        return f"{client}-in", client

    @classmethod
    def quiet(cls):
        return libjack_quiet()

    @classmethod
    def system_error(cls, e: Exception) -> PortError:
        # rtmidi: "JACK server not running?"
        return PortError("no JACK server is running: start one (jackd, or QjackCtl), "
                         "or pass --api alsa")

    def _before_open(self) -> None:
        self.gate = self.guard = None
        try:
            self.cycles = JackCycles(f"{self.client}-watch")
        except OSError as e:
            raise PortError(f"cannot watch the JACK server for {self.client}: {e}") from e
        if self.kind == "out":
            self.gate = OutputGate(self.cycles)

    def _after_open(self) -> None:
        if self.kind == "in":
            try:
                self.guard = InputGuard(self.cycles, f"{self.client}-guard",
                                        f"{self.client}:{self.port_name}")
            except (OSError, rtmidi.RtMidiError) as e:
                raise PortError(f"cannot guard the JACK input {self.client}:{self.port_name}: "
                                f"{e}") from e

    def listen(self, put, now) -> None:
        """Deliver each message as put((now(), bytes)) from thread `drumd-midi-in`, which polls
        rtmidi's lock-free input queue every POLL_S (times are taken there, within POLL_S)."""
        threading.Thread(target=self._poll, args=(put, now), name="drumd-midi-in",
                         daemon=True).start()

    def _poll(self, put, now) -> None:
        while True:
            with self.lock:
                if self.closed:
                    return
                msg = self.midi.get_message()
            if msg is None:
                time.sleep(POLL_S)
            else:
                put((now(), msg[0]))

    def _after_check(self) -> None:
        """Puts back the input's guard connection (a patchbay's 'disconnect all')."""
        if self.guard is not None and self.connected:
            self.guard.hold()

    def _send(self, msg) -> None:
        was_stalled = self.gate.stalled
        for m in self.gate.allow(msg):
            self.midi.send_message(m)
        if self.gate.stalled != was_stalled:
            if self.gate.stalled:
                log.warning("JACK is not taking MIDI from port %r; dropping it", self.port_name)
            else:
                log.warning("JACK takes MIDI again (%d messages dropped in all)",
                            self.gate.dropped)

    def server_alive(self, within: float = 0.1) -> bool:
        return self.cycles.moving(within)

    def _after_close(self) -> None:
        if self.guard is not None:
            self.guard.close()
        self.cycles.close()


BACKENDS: dict[int, type[Port]] = {rtmidi.API_UNIX_JACK: JackPort,
                                    rtmidi.API_LINUX_ALSA: AlsaPort,
                                    rtmidi.API_MACOSX_CORE: CoreMidiPort}


def backend(api: int | None) -> type[Port]:
    """The port class for an rtmidi API constant (from choose_api); None gives the plain Port
    on rtmidi's default API (tests use it on a stand-in rtmidi). Raises PortError for an API
    drumd has no class for (Windows MM, say)."""
    if api is None:
        return Port
    if api not in BACKENDS:
        raise PortError(f"drumd does not support the {rtmidi.get_api_name(api)} MIDI API; "
                        f"choose {', '.join(APIS)}")
    return BACKENDS[api]


def choose_api(name: str = "auto") -> int:
    """The rtmidi API for `name` (auto, alsa, jack, coremidi); auto: JACK if a server runs,
    else ALSA (with a sequencer device), else CoreMIDI on macOS. Raises PortError for an
    unknown name, one python-rtmidi was built without, or (auto) no MIDI system found."""
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


# The API-number interface serve.py and the tests use; each asks `backend(api)` once.

def api_name(api: int) -> str:
    """rtmidi's name of the MIDI system `api` (an rtmidi.API_* constant), e.g. 'JACK'."""
    return rtmidi.get_api_name(api)


def list_ports(api: int) -> tuple[list[str], list[str]]:
    """backend(api).list_ports()."""
    return backend(api).list_ports()


def open_input(api: int | None, client: str, port_name: str, connect: str | None, queue) -> Port:
    """backend(api).open_input(): messages land in `queue` as (perf_counter s, bytes)."""
    return backend(api).open_input(client, port_name, connect, queue)


def open_output(api: int | None, client: str, port_name: str, connect: str | None) -> Port:
    """backend(api).open_output()."""
    return backend(api).open_output(client, port_name, connect)


def default_port_names(api: int) -> tuple[str, str]:
    """(input, output) port names: JACK shows `client:port`, so short names read well; ALSA
    and CoreMIDI list port names alone."""
    return backend(api).port_names


def client_names(api: int, client: str) -> tuple[str, str]:
    """(input client, output client) for --client `client` (JackPort.client_names: why)."""
    return backend(api).client_names(client)
