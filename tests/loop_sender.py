"""A DAW that loops without stopping, as a JACK MIDI client: Song Position + Continue, 24-PPQN
clock, and at each loop end Song Position back to the loop start while the clock runs on.

    python tests/loop_sender.py --client daw-loop --bpm 150 --start 8 --beats 7 --laps 3

Opens the JACK output port CLIENT:out, then waits for a line on stdin (the test wires the
ports meanwhile) and plays; prints "done" when it has sent Stop. Positions are in 16ths (MIDI
Song Position units); tick times come from time.perf_counter, the tick after a Song Position
is the loop start. jack_midi_clock cannot do this: it follows JACK transport, which relocates
with Stop / Song Position / Continue.
"""
from __future__ import annotations

import argparse
import sys
import time

import rtmidi

TICK, CONTINUE, STOP, SPP = 0xF8, 0xFB, 0xFC, 0xF2


def song_position(sixteenths: int) -> list[int]:
    return [SPP, sixteenths & 0x7F, sixteenths >> 7]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", default="daw-loop")
    ap.add_argument("--bpm", type=float, default=150.0)
    ap.add_argument("--start", type=int, default=8, help="loop start, 16ths (8 = bar 1 beat 3)")
    ap.add_argument("--beats", type=int, default=7, help="loop length, beats")
    ap.add_argument("--laps", type=int, default=3)
    a = ap.parse_args()
    out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=a.client)
    out.open_virtual_port("out")
    sys.stdin.readline()
    period = 60.0 / (a.bpm * 24)
    out.send_message(song_position(a.start))
    out.send_message([CONTINUE])
    t = time.perf_counter() + 0.05
    for lap in range(a.laps):
        if lap:  # the loop point: where the next tick is, sent while the clock runs
            out.send_message(song_position(a.start))
        for _ in range(a.beats * 24):
            while (wait := t - time.perf_counter()) > 0:
                time.sleep(min(wait, 0.002))
            out.send_message([TICK])
            t += period
    out.send_message([STOP])
    time.sleep(0.2)
    print("done", flush=True)
    out.close_port()


if __name__ == "__main__":
    main()
