"""Fuzzing drumd's default input path, through real JACK: `drumd serve` (its JACK MIDI input,
read by its own thread) gets a DAW's clock and, from a player's port, thousands of messages of
every shape the MIDI wire and a buggy controller produce (running status, sysex, realtime bytes
inside other messages, data bytes over 127, Song Position garbage, velocity-0 note-ons, random
bytes). It must keep playing, say nothing of a traceback, and close every note it sent (its own
and the player's passed through) when it stops. tests/test_fuzz_input.py does the same on the
rtmidi callback path with hypothesis; here each run costs seconds, so one seeded run."""
import queue
import random
import time

import pytest

from jackstack import Daw, Drumd, Listener, judged
from test_daemon_jack import note_ons, wiring
from test_fuzz_input import all_closed

pytestmark = pytest.mark.jack

MESSAGES = 3000


class RawPlayer:
    """A JACK MIDI output that writes any bytes as one event each (JACK-Client, the `jack`
    module): rtmidi refuses to send what does not start with a status byte, and running status
    is what a buggy controller sends. Events queue here and go out at the next JACK cycle."""

    def __init__(self, name: str):
        import jack
        self.client = jack.Client(name, no_start_server=True)
        self.out = self.client.midi_outports.register("out")
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.client.set_process_callback(self._process)
        self.client.activate()
        self.port = f"{name}:out"

    def _process(self, frames: int) -> None:
        self.out.clear_buffer()
        for _ in range(8):  # a few a cycle: a controller's rate, not a flood
            try:
                data = self.queue.get_nowait()
            except queue.Empty:
                return
            self.out.write_midi_event(0, bytes(data))

    def send(self, data) -> None:
        self.queue.put(data)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


def fuzz_message(rng: random.Random) -> list[int]:
    kind = rng.randrange(8)
    data = lambda: rng.randrange(128)  # noqa: E731
    if kind == 0:  # a channel message on any channel
        status = rng.choice([0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0]) | rng.randrange(16)
        return [status, data()] if status & 0xF0 in (0xC0, 0xD0) else [status, data(), data()]
    if kind == 1:  # realtime: clock, start, continue, stop, active sensing, reset
        return [rng.choice([0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF])]
    if kind == 2:
        return [0xF0, *(data() for _ in range(rng.randrange(20))), 0xF7]
    if kind == 3:  # Song Position, data bytes out of range too
        return [0xF2, rng.randrange(256), rng.randrange(256)]
    if kind == 4:  # running status: data bytes with no status
        return [data() for _ in range(rng.randrange(1, 5))]
    if kind == 5:  # a realtime byte inside a note-on
        return [0x99, 0xF8, data(), data()]
    if kind == 6:  # drum notes, velocity 0 among them
        return [0x99, rng.choice([36, 38, 42, 46, 49]), rng.choice([0, 1, 64, 127])]
    return [rng.randrange(256) for _ in range(rng.randrange(1, 12))]  # anything


def test_any_input_through_jack_leaves_drumd_playing_and_no_note_sounding(
        jack, transport, drumd_checkpoint):
    rng = random.Random(7)
    mark = jack.log_mark()
    daw = Daw(jack, transport, bpm=240.0, force_bpm=True)
    listener = Listener("fuzz-rec")
    player = RawPlayer("fuzz-pads")
    sniff = Listener("fuzz-sniff")  # what the player's port really sent
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "external", "--mode",
                  "accompany", "--thru", "--gate-ms", "20", "--quantize", "1", "--seed", "1",
                  client="drumd-fuzz")
    try:
        wiring(jack, daw.port, drumd, listener, player)
        jack.connect(player.port, sniff.port)
        daw.play(listener)
        for _ in range(MESSAGES):
            player.send(fuzz_message(rng))
            time.sleep(0.002)
        time.sleep(0.5)
        alive = drumd.proc.poll() is None
        heard = listener.snapshot()
        daw.command("stop")
        time.sleep(0.3)
        out = drumd.terminate()
        time.sleep(0.3)
        final = listener.snapshot()
    finally:
        daw.close()
        listener.close()
        player.close()
        delivered = len(sniff.snapshot())
        sniff.close()
    assert delivered >= MESSAGES // 2, delivered  # the fuzz reached drumd's input port
    assert alive, out
    assert "Traceback" not in out and drumd.proc.returncode == 0, out
    assert note_ons(heard)  # it kept playing through the fuzz
    assert all(0 <= b <= 255 for _, m in final for b in m)
    with judged(jack, mark, drumd.client):  # JACK drops a cycle's MIDI when a client misses it
        assert all_closed(final) == {}
