"""A second Ableton Link peer for the tests, in its own process and through a different binding
from drumd's (aalink, asyncio; drumd uses LinkPython-extern): the DAW of tests/test_link_jack.py.

Commands on stdin, one a line: `tempo BPM`, `play`, `stop`, `quit`. On stdout, one line every
2 ms: `perf_counter beat tempo playing peers`, with `beat` this peer's
beat at that instant under quantum 4 (its phase within a 4-beat bar is the session's, shared
by every peer) and perf_counter the machine's monotonic clock, comparable across processes.
Usage: python link_peer.py BPM
"""
import asyncio
import sys
import threading
import time

import aalink


async def main(bpm: float, every: float) -> None:
    link = aalink.Link(bpm)
    link.quantum = 4
    link.start_stop_sync_enabled = True
    link.enabled = True
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin():
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, "quit")

    threading.Thread(target=read_stdin, daemon=True).start()
    out = sys.stdout
    while True:
        while not commands.empty():
            cmd = commands.get_nowait().split()
            if not cmd:
                continue
            if cmd[0] == "quit":
                link.enabled = False
                return
            if cmd[0] == "tempo":
                link.tempo = float(cmd[1])
            elif cmd[0] in ("play", "stop"):
                link.playing = cmd[0] == "play"
        a = time.perf_counter()
        beat = link.beat
        t = (a + time.perf_counter()) / 2
        out.write(f"{t:.6f} {beat:.6f} {link.tempo:.4f} {int(link.playing)} {link.num_peers}\n")
        out.flush()
        await asyncio.sleep(every)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), 0.002))
