"""Shared fixtures. JACK: one dummy-driver server per test session, under a unique name so
parallel runs never share it; everything started on it is stopped at the end."""
import pytest


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
