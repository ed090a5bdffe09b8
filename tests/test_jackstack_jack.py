"""The test stack itself: a server that stops closes this process's clients on it first."""
import os

import pytest

from jackstack import JackServer, Listener, Player


@pytest.mark.jack
def test_a_server_closes_the_clients_a_failed_test_left_open():
    before = os.environ.get("JACK_DEFAULT_SERVER")
    server = JackServer()
    try:
        listener, player = Listener("stack-left-in"), Player("stack-left-out")
        server.connect(player.port, listener.port)
    finally:
        server.close()  # as a fixture's teardown after a test that raised before its close()
        if before is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = before
    assert listener._closed and player._closed
    listener.close()
    player.close()  # closing again is harmless
