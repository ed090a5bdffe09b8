"""Real JACK plumbing for the daemon tests: a dummy-driver server with its own name, the DAW
(jack_midi_clock driven by a jack_transport timebase master), MIDI test clients, and `drumd
serve` as a subprocess. Every process started here is stopped by its owner's close()."""
from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import pytest

from drumd.daemon.midi.ports import JackPort

PERIOD_FRAMES, RATE = 256, 48000
PERIOD_S = PERIOD_FRAMES / RATE
SERVER_NAMES = [f"drumd-test-{i}" for i in range(4)]
PR_SET_PDEATHSIG = 1  # linux/prctl.h
TOOLS = ("jackd", "jack_midi_clock", "jack_transport", "jack_connect", "jack_lsp", "jack_wait")


def _server_running(name: str) -> bool:
    """Whether a live server holds this name; one that does not answer counts as held."""
    env = {**os.environ, "JACK_DEFAULT_SERVER": name}
    try:
        out = subprocess.run(["jack_wait", "-c"], env=env, capture_output=True, text=True, timeout=3).stdout
    except subprocess.TimeoutExpired:
        return True
    return out.strip().startswith("running")


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the test process dies. jackd leaves the test
    run's process group (it calls setsid), so scripts/test's kill of the group misses it, and a
    test process that crashed (a SIGSEGV in a JACK client) left servers holding their names."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def log_mark(logfile) -> int:
    """Where a jackd log file ends now."""
    return os.fstat(logfile.fileno()).st_size


# jackd2's report of a client still running when the next cycle began (JackEngine::CheckXRun:
# "JackEngine::XRun: client = jitter-rec was not finished, state = Triggered"; versions after
# 1.9.21 also print "JackEngine::XRun: client jitter-rec finished after current callback").
LATE_CLIENT = re.compile(r"JackEngine::XRun: client (?:= )?(?P<client>.+?) "
                         r"(?:was not finished, state = \w+|finished after current callback)$")


def lost_cycles(logfile, mark: int) -> list[str]:
    """jackd's reports since `mark` of cycles in which a client did not finish: on a box too
    busy for the dummy driver, JACK itself drops what such a client sent in them."""
    logfile.seek(mark)
    lines = logfile.read().decode(errors="replace").splitlines()
    return [line for line in lines if LATE_CLIENT.search(line)]


def late_clients(lines: list[str]) -> list[str]:
    """The JACK client named by each of jackd's late-client reports in `lines`, in order (a
    client late twice is named twice); other lines are left out."""
    return [m["client"] for m in map(LATE_CLIENT.search, lines) if m]


def drumd_clients(client: str) -> set[str]:
    """Every JACK client `drumd serve --client CLIENT` opens: its output port's (CLIENT) and
    input port's (CLIENT-in, ports.JackPort.client_names), each port's watch of the server's
    cycles (-watch), the input's guard (CLIENT-in-guard), and -transport, -audio (the synth),
    -guitar (the guitar capture). Not a prefix match: tests name their own clients
    CLIENT-rec too (bench/soak.py)."""
    in_client, out_client = JackPort.client_names(client)
    return ({in_client, out_client, f"{in_client}-guard", f"{in_client}-watch",
             f"{out_client}-watch"} | {f"{client}-{part}" for part in ("transport", "audio", "guitar")})


@contextlib.contextmanager
def judged(server, mark: int, drumd: str | set[str]):
    """Timing checks (when notes sounded or arrived, and whether a recorder got each note-off)
    that JACK itself spoils when a client misses a cycle: it drops or delays that client's data
    of that cycle. A failure is reported as not judged (skipped, saying why) only where jackd
    reported since `mark` that a client other than drumd's own was late (the DAW's
    jack_midi_clock, a test's recorder or capture). Where one of drumd's own clients was late
    the failure stands: keeping up with JACK is drumd's job. `drumd`: its --client name (its
    clients: drumd_clients()), or the set of JACK client names drumd's code runs as here.

    Checks that are not about timing (All Notes Off after a stop, the take written, relocation
    by Song Position) go outside this block: nothing excuses them."""
    own = drumd_clients(drumd) if isinstance(drumd, str) else set(drumd)
    try:
        yield
    except AssertionError as e:
        late = late_clients(server.lost_cycles_since(mark))
        own_late = [c for c in late if c in own]
        if own_late:
            e.add_note(f"not excused: drumd's own JACK client {own_late[0]!r} missed cycles "
                       f"({len(own_late)} reports)")
            raise
        if not late:
            raise
        pytest.skip(f"not judged: JACK dropped cycles of other clients ({len(late)} reports, e.g. "
                    f"{late[0]!r} was late): {str(e)[:300]}")


