"""The JACK output gate: a stalled server makes sends drop (never block), and the first send
after it recovers silences the channels that lost notes. Fake cycle counter here; the real
server is stopped with SIGSTOP in test_jack_stall.py."""
from drumd.daemon.midi.jackgate import HEADER, LIMIT, OutputGate

PERIOD = 256


class FakeCycles:
    def __init__(self):
        self.frame = 0

    def __call__(self):
        return self.frame, PERIOD


def test_a_running_server_takes_everything():
    cycles = FakeCycles()
    gate = OutputGate(cycles)
    for i in range(100_000):
        assert gate.allow([0x99, 36, 100]) == [[0x99, 36, 100]]
        if i % 50 == 49:  # 50 messages a period, far more than a groove sends
            cycles.frame += PERIOD
    assert gate.dropped == 0 and gate.pending <= 3 * 50 * (HEADER + 3)  # three periods at most


def test_a_stalled_server_gets_at_most_half_the_ring_then_nothing():
    cycles = FakeCycles()
    gate = OutputGate(cycles)
    sent = [m for _ in range(5000) for m in gate.allow([0x89, 38, 0])]
    assert len(sent) == LIMIT // (HEADER + 3)
    assert gate.stalled and gate.dropped == 5000 - len(sent)
    assert gate.allow([0xF8]) == []  # clock bytes wait too, but name no channel
    assert gate.silenced == {9}


def test_recovery_sends_all_notes_off_on_the_channels_that_lost_messages_first():
    cycles = FakeCycles()
    gate = OutputGate(cycles)
    while gate.allow([0x90, 60, 90]):
        pass
    gate.allow([0x89, 38, 0])
    cycles.frame += PERIOD  # one cycle may have begun before the last write: not yet drained
    assert gate.allow([0x99, 36, 100]) == []
    cycles.frame += PERIOD
    assert gate.allow([0x99, 36, 100]) == [[0xB0, 123, 0], [0xB9, 123, 0], [0x99, 36, 100]]
    assert not gate.stalled and not gate.silenced
    assert gate.allow([0x89, 36, 0]) == [[0x89, 36, 0]]


def test_the_frame_counter_wrapping_around_is_still_progress():
    cycles = FakeCycles()
    cycles.frame = 2**32 - PERIOD
    gate = OutputGate(cycles)
    while gate.allow([0x99, 36, 100]):
        pass
    cycles.frame = PERIOD  # two periods later, past the wrap
    assert gate.allow([0x99, 36, 100]) != []
