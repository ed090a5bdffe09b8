"""`drumd eval` end to end on a tiny checkpoint and a slice of the Groove MIDI Dataset."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main as drumd
from drumd.engine.data.gmd import load_dataset
from drumd.engine.evaluation.evaluate import score_model
from drumd.engine.model.checkpoint import load_checkpoint
from drumd.engine.training.train import TrainConfig, build_arrays, evaluate_nll, train

from engine_fixtures import TINY_MODEL, make_mini_gmd


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(root / "cache"))  # never touch the user's dataset cache
    mini = make_mini_gmd(root / "gmd")
    best = train(TrainConfig(data=str(mini), out=str(root / "run"), model=TINY_MODEL, batch_size=8,
                             seq_len=32, max_iters=20, eval_interval=10, warmup_iters=5,
                             progress=False, threads=1))
    yield mini, best, root
    mp.undo()


def test_model_nll_agrees_with_training(setup):
    mini, best, _ = setup
    ckpt = load_checkpoint(best)
    test = load_dataset(mini)[0]["test"]
    arrays, starts = build_arrays(test, ckpt.styles, ckpt.config.lookback)
    r = score_model(ckpt, test)
    assert r["nll"] == pytest.approx(evaluate_nll(ckpt.model, arrays, starts)[0], rel=1e-4)
    assert 0 < r["velocity_mae"] < 127 and 0 < r["offset_mae_ms"] < 200


def test_eval_cli_writes_report_metrics_and_plots(setup):
    mini, best, root = setup
    out = root / "out"
    # Little work: 3 primers x 2 samples x 8 bars per temperature; listener runs of 8 bars, 2 per
    # style, for the styles with 2+ test beats (the mini split's funk and soul; soul is not in
    # the tiny model, trained on jazz and funk fills).
    args = ["eval", str(best), str(best), "--out", str(out), "--data", str(mini), "--primers", "3",
            "--samples", "2", "--temperature", "0.8", "--temperature", "1.0", "--seed", "1",
            "--runs", "2", "--bars", "8", "--min-beats", "2"]
    r = CliRunner().invoke(drumd, args)
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["baselines"]) == {"unigram", "2-gram", "3-gram", "4-gram", "repeat-1-bar", "repeat-2-bars",
                                   "bar-context"}
    assert len(m["checkpoints"]) == 2  # the same file twice: two columns, distinct names
    rb = m["real_beats"]
    assert rb["qualifying"] == ["funk", "soul"] and rb["test_beats"]["pop"] == 1
    assert rb["styles"]["funk"]["files"] == 2 and rb["styles"]["funk"]["hits_per_bar"] > 0
    for c in m["checkpoints"].values():
        tf = c["teacher_forced"]
        assert 0 < tf["nll"] < np.log(512) + 1 and 0 <= tf["accuracy"] <= 1
        fr = c["free_running"]
        assert set(fr) == {"unprimed", "primed", "temperature", "real"}
        assert set(fr["temperature"]) == {"0.8", "1"}
        t1 = fr["temperature"]["1"]
        assert 0 <= t1["empty_bars"] <= 1 and 0 <= t1["vs_real"]["velocity"]["oa"] <= 1
        assert t1["human_feel_ratio"]["velocity_std"] > 0 and t1["diversity"] >= 0 and t1["hits_per_bar"] >= 0
        for cond in ("unprimed", "primed"):
            f = fr[cond]
            assert set(f["styles"]) == {"funk"} and f["runs_per_style"] == 2 and f["bars"] == 8
            assert 0 <= f["c2st_accuracy"] <= 1 and f["c2st"]["windows_per_class"] == 10  # 2 runs x 5
            funk = f["styles"]["funk"]
            assert funk["clips"] == 2 and funk["bars"] == 16 and 0 <= funk["backbeat"] <= 1
        assert fr["unprimed"]["not_in_checkpoint"] == ["soul"]
        assert fr["real"]["hits_per_bar"] == rb["styles"]["funk"]["hits_per_bar"]  # overall: the styles played
        names = {(t["metric"], t["style"]) for t in c["targets"]}
        assert {("hits_per_bar", "funk"), ("drift", "funk"), ("c2st_accuracy", "all"), ("velocity_mae", "all")} <= names
        assert all(t["pass"] in (True, False, None) for t in c["targets"])
        fo = c["following"]  # the tiny model knows funk, not rock
        assert set(fo) == {"funk"} and set(fo["funk"]) == {"0", "0.8"}
        for x in fo["funk"].values():
            assert 0 <= x["halftime_backbeat"] <= 1 and 0 <= x["tap_accent"] <= 1 and x["kicks_off"] >= 0
    for b in m["baselines"].values():
        assert 0 < b["test"]["nll"] < np.log(512) + 1
    report = (out / "report.md").read_text()
    assert "| NLL (nats/step) |" in report and "3-gram" in report and "velocity std / real" in report
    assert "bar-context" in report and "### Targets (issue 12)" in report and "| funk (2) |" in report
    assert "## Following a player (issue 17)" in report
    for f in m["figures"]:
        assert (out / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"nll.png", "learning_curves.png", "class_density.png", "expression.png"} <= set(m["figures"])
    assert sum(f.startswith("listener_") for f in m["figures"]) == 2
    assert "NLL (nats/step)" in r.output and "C2ST accuracy" in r.output


def test_eval_cli_reports_a_bad_checkpoint(setup, tmp_path):
    mini, _, _ = setup
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    r = CliRunner().invoke(drumd, ["eval", str(bad), "--out", str(tmp_path / "o"), "--data", str(mini)])
    assert r.exit_code != 0 and "bad.pt" in r.output
