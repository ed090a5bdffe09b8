"""Takes line up through the real stack (issue #18): `drumd serve --quantize 1 --record` on a
JACK dummy server, on its own clock and following jack_midi_clock as the DAW (started from a
Song Position, not bar 1). Read back with the one MIDI reader: PPQN 480, and every note of
drumd's within 1 tick of the file's 16th grid (120 ticks)."""
import time

import pytest

from jackstack import RATE, Daw, Drumd, Listener
from test_daemon_jack import wiring

from drumd.mappings.basics.grid import PPQN, STEP_TICKS
from drumd.mappings.basics.midifile import read_drum_notes

pytestmark = pytest.mark.jack


def off_grid(ticks):
    """Each tick's distance from the nearest 16th of the file's grid, in ticks."""
    return [min(t % STEP_TICKS, STEP_TICKS - t % STEP_TICKS) for t in ticks]


def test_a_take_on_drumds_own_clock_lies_on_the_files_grid(jack, drumd_checkpoint, tmp_path):
    take = tmp_path / "take.mid"
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "internal", "--bpm", "97",
                  "--quantize", "1", "--record", str(take), "--seed", "4", client="drumd-take")
    time.sleep(3.0)
    out = drumd.terminate()
    f = read_drum_notes(take)
    ticks = [n.tick for n in f.notes]
    assert f.ticks_per_beat == PPQN and len(ticks) >= 8, out
    assert max(off_grid(ticks)) <= 1, ticks
    assert f.tempos[0][0] == 0 and round(60e6 / f.tempos[0][1], 2) == 97.0


def test_a_take_following_a_daw_starts_at_its_song_position(jack, transport, drumd_checkpoint,
                                                            tmp_path):
    take = tmp_path / "take.mid"
    daw = Daw(jack, transport, bpm=120.0)
    listener = Listener("take-rec")
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "external",
                  "--quantize", "1", "--record", str(take), "--seed", "4", client="drumd-take-daw")
    try:
        wiring(jack, daw.port, drumd, listener)
        daw.play(listener, frame=5 * RATE)  # 2.5 s in at 120 BPM: bar 2 beat 2 (16th 20)
        time.sleep(3.0)
        daw.command("stop")
        time.sleep(0.5)
        events = listener.snapshot()
        out = drumd.terminate()
    finally:
        daw.close()
        listener.close()
    spp = [m for _, m in events if m[0] == 0xF2]
    assert spp, "the DAW sent no Song Position"
    f = read_drum_notes(take)
    ticks = [n.tick for n in f.notes]
    assert f.ticks_per_beat == PPQN and len(ticks) >= 8, out
    assert max(off_grid(ticks)) <= 1, ticks
    # tick 0 is the Song Position the DAW started from: drumd's first step is there
    assert ticks[0] < 4 * STEP_TICKS, ticks
