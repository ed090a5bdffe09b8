"""A player's own folder from training to the stage through the real stack (#14): a tiny folder
made here (two style folders in a vendor map, a 3/4 file, a broken file, a file with its drums
on channel 1) -> `drumd train` -> `drumd eval` on the folder -> `drumd generate` and
`drumd serve --checkpoint RUN/best.pt`, neither given a style: both play the folder's main
style (most bars), which the serve run plays on a JACK dummy server, recorded, every note closed."""
import json
import time

import pytest
from click.testing import CliRunner

from jackstack import Drumd, Listener

from drumd.daemon.cli import main as drumd
from drumd.engine.model.checkpoint import load_checkpoint
from drumd.mappings.basics.midifile import read_drum_notes

from engine_fixtures import TINY_MODEL
from test_daemon_jack import note_ons, paired
from test_train_folder import RIDE, groove, write

pytestmark = pytest.mark.jack

TINY = ["--set", f"model={json.dumps(TINY_MODEL)}", "--set", "batch_size=8", "--set", "seq_len=32",
        "--set", "max_iters=20", "--set", "eval_interval=10", "--set", "warmup_iters=5",
        "--set", "progress=false", "--set", "threads=1"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def loops(tmp_path):
    """loops/brushes: three 8-bar ride grooves and a 3/4 one (the main style: 28 bars);
    loops/rock: two 4-bar hat grooves, one on channel 1, and a broken file (12 bars)."""
    root = tmp_path / "loops"
    for i in range(3):
        write(root / "brushes" / f"brush{i}.mid", groove(bars=8, cymbal=RIDE, kicks=(0, 7 + i), swing=60))
    write(root / "brushes" / "waltz.mid", groove(meter=(3, 4), cymbal=RIDE, kicks=(0,)), meter=(3, 4))
    write(root / "rock" / "beat.mid", groove(kicks=(0, 8)))
    write(root / "rock" / "chan1.mid", groove(kicks=(0, 6, 8)), channel=1)
    (root / "rock" / "broken.mid").write_bytes(b"MThd\x00\x00")
    return root


def connected(events):
    """The listener's events less the note-offs of notes begun before it was connected (drumd's
    own clock starts at once)."""
    seen, out = set(), []
    for t, m in events:
        key, kind = (m[0] & 0x0F, m[1]), m[0] & 0xF0
        if kind == 0x90 and m[2] > 0:
            seen.add(key)
        elif kind in (0x80, 0x90) and key not in seen:
            continue
        out.append((t, m))
    return out


def test_a_players_folder_from_training_to_the_stage(jack, loops, tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(drumd, ["train", "--data", str(loops), "--map", "ezdrummer2", "--out", str(run),
                                   *TINY])
    assert r.exit_code == 0, r.output
    assert "files read: 6 of 7" in r.output and "rock/chan1.mid: channel 1" in r.output
    assert "rock/broken.mid" in r.output and "bars per meter: 3/4 4, 4/4 32" in r.output
    best = run / "best.pt"
    ck = load_checkpoint(best)
    assert ck.styles == ["brushes", "rock"] and ck.meters == ["4/4", "3/4"]
    assert ck.meta["library"]["styles"] == ["brushes", "rock"] and ck.default_style == "brushes"

    r = CliRunner().invoke(drumd, ["eval", str(best), "--data", str(loops), "--map", "ezdrummer2",
                                   "--out", str(tmp_path / "eval"), "--runs", "2", "--bars", "8",
                                   "--min-beats", "2"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    (c,) = m["checkpoints"].values()
    assert m["data"]["test_files"] == 6 and c["trained_on_folder"]
    assert 0 < c["teacher_forced"]["nll"] < 7 and set(c["teacher_forced"]["styles"]) == {"brushes", "rock"}
    assert set(c["free_running"]["unprimed"]["styles"]) == {"brushes", "rock"}

    r = CliRunner().invoke(drumd, ["generate", str(tmp_path / "g.mid"), "--checkpoint", str(best),
                                   "--bars", "2", "--seed", "1"])
    assert r.exit_code == 0 and "style brushes" in r.output, r.output

    take = tmp_path / "take.mid"
    listener = Listener("library-rec")
    try:
        d = Drumd(jack, "--checkpoint", str(best), "--clock", "internal", "--bpm", "300",
                  "--record", str(take), "--seed", "2", client="drumd-library")
        jack.connect(d.out_port, listener.port)
        time.sleep(4.0)  # 5 bars at 300 BPM
        out = d.terminate()
        time.sleep(0.2)
        events = listener.snapshot()
    finally:
        listener.close()
    assert "Traceback" not in out and "style brushes" in out, out
    assert note_ons(events), out  # it played through JACK
    assert paired(connected(events)) == {}  # and closed every note it opened
    assert read_drum_notes(take).notes, out
