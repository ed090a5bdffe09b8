"""Audio capture in a child process, so the audio host's real-time thread never waits on drumd.

PortAudio runs a Python callback in the host's real-time thread (JACK's process thread). Inside
drumd that thread waits for the GIL whenever the engine thread samples the model: jackd then
reports the client late ("drumd-guitar was not finished", a few times a minute), and a JACK in
sync mode would make the whole session miss the cycle. This process holds its GIL for nothing
but the callback, which writes each block of the chosen channel to stdout, a pipe to drumd;
when drumd falls behind by the pipe's size (seconds), blocks are dropped, never waited for.

    python -m drumd.daemon.sound.capture '{"device": null, "channel": 0, "samplerate": null,
                                     "blocksize": 256, "client": "drumd-guitar"}'

Protocol: one JSON line on stdout, {"samplerate": SR} or {"error": MESSAGE}; after a line on
stdin, raw float32 samples until stdin closes (drumd closing it, or exiting).

Ctrl-C in drumd's terminal reaches this process too (the same process group): it is ignored,
and drumd stops the capture by closing stdin as it shuts down.
"""
from __future__ import annotations

import json
import os
import select
import signal
import sys
import threading

PIPE_BYTES = 1 << 20  # ~5 s of float32 at 48 kHz: drumd's reader may stall that long


def main(argv: list[str]) -> int:
    """Run the capture (the protocol above); argv[0] is the options as JSON: device (name,
    index or null for the default), channel (from 0), samplerate (Hz or null for the device's),
    blocksize (frames per callback), client (JACK client name or null). Returns the exit
    status: 0 once stdin closes, 1 after writing {"error": one line} when PortAudio is missing
    or the device cannot be opened (AudioError's text). For the child process only: it ignores
    SIGINT and, once stopping, exits within 3 s even if the audio host hangs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is drumd's to handle
    opts = json.loads(argv[0])
    out = sys.stdout.buffer

    def fail(message: str) -> int:
        out.write((json.dumps({"error": message}) + "\n").encode())
        out.flush()
        return 1

    from drumd.daemon.sound.audio import AudioError, open_error, set_jack_client_name, sounddevice
    try:
        sd = sounddevice()
        if opts.get("client"):
            set_jack_client_name(opts["client"])
    except AudioError as e:  # no PortAudio
        return fail(str(e))
    fd = out.fileno()
    channel = opts["channel"]
    # Writes of at most PIPE_BUF bytes are atomic: a full pipe drops whole chunks, so the
    # stream of float32 samples never loses its alignment.
    chunk = select.PIPE_BUF

    def callback(indata, frames, time_info, status):
        data = indata[:, channel].tobytes()
        for i in range(0, len(data), chunk):
            try:
                os.write(fd, data[i:i + chunk])
            except BlockingIOError:
                pass
            except BrokenPipeError:  # drumd is gone; stdin's end of file stops us
                return

    try:
        stream = sd.InputStream(device=opts["device"], channels=channel + 1,
                                samplerate=opts["samplerate"], blocksize=opts["blocksize"],
                                dtype="float32", latency="low", callback=callback)
    except (ValueError, sd.PortAudioError) as e:  # no such device, or it cannot be opened
        return fail(str(open_error(e, opts["device"], "input")))
    out.write((json.dumps({"samplerate": stream.samplerate}) + "\n").encode())
    out.flush()
    if not sys.stdin.readline():  # drumd went away before starting us
        stream.close()
        return 0
    try:
        import fcntl
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux: the default pipe (64 kB, 0.3 s) still decouples the threads
    os.set_blocking(fd, False)
    stream.start()
    sys.stdin.read()  # until drumd closes it, or exits
    # A host that stopped answering (a hung JACK server) would keep stop() waiting forever.
    watchdog = threading.Timer(3.0, os._exit, args=(0,))
    watchdog.daemon = True
    watchdog.start()
    stream.stop()
    stream.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
