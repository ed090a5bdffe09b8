"""A JACK server that stops (SIGSTOP: hung, overloaded, or a debugger) must never freeze drumd:
rtmidi's JACK output spins holding the GIL once its ring buffer is full, and libjack calls
block until the server answers. On its own server, since stopping it stops every client."""
import os
import signal
import time

import pytest

from jackstack import Drumd, JackServer, Listener, Player

pytestmark = pytest.mark.jack


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "")  # JackServer points in-process clients at it;
    s = JackServer()                               # the session's server is theirs again after
    try:
        yield s
    finally:
        os.kill(s.server.pid, signal.SIGCONT)
        s.close()


def test_sends_to_a_stopped_server_drop_instead_of_blocking_then_resume(server):
    player, listener = Player("stall-player"), Listener("stall-listener")
    try:
        server.connect(player.port, listener.port)
        os.kill(server.server.pid, signal.SIGSTOP)
        t = time.perf_counter()
        for _ in range(5000):  # 70 kB: four times rtmidi's ring buffer
            player.send([0x99, 38, 100])
            player.send([0x89, 38, 0])
        assert time.perf_counter() - t < 5.0
        assert player.out.gate.dropped > 5000
        os.kill(server.server.pid, signal.SIGCONT)
        time.sleep(0.5)  # what the gate let through while stopped arrives now
        listener.clear()
        player.send([0x99, 40, 100])
        player.send([0x89, 40, 0])
        time.sleep(0.3)
        got = [m for _, m in listener.snapshot()]
    finally:
        os.kill(server.server.pid, signal.SIGCONT)
        listener.close()
        player.close()
    # the channel that lost note-offs is silenced before anything else
    assert got == [(0xB9, 123, 0), (0x99, 40, 100), (0x89, 40, 0)]


def test_drumd_stops_on_sigterm_while_the_server_is_stopped(server, drumd_checkpoint):
    drumd = Drumd(server, "--clock", "internal", "--bpm", "300", "--checkpoint", str(drumd_checkpoint),
                  client="drumd-stall")
    time.sleep(2.0)  # playing
    os.kill(server.server.pid, signal.SIGSTOP)
    time.sleep(1.0)
    t = time.perf_counter()
    out = drumd.terminate()  # raises if drumd does not exit within 10 s
    assert time.perf_counter() - t < 5.0
    assert drumd.proc.returncode == 1, out
    assert "JACK server stopped answering" in out, out
