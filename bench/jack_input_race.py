"""How often a JACK MIDI input reads a buffer that its sender is rewriting: zero copy vs guarded.

    .venv/bin/python bench/jack_input_race.py [--seconds 180] [--hogs 2]

Two diagnostic readers (ctypes libjack clients: this script with --reader) hear the same
jack_midi_clock at 300 BPM on a dummy-driver server, with CPU hogs beside them so that clients
run late. One has that single connection, so JACK hands it the clock's own buffer; the other
also holds drumd's guard connection (daemon/midi/jackguard.py), so JACK mixes into its own buffer.
Each counts `jack_midi_event_get` failures on events `jack_midi_get_event_count` had announced:
where RtMidi, which ignores the failure, copies an uninitialised event (drumd's SIGSEGV in long
soaks). The readers run Python in JACK's thread and yield between count and read, as a
preempted reader would, so the window is wider than RtMidi's: a rate to compare, side by side.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BPM = 300.0


class MidiEvent(ctypes.Structure):
    _fields_ = [("time", ctypes.c_uint32), ("size", ctypes.c_size_t), ("buffer", ctypes.c_void_p)]


def reader(name: str, guard: bool, seconds: float) -> dict:
    from drumd.daemon.midi.jackgate import JackCycles
    from drumd.daemon.midi.jackguard import InputGuard
    watch = JackCycles(f"{name}-watch")  # the libjack rtmidi bundles, as drumd uses
    lib, vp = watch.lib, ctypes.c_void_p
    lib.jack_port_register.restype = vp
    lib.jack_port_register.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_ulong]
    lib.jack_port_get_buffer.restype = vp
    lib.jack_port_get_buffer.argtypes = [vp, ctypes.c_uint32]
    lib.jack_midi_get_event_count.restype = ctypes.c_uint32
    lib.jack_midi_get_event_count.argtypes = [vp]
    lib.jack_midi_event_get.argtypes = [ctypes.POINTER(MidiEvent), vp, ctypes.c_uint32]
    process_t = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint32, vp)
    lib.jack_set_process_callback.argtypes = [vp, process_t, vp]
    lib.jack_activate.argtypes = lib.jack_deactivate.argtypes = [vp]

    client = lib.jack_client_open(name.encode(), 1, None)
    port = lib.jack_port_register(client, b"in", b"8 bit raw midi", 1, 0)  # JackPortIsInput
    stats = {"cycles": 0, "events": 0, "failed_reads": 0}
    event = MidiEvent()

    def process(frames, _arg):
        buf = lib.jack_port_get_buffer(port, frames)
        stats["cycles"] += 1
        for i in range(lib.jack_midi_get_event_count(buf)):
            time.sleep(0)  # let the sender's next cycle in, as a preempted reader would
            if lib.jack_midi_event_get(ctypes.byref(event), buf, i) == 0:
                stats["events"] += 1
            else:
                stats["failed_reads"] += 1
        return 0

    callback = process_t(process)
    lib.jack_set_process_callback(client, callback, None)
    lib.jack_activate(client)
    held = InputGuard(watch, f"{name}-guard", f"{name}:in") if guard else None
    print("ready", flush=True)
    time.sleep(seconds)
    lib.jack_deactivate(client)
    lib.jack_client_close(client)
    if held is not None:
        held.close()
    return stats


def run(seconds: float, hogs: int) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from jackstack import Daw, JackServer, Transport
    jack = JackServer()
    mark = jack.log_mark()
    burners = []
    try:
        daw = Daw(jack, Transport(jack), bpm=BPM, force_bpm=True)
        readers = {}
        for kind in ("zero_copy", "guarded"):
            name = f"race-{kind.replace('_', '-')}"
            readers[kind] = jack.spawn([sys.executable, __file__, "--reader", name, "--seconds",
                                        str(seconds + 3), *(["--guard"] if kind == "guarded" else [])],
                                       stdout=subprocess.PIPE, text=True)
            assert readers[kind].stdout.readline().strip() == "ready", f"{name} did not start"
            jack.connect(daw.port, f"{name}:in")
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
        daw.command("locate 0", "play")
        results = {kind: json.loads(p.communicate(timeout=seconds + 60)[0].splitlines()[-1])
                   for kind, p in readers.items()}
        results["late_cycles"] = len(jack.lost_cycles_since(mark))
        results["seconds"], results["hogs"] = seconds, hogs
        return results
    finally:
        for b in burners:
            b.kill()
        jack.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--hogs", type=int, default=2, help="CPU burners beside the readers")
    ap.add_argument("--reader", help=argparse.SUPPRESS)
    ap.add_argument("--guard", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.reader:
        print(json.dumps(reader(a.reader, a.guard, a.seconds)), flush=True)
        return
    r = run(a.seconds, a.hogs)
    print(f"{r['seconds']:.0f} s of jack_midi_clock at {BPM:.0f} BPM, {r['hogs']} CPU hogs, "
          f"{r['late_cycles']} late-client reports from jackd")
    for kind in ("zero_copy", "guarded"):
        s = r[kind]
        print(f"  {kind:9s}  events read {s['events']:6d}  failed reads {s['failed_reads']:4d}  "
              f"({1e6 * s['failed_reads'] / max(1, s['events']):.0f} per million events)")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
