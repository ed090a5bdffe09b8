"""The guard connection on drumd's JACK inputs (daemon/midi/jackguard.py), through a real server: it is
in place from the start, it changes nothing about what arrives, and a patchbay that removes it
does not get the last word. Why it exists (a torn read of a late sender's buffer) is measured
side by side in bench/jack_input_race.py; that needs minutes and a loaded box, not a test."""
import queue
import time

import rtmidi

from drumd.daemon.midi.ports import open_input, open_output

JACK = rtmidi.API_UNIX_JACK


def received(q: queue.Queue, n: int, timeout: float = 5.0) -> list[list[int]]:
    got, end = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        try:
            got.append(list(q.get(timeout=0.05)[1]))
        except queue.Empty:
            pass
    time.sleep(0.1)  # anything beyond n (a duplicate) would have come by now
    while not q.empty():
        got.append(list(q.get()[1]))
    return got


def test_an_input_keeps_a_guard_connection_and_hears_each_message_once(jack):
    q = queue.Queue()
    inp = open_input(JACK, "guardtest-in", "in", None, q)
    sender = open_output(JACK, "guardtest-send", "out", None)
    try:
        assert "guardtest-in-guard:guard" in jack.run("jack_lsp", "-c", "guardtest-in:in").split()
        jack.connect("guardtest-send:out", "guardtest-in:in")
        sent = [[0x99, 36 + i % 12, 1 + i] for i in range(100)]
        for i, m in enumerate(sent):
            sender.send(m)
            if i % 10 == 9:
                time.sleep(0.01)
        assert received(q, len(sent)) == sent  # mixed with the silent guard: same data, same order

        # A patchbay's "disconnect all": the next periodic check puts the guard back.
        jack.run("jack_disconnect", "guardtest-in-guard:guard", "guardtest-in:in")
        assert not inp.guard.connected()
        assert inp.check() is None
        assert inp.guard.connected() and inp.guard.reconnects == 1
        assert "guardtest-in-guard:guard" in jack.run("jack_lsp", "-c", "guardtest-in:in").split()
    finally:
        sender.close()
        inp.close()
    assert not any(p.startswith("guardtest-in") for p in jack.ports())  # guard client gone too


def test_an_input_connected_by_name_is_guarded_too(jack):
    sender = open_output(JACK, "guardtest-src", "out", None)
    q = queue.Queue()
    inp = open_input(JACK, "guardtest-byname", "in", "guardtest-src:out", q)
    try:
        conns = jack.run("jack_lsp", "-c", "guardtest-byname:in").split()
        assert "guardtest-src:out" in conns and "guardtest-byname-guard:guard" in conns
        sender.send([0x99, 38, 90])
        assert received(q, 1) == [[0x99, 38, 90]]
    finally:
        inp.close()
        sender.close()
