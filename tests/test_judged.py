"""judged (tests/jackstack.py) reads jackd's log: a timing failure is excused only when a client
other than drumd's own was late. The log lines are jackd2's own (1.9.21, JackEngine::CheckXRun),
as captured from the test servers on this box."""
import io

import pytest

from jackstack import drumd_clients, judged, late_clients, lost_cycles

LOG = """\
jackdmp 1.9.21
JACK server starting in realtime mode with priority 10
JackEngine::XRun: client = jack_midi_clock was not finished, state = Triggered
JackEngine::XRun: client = drumd-jt-in-guard was not finished, state = Running
JackTimedDriver::Process XRun = 5432 usec
JackEngine::XRun: client = jt-bare-rec was not finished, state = Triggered
JackEngine::XRun: client drumd-jt-audio finished after current callback
Jack: client = drumd-jt was not finished (a line in no form of jackd's)
"""


class Server:
    """As JackServer does: its log in a binary file, read from a mark."""

    def __init__(self, text: str):
        self.log = io.BytesIO(text.encode())

    def lost_cycles_since(self, mark: int) -> list[str]:
        return lost_cycles(self.log, mark)


def test_late_clients_are_read_from_jackds_lines():
    lines = LOG.splitlines()
    assert late_clients(lines) == ["jack_midi_clock", "drumd-jt-in-guard", "jt-bare-rec",
                                   "drumd-jt-audio"]
    assert len(lost_cycles(io.BytesIO(LOG.encode()), 0)) == 4
    assert late_clients(["JackEngine::XRun: client = a b was not finished, state = Triggered"]) \
        == ["a b"]  # JACK client names may hold spaces


def test_drumds_clients_are_its_own_and_no_others():
    own = drumd_clients("drumd-soak")
    assert {"drumd-soak", "drumd-soak-in", "drumd-soak-in-guard", "drumd-soak-watch",
            "drumd-soak-in-watch", "drumd-soak-transport", "drumd-soak-audio",
            "drumd-soak-guitar"} == own
    assert "drumd-soak-rec" not in own  # bench/soak.py's recorder
    assert "drumd-jt-bare" not in drumd_clients("drumd-jt")


def failing_check():
    raise AssertionError("a 16th 9 ms late")


def test_a_timing_failure_is_excused_when_only_another_client_was_late():
    server = Server("JackEngine::XRun: client = jack_midi_clock was not finished, state = Triggered\n")
    with pytest.raises(pytest.skip.Exception, match="'jack_midi_clock' was late.*a 16th 9 ms late"):
        with judged(server, 0, "drumd"):
            failing_check()


def test_a_failure_stands_when_drumds_own_client_was_late():
    server = Server(LOG)  # others were late too: drumd's own lateness is still drumd's
    with pytest.raises(AssertionError, match="a 16th 9 ms late") as e:
        with judged(server, 0, "drumd-jt"):
            failing_check()
    assert "not excused: drumd's own JACK client 'drumd-jt-in-guard' missed cycles (2 reports)" \
        in e.value.__notes__


def test_a_failure_stands_without_late_clients_since_the_mark():
    server = Server(LOG)
    mark = len(LOG.encode())  # everything in the log came before the check
    with pytest.raises(AssertionError):
        with judged(server, mark, "drumd-jt"):
            failing_check()
    with pytest.raises(AssertionError):  # a driver xrun names no client: nothing to excuse
        with judged(Server("JackTimedDriver::Process XRun = 5432 usec\n"), 0, "drumd"):
            failing_check()


def test_client_names_given_as_a_set():
    server = Server("JackEngine::XRun: client = PortAudio was not finished, state = Triggered\n")
    with pytest.raises(AssertionError):  # audition's PortAudio client is drumd's own
        with judged(server, 0, {"PortAudio"}):
            failing_check()


def test_a_passing_check_is_judged_whatever_the_log_says():
    with judged(Server(LOG), 0, "drumd"):
        assert True
