"""Shared fixtures. JACK: one dummy-driver server per test session, under a name no running
server uses (from a small fixed pool); everything started on it is stopped at the end."""
import faulthandler
import os
import sys

import pytest

# Real-time tests through JACK judge timing on a shared 2-core box, where the dummy driver
# sometimes xruns or a client misses a cycle for reasons outside drumd. They get two more
# tries; a real fault fails all three (rerun reports show in the summary as "R").
JACK_RERUNS = 2

# One libjack in this process, as in drumd's: JACK-Client (the tests' transport clients) is
# loaded on python-rtmidi's copy, before any test module imports `jack`. Two copies in one
# process each keep their own view of JACK's shared registry while clients of both open and
# close. A test run died in libjack (an abort in jack_client_close) while both were loaded; one
# copy removes that suspect (not proven the cause).
try:
    from drumd.daemon.timing.jacktransport import jack_client_module
    jack_client_module()
except (ImportError, OSError):  # no libjack: the JACK tests say so themselves
    pass


# pytest-timeout (300 s) raises in the main thread, which cannot happen while a C call holds the
# GIL (libjack blocked on a hung server, rtmidi spinning on a full ring): then this watchdog,
# a C thread, prints every thread's stack and ends the run, rather than let CI time out.
HARD_LIMIT_S = 420


# scripts/test names a file for the stacks and shows it: fd 2 is pytest's capture during a test
_HANG_OUT = (open(os.environ["DRUMD_TEST_HANG_FILE"], "w") if os.environ.get("DRUMD_TEST_HANG_FILE")
             else sys.__stderr__)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    faulthandler.dump_traceback_later(HARD_LIMIT_S, exit=True, file=_HANG_OUT)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield
    faulthandler.cancel_dump_traceback_later()


_RERUN_WHY: list[str] = []


def pytest_runtest_logreport(report):
    """Keep why each failed try that gets a rerun failed (its assertion's first line): a green
    run's reruns are otherwise only an "R", and a flaky test cannot be studied from that."""
    if report.outcome == "rerun":
        crash = getattr(report.longrepr, "reprcrash", None)
        why = crash.message if crash is not None else str(report.longrepr)
        _RERUN_WHY.append(f"{report.nodeid} ({report.when}): {why.strip().splitlines()[0][:300]}")


def pytest_terminal_summary(terminalreporter):
    if _RERUN_WHY:
        terminalreporter.section("why tests were rerun")
        for line in _RERUN_WHY:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("jack") and not item.get_closest_marker("flaky"):
            item.add_marker(pytest.mark.flaky(reruns=JACK_RERUNS, reruns_delay=2))


@pytest.fixture(scope="session")
def jack():
    from jackstack import JackServer
    server = JackServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def transport(jack):
    from jackstack import Transport
    return Transport(jack)  # stopped with the server's processes


@pytest.fixture(scope="session")
def drumd_checkpoint(tmp_path_factory):
    from jackstack import checkpoint_for_tests
    return checkpoint_for_tests(tmp_path_factory.mktemp("checkpoint"))
