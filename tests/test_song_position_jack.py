"""Song Position while the clock runs, through real JACK MIDI: a looping DAW (tests/loop_sender.py,
a separate process) plays a 7-beat loop from bar 1 beat 3 into `drumd serve`, sending Song
Position at each loop end without stopping. drumd must stay in the loop (issue #18: it used
to run on to bar 5, 8 sixteenths off the DAW's bar line after two laps) and close every
sounding note at each jump."""
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jackstack import Drumd, Listener, judged
from test_daemon_jack import CC, note_ons, paired, status_lines

pytestmark = pytest.mark.jack

SENDER = Path(__file__).with_name("loop_sender.py")


def test_a_looping_daw_keeps_drumd_in_the_loop_with_every_note_closed(jack, drumd_checkpoint):
    bpm, start, beats, laps = 150.0, 8, 7, 3  # a lap: 2.8 s
    mark = jack.log_mark()
    daw = jack.spawn([sys.executable, str(SENDER), "--client", "daw-loop", "--bpm", str(bpm),
                      "--start", str(start), "--beats", str(beats), "--laps", str(laps)],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    listener = Listener("loop-rec")
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "external",
                  "--quantize", "1", "--gate-ms", "200", "--status", "--seed", "3",
                  client="drumd-loop")
    try:
        jack.wait_port("daw-loop:out")
        for dst in (drumd.in_port, listener.port):
            jack.connect("daw-loop:out", dst)
        jack.connect(drumd.out_port, listener.port)
        time.sleep(0.3)
        daw.stdin.write("go\n")
        daw.stdin.flush()
        assert daw.stdout.readline().strip() == "done"
        time.sleep(0.3)
        events = listener.snapshot()
        out = drumd.terminate()
    finally:
        jack.stop_process(daw)
        listener.close()
    lines = status_lines(out)
    where = [(int(m.group(1)), int(m.group(2))) for line in lines
             if (m := re.search(r"\s(\d+):(\d)\s", line))]
    # positions seen: 16th 8 (bar 1 beat 3) .. 16th 35 (bar 3 beat 1), lap after lap
    sixteenths = [(bar - 1) * 16 + (beat - 1) * 4 for bar, beat in where]
    assert sixteenths and max(sixteenths) <= start + beats * 4, lines
    returns = sum(1 for a, b in zip(sixteenths, sixteenths[1:]) if b < a - 8)
    spps = [t for t, m in events if m[0] == 0xF2]
    assert len(spps) == laps  # the start, then one per loop point
    # the relocation itself: not timing, never excused
    assert returns == laps - 1, lines  # back to the loop start at each loop point
    ons = note_ons(events)
    assert ons, out
    # at each loop point: drumd's all-notes-off within a few ticks of the Song Position,
    # and its notes go on after it
    for t in spps[1:]:
        assert any(m == (CC | 9, 123, 0) for u, m in events if t <= u <= t + 0.1)
        assert any(t < u < t + 1.0 for u, _ in ons)
    with judged(jack, mark, drumd.client):  # a recorder that missed a cycle lost its note-offs
        assert paired(events) == {}  # no note left sounding, none doubled