def checkpoint_for_tests(tmp_dir: Path) -> Path:
    """The shipped checkpoint once it is in the tree, else a tiny random-weight one (timing,
    mapping and transport behaviour do not depend on what the model learned)."""
    from drumd.engine.model.checkpoint import save_checkpoint, shipped_path
    if shipped_path().is_file():
        return shipped_path()
    import torch
    from drumd.engine.model.lstm import DrumLSTM, ModelConfig
    torch.manual_seed(0)
    model = DrumLSTM(ModelConfig(n_styles=3, hidden=32, layers=1, event_embed=8, head_hidden=16))
    path = tmp_dir / "tiny.pt"
    save_checkpoint(path, model, ["funk", "jazz", "rock"], {"note": "random weights, tests"})
    return path


class JackServer:
    def __init__(self):
        missing = [t for t in TOOLS if shutil.which(t) is None]
        if missing:
            raise RuntimeError(f"JACK tests need {', '.join(missing)} (scripts/install test)")
        # A few fixed names, not random ones: JACK has 8 server slots per machine and a server
        # that died uncleanly keeps its slot until a server of the same name starts again.
        # A name is claimed by an flock held for the server's life: two test runs at once
        # (two checkouts, a developer beside CI) otherwise pick the same free name and share
        # its semaphores, which crashed a client (SIGSEGV in jack_client_open).
        # All names taken: wait a while for one, as another run's tests end within minutes.
        self.name, self._claim = None, None
        deadline = time.monotonic() + 180
        while self.name is None:
            for n in SERVER_NAMES:
                claim = open(Path(tempfile.gettempdir()) / f"{n}.lock", "w")
                try:
                    fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    claim.close()
                    continue
                if not _server_running(n):
                    self.name, self._claim = n, claim
                    break
                claim.close()
            if self.name is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JACK test servers {SERVER_NAMES} are all in use")
                time.sleep(1)
        self.env = {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_AUDIO_RESERVATION": "1"}
        self.procs: list[subprocess.Popen] = []
        self.realtime = True
        self.server = self._start(["-R"])
        if self.server is None:  # no realtime scheduling allowed here: run without it
            self.realtime = False
            self.server = self._start(["-r"])
        if self.server is None:
            self._claim.close()
            raise RuntimeError(f"jackd did not start:\n{self.log}")
        os.environ["JACK_DEFAULT_SERVER"] = self.name  # for in-process rtmidi clients

    def _start(self, rt: list[str]) -> subprocess.Popen | None:
        # Its log goes to a file, never a pipe: nobody reads a pipe during the run, and a busy box
        # makes jackd report every xrun; once 64 kB were unread, it blocked and the graph stalled.
        self.logfile = tempfile.TemporaryFile()
        p = subprocess.Popen(["jackd", *rt, "-d", "dummy", "-r", str(RATE), "-p", str(PERIOD_FRAMES)],
                             env=self.env, stdout=self.logfile, stderr=subprocess.STDOUT,
                             preexec_fn=_die_with_parent)
        ok = subprocess.run(["jack_wait", "-w", "-t", "5"], env=self.env, capture_output=True).returncode == 0
        if ok and p.poll() is None:
            return p
        p.kill()
        p.wait()
        self.log = self.read_log()
        return None

    def read_log(self) -> str:
        self.logfile.seek(0)
        return self.logfile.read().decode(errors="replace")

    def log_mark(self) -> int:
        return log_mark(self.logfile)

    def lost_cycles_since(self, mark: int) -> list[str]:
        return lost_cycles(self.logfile, mark)

    def spawn(self, args, **kw) -> subprocess.Popen:
        p = subprocess.Popen(args, env=self.env, **kw)
        self.procs.append(p)
        return p

    def run(self, *args) -> str:
        return subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=10).stdout

    def ports(self) -> list[str]:
        return self.run("jack_lsp").split()

    def wait_port(self, name: str, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while name not in self.ports():
            if time.monotonic() > end:
                raise TimeoutError(f"JACK port {name} did not appear; ports: {self.ports()}")
            time.sleep(0.05)

    def connect(self, src: str, dst: str) -> None:
        for _ in range(3):
            r = subprocess.run(["jack_connect", src, dst], env=self.env, capture_output=True,
                               text=True, timeout=10)
            if r.returncode == 0 or src in self.run("jack_lsp", "-c", dst):
                return
            time.sleep(0.2)
        raise RuntimeError(f"jack_connect {src} {dst} failed: {r.stderr.strip()}")

    def stop_process(self, p: subprocess.Popen) -> None:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def close(self) -> None:
        for p in list(self.procs):
            self.stop_process(p)
        # A client of this process still open on the server (a test that failed before its own
        # close) is closed first: libjack's thread of a client whose server vanishes under it
        # crashed the whole pytest run (SIGSEGV) on a loaded box.
        for client in list(_IN_PROCESS):
            if client.server_name == self.name:
                client.close()
        self.server.terminate()
        try:
            self.server.wait(5)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self.logfile.close()
        self._claim.close()  # releases the name


class Transport:
    """jack_transport as the timebase master (tempo, bar/beat), driven through its stdin. One
    per server: masters coming and going make the transport stop answering on a busy box."""

    def __init__(self, jack: JackServer):
        self.jack = jack
        self.start()

    def start(self) -> None:
        self.proc = self.jack.spawn(["jack_transport"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, text=True)
        self.command("master")

    def restart(self) -> None:
        self.jack.stop_process(self.proc)
        self.start()

    def command(self, *cmds: str) -> None:
        self.proc.stdin.write("".join(c + "\n" for c in cmds))
        self.proc.stdin.flush()


class Daw:
    """jack_midi_clock following JACK transport; with the master present it sends Song Position
    on relocation."""

    def __init__(self, jack: JackServer, transport: Transport, bpm: float = 120.0,
                 force_bpm: bool = False, jitter: int = 0):
        self.jack, self.transport, self.bpm = jack, transport, bpm
        self.command("stop", f"tempo {bpm}", "locate 0")
        # With -B the clock ignores the master: ticks exactly 60/(24 bpm) s apart in JACK frames
        # (the master's tempo reaches the clock rounded to whole periods), but no Song Position.
        extra = ["-b", str(bpm), "-B"] if force_bpm else []
        if jitter:  # jack_midi_clock's artificial jitter, 0..20 % of a tick period
            extra += ["-J", str(jitter)]
        self.clock = jack.spawn(["jack_midi_clock", "-d", "0.2", *extra], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        jack.wait_port("jack_midi_clock:mclk_out")
        self.port = "jack_midi_clock:mclk_out"

    def play(self, listener: "Listener", frame: int = 0, timeout: float = 3.0) -> float:
        """Roll the transport from `frame`; returns when `listener` got the first tick (its time).
        Asks again if nothing comes: on a loaded box the transport sometimes does not roll."""
        since = time.perf_counter()
        for attempt in range(3):
            if attempt == 2:  # a jack_transport that stopped answering: a fresh one
                self.transport.restart()
                self.command(f"tempo {self.bpm}")
            self.command(*(["stop"] if attempt else []), f"locate {frame}", "play")
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                ts = [t for t, m in listener.snapshot() if m[0] == 0xF8 and t > since]
                if ts:
                    return ts[0]
                time.sleep(0.01)
        raise TimeoutError(f"the DAW clock did not start (jack_midi_clock "
                           f"{'running' if self.clock.poll() is None else 'exited'}; "
                           f"connections: {self.jack.run('jack_lsp', '-c', self.port).split()})")

    def command(self, *cmds: str) -> None:
        self.transport.command(*cmds)

    def close(self) -> None:
        self.command("stop")
        self.jack.stop_process(self.clock)


# The Listeners and Players of this process that are open, by the server they are on.
_IN_PROCESS: weakref.WeakSet = weakref.WeakSet()


class Listener:
    """A JACK MIDI input that keeps (perf_counter, bytes) of everything it receives. Polled from
    a thread, as drumd does (a Python callback would run in JACK's process thread and stall the
    graph whenever another thread holds the GIL); times are taken within half a millisecond.
    drumd's own input port, so it is guarded as drumd's is (daemon/midi/jackguard.py)."""

    def __init__(self, name: str):
        self.server_name = os.environ.get("JACK_DEFAULT_SERVER")
        self.inp = JackPort("in", name, "in", None)
        self.midi = self.inp.midi
        self.midi.ignore_types(sysex=True, timing=False, active_sense=True)
        self.port = f"{name}:in"
        self.events: list[tuple[float, tuple[int, ...]]] = []
        self.deltas: list[float] = []  # rtmidi's: s since the previous message, in JACK's clock
        self.lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        _IN_PROCESS.add(self)

    def _poll(self):
        while not self._closed:
            msg = self.midi.get_message()
            if msg is None:
                time.sleep(0.0005)
                continue
            t = time.perf_counter()
            with self.lock:
                self.events.append((t, tuple(msg[0])))
                self.deltas.append(msg[1])

    def snapshot(self) -> list[tuple[float, tuple[int, ...]]]:
        with self.lock:
            return list(self.events)

    def jack_times(self) -> list[tuple[float, tuple[int, ...]]]:
        """(perf_counter s, bytes) as snapshot(), but each time from the JACK cycle that
        delivered the message: rtmidi stamps it with jack_get_time() in JACK's process callback,
        as a delta to the message before. Their sum is anchored on the poll that came soonest
        after its stamp (a poll is never early), so a late poll no longer delays its message.
        A message it ignores (sysex, active sensing) would shift the sum: use it where none come."""
        with self.lock:
            events, deltas = list(self.events), list(self.deltas)
        if not events:
            return []
        stamps = np.cumsum(deltas)
        anchor = min(t - s for (t, _), s in zip(events, stamps))
        return [(anchor + s, m) for (_, m), s in zip(events, stamps)]

    def clear(self) -> None:
        with self.lock:
            self.events.clear()
            self.deltas.clear()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._thread.join(timeout=2)
        self.inp.close()
        _IN_PROCESS.discard(self)


class Player:
    """A JACK MIDI output a test plays notes from: drumd's own output port, whose gate keeps a
    stalled server from freezing the test process inside rtmidi."""

    def __init__(self, name: str):
        self.server_name = os.environ.get("JACK_DEFAULT_SERVER")
        self.out = JackPort.open_output(name, "out", None)
        self.port = f"{name}:out"
        self._closed = False
        _IN_PROCESS.add(self)

    def send(self, msg) -> None:
        self.out.send(msg)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.out.close()
        _IN_PROCESS.discard(self)


class Drumd:
    """`drumd serve` as a subprocess on the test server; its output goes to a file (a pipe
    nobody reads until the end could fill and block it)."""

    def __init__(self, jack: JackServer, *args: str, client: str = "drumd"):
        self.jack = jack
        exe = Path(sys.executable).with_name("drumd")
        self.log = tempfile.TemporaryFile()
        self.proc = jack.spawn([str(exe), "serve", "--api", "jack", "--client", client, *args],
                               stdout=self.log, stderr=subprocess.STDOUT)
        self.client = client  # judged() tells its JACK clients from others by it
        self.in_port, self.out_port = f"{client}-in:in", f"{client}:out"
        jack.wait_port(self.out_port, timeout=30)  # the model loads before the ports open

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def sigterm_while_heard(self, listener: "Listener") -> tuple[bool, list, str]:
        """SIGTERM mid-playback: (whether drumd was still running, everything `listener` heard
        up to and including the shutdown's all-notes-off, drumd's output)."""
        alive = self.proc.poll() is None
        self.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        events = listener.snapshot()
        return alive, events, self.terminate()

    def terminate(self) -> str:
        """SIGTERM; its output. Raises TimeoutError if it does not exit within 10 s."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TimeoutError(f"drumd did not exit on SIGTERM:\n{self.output()}") from None
        finally:
            if self.proc in self.jack.procs:
                self.jack.procs.remove(self.proc)
        return self.output()


class Plugin:
    """A drum plugin as a JACK client: its MIDI input and its (first) audio output.
    `Plugin.lv2` hosts an LV2 plugin in jalv (console, headless), `Plugin.fluidsynth` plays a
    SoundFont; the test drives either the same way."""

    def __init__(self, jack: JackServer, args: list[str], midi_in: str, audio_out: str, tool: str):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/install test installs it)")
        self.jack = jack
        self.log = tempfile.TemporaryFile()
        # stdin a pipe kept open: jalv's and fluidsynth's shells exit at its end
        self.proc = jack.spawn(args, stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT)
        self.midi_in, self.audio_out = midi_in, audio_out
        end = time.monotonic() + 20  # a kit's samples load first
        while not {midi_in, audio_out} <= set(jack.ports()):
            if self.proc.poll() is not None or time.monotonic() > end:
                out = self.output()
                self.close()
                raise RuntimeError(f"{args[0]} did not open {midi_in} and {audio_out}:\n{out}")
            time.sleep(0.1)

    @classmethod
    def lv2(cls, jack: JackServer, uri: str, client: str, audio_port: str = "outL") -> "Plugin":
        """jalv hosting the LV2 plugin `uri` as JACK client `client` (its MIDI port `control`)."""
        return cls(jack, ["jalv", "-x", "-n", client, uri], f"{client}:control",
                   f"{client}:{audio_port}", "jalv")

    @classmethod
    def fluidsynth(cls, jack: JackServer, soundfont: str, client: str) -> "Plugin":
        """fluidsynth playing `soundfont` as JACK client `client`, outputs not auto-connected."""
        return cls(jack, ["fluidsynth", "-a", "jack", "-m", "jack", "-o", f"audio.jack.id={client}",
                          "-o", f"midi.jack.id={client}", "-r", str(RATE), "-g", "0.5", soundfont],
                   f"{client}:midi_00", f"{client}:left", "fluidsynth")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def close(self) -> None:
        self.jack.stop_process(self.proc)
        self.log.close()


class Capture:
    """jack_capture recording one JACK audio port to a 24-bit WAV (read it with
    test_synth_render.read_wav), with the time of its first sample (its .tme file: the
    CLOCK_REALTIME of the first cycle it recorded)."""

    def __init__(self, jack: JackServer, port: str, path: Path):
        if shutil.which("jack_capture") is None:
            pytest.skip("jack_capture is not installed (scripts/install test installs it)")
        self.jack, self.path = jack, Path(path)
        self.proc = jack.spawn(["jack_capture", "--daemon", "--timestamp", "--channels", "1",
                                "--bitdepth", "24", "--port", port, str(self.path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tme = self.path.with_name(self.path.name + ".tme")
        end = time.monotonic() + 10
        while not (tme.is_file() and tme.read_text().strip()):  # written once a cycle came in
            if self.proc.poll() is not None or time.monotonic() > end:
                self.jack.stop_process(self.proc)
                raise RuntimeError(f"jack_capture did not start recording {port}")
            time.sleep(0.02)
        self.tme = tme

    def stop(self) -> float:
        """Ends the recording (the WAV at self.path); the perf_counter time of its first sample."""
        self.proc.send_signal(signal.SIGINT)  # jack_capture closes its file on SIGINT
        try:
            self.proc.wait(10)
        finally:
            self.jack.stop_process(self.proc)
        # "%ld.%ld" of a timespec: the nanoseconds are printed without their leading zeros
        sec, nsec = self.tme.read_text().split()[0].split(".")
        # CLOCK_REALTIME against perf_counter, read back to back (the closest pair)
        offset = min((lambda a, r, b: r - (a + b) / 2)(time.perf_counter(), time.time(),
                                                         time.perf_counter()) for _ in range(20))
        return int(sec) + int(nsec) / 1e9 - offset
