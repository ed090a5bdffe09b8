"""`drumd serve --record` whose recording cannot be written when drumd stops (its folder
removed while playing): one line naming the file, exit status 1, every note switched off and
the ports closed; never a MidiFileError traceback."""
import io
import queue
import shutil
import time

import pytest

from drumd.daemon.cli import config
from drumd.daemon.cli.serve import shut_down
from drumd.daemon.play.record import Recorder
from drumd.daemon.play.session import Session
from drumd.daemon.play.status import StatusLine
from drumd.daemon.play.voicing import PlayerInput, Voicing
from drumd.engine.data.encoding import Hit, Step


class KickSampler:
    styles = ["rock"]
    default_style = "rock"

    def reset(self, primer=(), style=None, bpm=120.0, step_index=0, meter=(4, 4)):
        pass

    def step(self, controls, observed=None):
        return Step((Hit(36, 100, 0.0),))

    def amend_last(self, hits):
        pass


class FakePort:
    abandoned = False

    def __init__(self):
        self.sent, self.closed = [], False

    def send(self, msg):
        self.sent.append(list(msg))

    def check(self):
        return None

    def server_alive(self, within=0.1):
        return True

    def close(self):
        self.closed = True


def wait_for_note_ons(port, timeout=10.0):
    """Until drumd has played (a busy machine may take longer to start than a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not any(m[0] == 0x99 for m in port.sent) and time.monotonic() < deadline:
        time.sleep(0.05)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_recording_that_cannot_be_written_ends_in_one_line_with_notes_off(tmp_path):
    folder = tmp_path / "takes"
    folder.mkdir()
    take = folder / "take.mid"
    settings = config.resolve(None, {"clock": "internal", "bpm": 240.0, "gate_ms": 2000.0,
                                     "record": str(take)})
    in_port, out_port = FakePort(), FakePort()
    terminal = Terminal()
    status = StatusLine(True, stream=terminal)
    s = Session(settings, KickSampler(), in_port, out_port, queue.SimpleQueue(),
                Voicing("gm", 10), PlayerInput("gm"), Recorder(take, time.perf_counter(), 240.0),
                status)
    s.start()
    wait_for_note_ons(out_port)
    shutil.rmtree(folder)  # the take's folder goes while drumd plays
    lost = shut_down(s, status, in_port, out_port, stats_path=str(tmp_path / "stats.json"))
    assert lost == (f"{take}: folder {folder} does not exist (create it first; drumd does not)"
                    "; the recording was not saved")
    ons = [m for m in out_port.sent if m[0] == 0x99]
    assert ons and out_port.sent[-1] == [0xB9, 123, 0]  # 2 s notes: silenced on the way out
    assert in_port.closed and out_port.closed and (tmp_path / "stats.json").exists()
    assert terminal.getvalue().endswith("\n")  # the status line was ended


@pytest.mark.jack
def test_serve_says_the_recording_was_lost_in_one_line(jack, drumd_checkpoint, tmp_path):
    from jackstack import Drumd, Listener
    from test_daemon_jack import CC
    folder = tmp_path / "takes"
    folder.mkdir()
    listener = Listener("lost-take-rec")
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "internal",
                  "--bpm", "200", "--density", "3", "--record", str(folder / "take.mid"),
                  "--connect-out", listener.port, client="drumd-lost-take")
    try:
        time.sleep(2.0)
        shutil.rmtree(folder)
        out = drumd.terminate()
        events = listener.snapshot()
    finally:
        listener.close()
    assert drumd.proc.returncode == 1, out
    assert "Traceback" not in out, out
    assert out.strip().splitlines()[-1] == (
        f"Error: {folder / 'take.mid'}: folder {folder} does not exist (create it first; "
        "drumd does not); the recording was not saved")
    channel = [m for _, m in events if m[0] < 0xF0]
    assert channel and channel[-1] == (CC | 9, 123, 0)


def test_a_take_that_cannot_be_written_on_stop_is_kept_and_written_at_exit(tmp_path, caplog):
    """On a transport Stop the take is written; when that fails drumd says so and plays on
    (the take kept in memory), and writes it when it exits if it can by then."""
    folder = tmp_path / "takes"
    folder.mkdir()
    take = folder / "take.mid"
    # --clock auto: no DAW, so it plays on its own after a second; a DAW's Stop still stops it
    settings = config.resolve(None, {"clock": "auto", "bpm": 240.0, "record": str(take)})
    in_port, out_port = FakePort(), FakePort()
    inbox = queue.SimpleQueue()
    s = Session(settings, KickSampler(), in_port, out_port, inbox, Voicing("gm", 10),
                PlayerInput("gm"), Recorder(take, time.perf_counter(), 240.0), None)
    s.start()
    wait_for_note_ons(out_port)
    shutil.rmtree(folder)
    inbox.put((time.perf_counter(), [0xFC]))  # Stop: the take is written, and cannot be
    deadline = time.monotonic() + 10
    while "not saved" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "the take so far was not saved" in caplog.text
    assert s.error is None and not s.stopping.is_set()  # still running
    folder.mkdir()
    assert shut_down(s, StatusLine(False, stream=io.StringIO()), in_port, out_port) is None
    from drumd.mappings.basics.midifile import read_drum_notes
    assert read_drum_notes(take).notes  # the kicks played before the Stop
