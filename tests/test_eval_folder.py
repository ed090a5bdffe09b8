"""`drumd eval --data DIR` on a folder of drum MIDI files without info.csv (#14): every file
scored by every checkpoint, per style; the free-running figures for the styles a checkpoint
knows; bad folders and maps in one line. The shipped checkpoint, a tiny folder made here."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main as drumd
from drumd.engine.data.library import load_library
from drumd.engine.evaluation.evaluate import score_model
from drumd.engine.model.checkpoint import load_checkpoint

from test_train_folder import RIDE, groove, write

FAST = ["--runs", "2", "--bars", "8", "--min-beats", "2"]


@pytest.fixture(scope="module")
def loops(tmp_path_factory):
    """loops/rock: three 4-bar hat grooves (one on channel 1); loops/mine: two ride grooves,
    a 3/4 one and a file that is no MIDI."""
    root = tmp_path_factory.mktemp("folder") / "loops"
    write(root / "rock" / "a.mid", groove(kicks=(0, 8)))
    write(root / "rock" / "b.mid", groove(kicks=(0, 6, 8)))
    write(root / "rock" / "c.mid", groove(kicks=(0, 10)), channel=1)
    write(root / "mine" / "ride1.mid", groove(bars=6, cymbal=RIDE, kicks=(0, 3, 10), swing=40))
    write(root / "mine" / "ride2.mid", groove(bars=6, cymbal=RIDE, kicks=(0, 10), swing=40))
    write(root / "mine" / "waltz.mid", groove(meter=(3, 4), kicks=(0,)), meter=(3, 4))
    (root / "mine" / "notes.mid").write_text("my loops\n")
    return root


@pytest.fixture(scope="module")
def evaluated(loops, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    r = CliRunner().invoke(drumd, ["eval", "--data", str(loops), "--map", "ezdrummer2", "--out", str(out),
                                   *FAST])
    assert r.exit_code == 0, r.output
    return json.loads((out / "metrics.json").read_text()), out, r.output


def test_every_file_is_scored_per_checkpoint_and_style(loops, evaluated):
    m, out, printed = evaluated
    d = m["data"]
    assert d["kind"] == "folder" and d["map"] == "ezdrummer2" and d["test_files"] == 6 and d["files"] == 7
    assert list(d["skipped"]) == ["mine/notes.mid"] and d["bars_per_style"] == {"mine": 16, "rock": 12}
    (label, c), = m["checkpoints"].items()
    assert label == "drumd-gmd" and not c["trained_on_folder"]
    tf = c["teacher_forced"]
    # the same as scoring the folder's files, read by the trainer's reader, each as rock
    ck = load_checkpoint(None)
    perfs = [f.perf for f in load_library(loops, "ezdrummer2", split=False).read]
    for p in perfs:
        p.style = "rock"
    assert tf["nll"] == pytest.approx(score_model(ck, perfs)["nll"], rel=1e-6)
    assert tf["steps"] == d["test_steps"] == sum(len(p) for p in perfs)
    assert 0 < tf["nll"] < np.log(512) and 0 <= tf["accuracy"] <= 1 and tf["velocity_mae"] > 0
    mine, rock = tf["styles"]["mine"], tf["styles"]["rock"]
    assert mine["played_as"] == "rock" and rock["played_as"] == "rock"  # the shipped model knows no "mine"
    assert mine["files"] == 3 and rock["files"] == 3
    # the overall NLL is the per-style NLLs weighted by their steps
    assert tf["nll"] == pytest.approx((mine["nll"] * mine["steps"] + rock["nll"] * rock["steps"])
                                      / (mine["steps"] + rock["steps"]), rel=1e-6)
    report = (out / "report.md").read_text()
    assert "| mine (3 files, 16 bars) |" in report and "(as rock)" in report
    assert "mine/notes.mid: not a readable MIDI file" in report
    assert "NLL (nats/step)" in printed and "Per style" in printed


def test_free_running_figures_for_the_styles_the_checkpoint_knows(evaluated):
    m, out, _ = evaluated
    rb = m["real_beats"]
    # the real beats: 4/4 files (the waltz is 3/4) of 4 bars or more
    assert rb["qualifying"] == ["rock", "mine"] and rb["styles"]["mine"]["files"] == 2
    fr = m["checkpoints"]["drumd-gmd"]["free_running"]
    for cond in ("unprimed", "primed"):
        assert set(fr[cond]["styles"]) == {"rock"} and fr[cond]["runs_per_style"] == 2
        assert fr[cond]["styles"]["rock"]["bars"] == 16 and 0 <= fr[cond]["c2st_accuracy"] <= 1
    assert fr["unprimed"]["not_in_checkpoint"] == ["mine"]
    assert "Not played (the checkpoint does not know the style): mine." in (out / "report.md").read_text()
    assert (out / "listener_drumd-gmd.png").read_bytes()[:4] == b"\x89PNG"


def test_a_checkpoint_that_knows_no_style_of_the_folder_is_scored_not_played(loops, tmp_path):
    """Files at the top of a folder take its name ("solo"), which the shipped model does not
    know; --channel 1 reads them where they are."""
    solo = tmp_path / "solo"
    write(solo / "one.mid", groove(bars=4), channel=1)
    write(solo / "two.mid", groove(bars=4, kicks=(0, 6)), channel=1)
    r = CliRunner().invoke(drumd, ["eval", "--data", str(solo), "--map", "ezdrummer2", "--channel", "1",
                                   "--out", str(tmp_path / "o"), *FAST])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    c = m["checkpoints"]["drumd-gmd"]
    assert m["data"]["channel"] == 1 and m["data"]["test_files"] == 2
    assert c["free_running"] is None and "solo" in c["free_running_skipped"]
    assert c["teacher_forced"]["styles"]["solo"]["played_as"] == "rock"
    assert "not played" in (tmp_path / "o" / "report.md").read_text()


@pytest.mark.parametrize("case", ["missing", "empty", "no drums", "bad map", "map for the dataset"])
def test_bad_folders_and_maps_are_one_line(loops, tmp_path, case):
    data, more = str(loops), ["--map", "ezdrummer2"]
    if case == "missing":
        data = str(tmp_path / "nowhere")
    elif case == "empty":
        (tmp_path / "empty").mkdir()
        data = str(tmp_path / "empty")
    elif case == "no drums":
        (tmp_path / "text").mkdir()
        (tmp_path / "text" / "x.mid").write_text("not midi")
        data = str(tmp_path / "text")
    elif case == "bad map":
        more = ["--map", "no-such-kit"]
    else:
        (tmp_path / "gmd").mkdir()
        (tmp_path / "gmd" / "info.csv").write_text("drummer,split\n")
        data = str(tmp_path / "gmd")
    r = CliRunner().invoke(drumd, ["eval", "--data", data, *more, "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and (r.exception is None or isinstance(r.exception, SystemExit)), r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    want = {"missing": "no such folder", "empty": "no .mid or .midi files", "no drums": "none can be read",
            "bad map": "no-such-kit", "map for the dataset": "--map apply to folders"}[case]
    assert want in lines[0], r.output
