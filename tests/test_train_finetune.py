"""Fine-tuning, the wall-time cap, Ctrl-C and --resume of `drumd train` (#14), on tiny models
and folders made here: seconds each."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main as drumd
from drumd.engine.model.checkpoint import load_checkpoint

from engine_fixtures import TINY_MODEL
from test_train_folder import RIDE, groove, write

TINY = ["--set", f"model={json.dumps(TINY_MODEL)}", "--set", "batch_size=8",
        "--set", "seq_len=32", "--set", "warmup_iters=2", "--set", "progress=false",
        "--set", "threads=1"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny model trained on rock and funk: the checkpoint the tests fine-tune."""
    tmp = tmp_path_factory.mktemp("base")
    for i in range(3):
        write(tmp / "loops" / "rock" / f"r{i}.mid", groove(kicks=(0, 8 - i)))
        write(tmp / "loops" / "funk" / f"f{i}.mid", groove(cymbal=RIDE, kicks=(0, 3 + i, 10), swing=40))
    r = CliRunner().invoke(drumd, ["train", "--data", str(tmp / "loops"), "--map", "ezdrummer2",
                                   "--out", str(tmp / "run"), *TINY, "--set", "max_iters=10",
                                   "--set", "eval_interval=5"])
    assert r.exit_code == 0, r.output
    return tmp / "run" / "best.pt"


@pytest.fixture(scope="module")
def mine(tmp_path_factory):
    """A player's folder: rock (a style the base knows) and waltzrock (a new one)."""
    root = tmp_path_factory.mktemp("mine") / "mine"
    for i in range(3):
        write(root / "rock" / f"beat{i}.mid", groove(kicks=(0, 6, 8 + i)))
        write(root / "newstyle" / f"ride{i}.mid", groove(cymbal=RIDE, kicks=(0, 7 + i), swing=60))
    return root


def finetune(base, mine, out, *more):
    return CliRunner().invoke(drumd, ["train", "--data", str(mine), "--map", "ezdrummer2",
                                      "--finetune", str(base), "--out", str(out), *TINY, *more])


def log_rows(run):
    return list(csv.DictReader(open(run / "log.csv")))


def test_finetune_keeps_the_styles_and_adds_the_new_one(base, mine, tmp_path):
    r = finetune(base, mine, tmp_path / "ft", "--set", "max_iters=10", "--set", "eval_interval=5")
    assert r.exit_code == 0, r.output
    old, new = load_checkpoint(base), load_checkpoint(tmp_path / "ft" / "best.pt")
    assert old.styles == ["funk", "rock"]
    assert new.styles == ["funk", "rock", "newstyle"]  # the known ones in their places, then the new
    assert new.config.n_styles == 3 and new.config.hidden == TINY_MODEL["hidden"]
    emb_old, emb_new = old.weights["style_emb.weight"], new.weights["style_emb.weight"]
    # funk is not in the folder: no gradient reaches its row, only weight decay (lr * 1e-4 a step)
    np.testing.assert_allclose(emb_new[0], emb_old[0], rtol=1e-3, atol=1e-5)
    assert new.meta["finetuned_from"]["path"].startswith(str(base.with_suffix("")))
    assert new.meta["finetuned_from"]["new_styles"] == ["newstyle"]
    assert set(new.meta["warmup"]) >= {"funk", "rock", "newstyle"}  # funk's grooves from the base
    rows = log_rows(tmp_path / "ft")
    assert [int(r["iter"]) for r in rows] == [0, 5, 10]  # row 0: the base on the held-out files
    assert "held-out NLL" in r.output and "before (1 new style(s))" in r.output
    if new.meta["iter"] > 0:  # it fine-tuned: the shared weights moved
        assert not np.allclose(new.weights["event_head.weight"], old.weights["event_head.weight"])
    assert new.meta["val_nll"] == pytest.approx(min(float(r["val_nll"]) for r in rows), abs=1e-4)


def test_the_starting_point_copies_every_weight(base, mine, tmp_path):
    """With no iteration run, best.pt is the base as it was: every weight copied, the known
    style rows too, the new row the mean of the known ones."""
    r = finetune(base, mine, tmp_path / "ft0", "--set", "max_iters=0")
    assert r.exit_code == 0, r.output
    old, new = load_checkpoint(base), load_checkpoint(tmp_path / "ft0" / "best.pt")
    for k, w in old.weights.items():
        if k != "style_emb.weight":
            np.testing.assert_array_equal(new.weights[k], w, err_msg=k)
    emb_old, emb_new = old.weights["style_emb.weight"], new.weights["style_emb.weight"]
    np.testing.assert_array_equal(emb_new[:2], emb_old)
    np.testing.assert_allclose(emb_new[2], emb_old.mean(0), rtol=1e-6)


def test_a_different_model_is_refused_in_one_line(base, mine, tmp_path):
    r = finetune(base, mine, tmp_path / "bad", "--set", "model={hidden: 64, layers: 1}")
    assert r.exit_code == 1 and "Traceback" not in r.output
    (line,) = r.output.strip().splitlines()
    assert "fine-tuning keeps its model (hidden 32)" in line and "hidden 64" in line, line
    assert not (tmp_path / "bad" / "best.pt").exists()
    r = finetune(tmp_path / "nothing.pt", mine, tmp_path / "bad2")
    assert r.exit_code != 0 and "Traceback" not in r.output


def test_minutes_stops_early_with_a_loadable_best(mine, tmp_path):
    r = CliRunner().invoke(drumd, ["train", "--data", str(mine), "--map", "ezdrummer2", "--out",
                                   str(tmp_path / "run"), *TINY, "--minutes", "0.002",
                                   "--set", "max_iters=100000", "--set", "eval_interval=100000"])
    assert r.exit_code == 0, r.output
    assert "0.002 minutes are up" in r.output
    (row,) = log_rows(tmp_path / "run")
    # 0.12 s leave no room for a second iteration and the closing evaluation: it stops after one
    assert int(row["iter"]) == 1
    ck = load_checkpoint(tmp_path / "run" / "best.pt")
    assert ck.meta["iter"] == int(row["iter"]) and ck.meta["train_config"]["max_minutes"] == 0.002


def test_ctrl_c_keeps_the_best_checkpoint(mine, tmp_path):
    run = tmp_path / "run"
    cmd = [str(Path(sys.executable).parent / "drumd"), "train", "--data", str(mine), "--map",
           "ezdrummer2", "--out", str(run), *TINY, "--set", "max_iters=1000000",
           "--set", "eval_interval=3", "--minutes", "5"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (run / "last.pt").exists() and p.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        assert p.poll() is None, p.communicate()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    (line,) = [x for x in err.splitlines() if x.strip()]
    assert line.startswith("interrupted at iteration") and str(run / "best.pt") in line, line
    ck = load_checkpoint(run / "best.pt")
    rows = log_rows(run)
    assert ck.meta["val_nll"] == pytest.approx(min(float(r["val_nll"]) for r in rows), abs=1e-4)
    assert load_checkpoint(run / "best.safetensors").meta["iter"] == ck.meta["iter"]


def test_resume_continues_a_finetune(base, mine, tmp_path):
    run = tmp_path / "ft"
    r = finetune(base, mine, run, "--set", "max_iters=10", "--set", "eval_interval=5")
    assert r.exit_code == 0, r.output
    r = finetune(base, mine, run, "--set", "max_iters=20", "--set", "eval_interval=5",
                 "--resume", str(run / "last.pt"))
    assert r.exit_code == 0, r.output
    assert [int(x["iter"]) for x in log_rows(run)] == [0, 5, 10, 15, 20]
    assert load_checkpoint(run / "best.pt").styles == ["funk", "rock", "newstyle"]
    # --resume alone: the run's own options (kept in last.pt), under those given again
    r = CliRunner().invoke(drumd, ["train", "--resume", str(run / "last.pt"), "--set", "max_iters=25"])
    assert r.exit_code == 0, r.output
    assert [int(x["iter"]) for x in log_rows(run)] == [0, 5, 10, 15, 20, 25]
    seconds = [float(x["seconds"]) for x in log_rows(run)]
    assert seconds == sorted(seconds)  # a resumed run's time goes on from where it was
    assert load_checkpoint(run / "best.pt").styles == ["funk", "rock", "newstyle"]
    # told to start from nothing instead, the model it builds is not the run's: one line
    r = CliRunner().invoke(drumd, ["train", "--resume", str(run / "last.pt"), "--set", "max_iters=30",
                                   "--set", "finetune=null"])
    assert r.exit_code == 1 and "Traceback" not in r.output and "--finetune" in r.output, r.output
    # resumed with another expr_lr (one parameter group, not two): one line
    r = finetune(base, mine, run, "--set", "max_iters=35", "--set", "expr_lr=1", "--resume", str(run / "last.pt"))
    assert r.exit_code == 1 and "Traceback" not in r.output and "expr_lr" in r.output, r.output


def test_numbers_in_options():
    """YAML reads 1e-3 (no dot) as text: it is taken as the number; a fraction of an iteration
    or a word is one line naming the option."""
    from drumd.engine.training.train import TrainConfig
    assert TrainConfig.load(None, {"lr": "1e-3", "max_iters": 5}).lr == 0.001
    for k, v in (("max_iters", 1.5), ("lr", "fast"), ("patience", True)):
        with pytest.raises(ValueError, match=f"options: {k} {v!r}: expected"):
            TrainConfig.load(None, {k: v})


def test_a_training_config_file_names_its_line(tmp_path):
    """A --config file: an option set twice is refused (YAML would keep the last), and every
    mistake names FILE:LINE (mappings.settingsfile, as serve's config)."""
    from drumd.engine.training.train import TrainConfig
    cfg = tmp_path / "train.yaml"
    cfg.write_text("lr: 1e-3\nbatch_size: 8\nmax_iters: 5\n")
    c = TrainConfig.load(str(cfg), {"max_iters": 7})
    assert (c.lr, c.batch_size, c.max_iters) == (0.001, 8, 7)  # --set wins over the file
    for text, expected in (("batch_size: 8\nlr: 1e-3\nbatch_size: 9\n",
                            r"train.yaml:3: batch_size: set again \(first on line 1\)"),
                           ("lr: 1e-3\nbatch_size: eight\n", r"train.yaml:2: batch_size 'eight': expected"),
                           ("lr: 1e-3\n\nbogus: 1\n", r"train.yaml:3: unknown training option\(s\) \['bogus'\]"),
                           ("- lr\n", r"train.yaml:1: expected a mapping of training options"),
                           ("lr: [1,\n", r"train.yaml:\d+: not valid YAML")):
        cfg.write_text(text)
        with pytest.raises(ValueError, match=expected):
            TrainConfig.load(str(cfg), {})


def test_new_meter_columns_are_those_the_checkpoint_never_learnt(base):
    from drumd.engine.data.encoding import METER_INPUTS, METERS
    from drumd.engine.model.spec import lstm_input_width
    from drumd.engine.training.train import new_meter_columns
    ckpt = load_checkpoint(base)
    first = lstm_input_width(ckpt.config) - METER_INPUTS
    assert ckpt.meters == ["4/4"]
    assert new_meter_columns(ckpt) == list(range(first, first + METER_INPUTS))
    ckpt.meta["meters"] = ["4/4", "3/4"]  # its 3/4 one-hot learnt, "past the 16th" not
    assert new_meter_columns(ckpt) == [first] + [first + i for i in range(2, len(METERS))]
    ckpt.meta["meters"] = ["4/4", "12/8"]  # 12/8 sets "past the 16th" too
    assert first not in new_meter_columns(ckpt) and first + METERS.index((12, 8)) not in new_meter_columns(ckpt)


def test_the_column_boost_is_a_learning_rate_for_those_columns_alone():
    import torch
    from drumd.engine.training.train import _ColumnBoost
    steps = {}
    for scale in (1.0, 30.0):
        torch.manual_seed(0)
        w = torch.nn.Parameter(torch.randn(4, 6))
        opt = torch.optim.AdamW([w], lr=1e-3, weight_decay=0.0)
        start = w.detach().clone()
        for i in range(3):  # a linear loss: the same gradients whatever the weights
            (w * torch.arange(24.0).reshape(4, 6) * (i + 1)).sum().backward()
            _ColumnBoost(w, [4, 5], scale).step(opt)
            opt.zero_grad()
        steps[scale] = w.detach() - start
    assert torch.equal(steps[30.0][:, :4], steps[1.0][:, :4])  # the other columns: bit for bit
    assert torch.allclose(steps[30.0][:, 4:], 30 * steps[1.0][:, 4:], rtol=1e-3)
    assert steps[1.0][:, 4:].abs().min() > 0


def last_weights(run) -> dict:
    """Every weight where the run stopped (last.pt: best.pt may be the starting point)."""
    import torch
    return {k: v.numpy() for k, v in torch.load(run / "last.pt", weights_only=True)["model"].items()}


def test_new_meter_lr_leaves_a_4_4_fine_tune_as_it_was_and_moves_a_new_meter(base, mine, tmp_path):
    """On 4/4 files the meter inputs are zero: new_meter_lr changes no other weight, bit for
    bit (the meter columns of this base, trained from scratch, are its random start: only
    weight decay moves them). With 3/4 files the 3/4 column moves, new_meter_lr times as far."""
    from drumd.engine.data.encoding import METERS
    from drumd.engine.training.train import new_meter_columns
    cols = new_meter_columns(load_checkpoint(base))
    start = np.array(load_checkpoint(base).weights["lstm.weight_ih_l0"])
    runs = {}
    for scale in (1, 30):
        r = finetune(base, mine, tmp_path / f"four{scale}", "--set", "max_iters=6", "--set", "eval_interval=3",
                     "--set", f"new_meter_lr={scale}", "--set", "patience=10")
        assert r.exit_code == 0, r.output
        runs[scale] = last_weights(tmp_path / f"four{scale}")
    first = "lstm.weight_ih_l0"
    other = np.ones(start.shape[1], bool)
    other[cols] = False
    for k in runs[1]:
        keep = np.ones(runs[1][k].shape[-1], bool)
        if k == first:
            keep[cols] = False
        assert np.array_equal(runs[1][k][..., keep], runs[30][k][..., keep]), k
    assert not np.array_equal(runs[1][first][:, other], start[:, other])  # it trained
    assert np.allclose(runs[30][first][:, cols], start[:, cols], rtol=1e-4, atol=0)
    waltzes = tmp_path / "waltzes"
    for i in range(3):
        write(waltzes / "waltz" / f"w{i}.mid", groove(meter=(3, 4), kicks=(0, 6 + i)), meter=(3, 4))
    moved = {}
    three = cols[METERS.index((3, 4))]
    for scale in (1, 30):
        r = finetune(base, waltzes, tmp_path / f"three{scale}", "--set", "max_iters=6", "--set",
                     "eval_interval=6", "--set", f"new_meter_lr={scale}", "--val-share", "0.34")
        assert r.exit_code == 0, r.output
        moved[scale] = np.abs(last_weights(tmp_path / f"three{scale}")[first][:, three] - start[:, three]).mean()
    assert moved[30] > 10 * moved[1] > 0


def test_select_on_all_keeps_the_best_with_velocity_and_timing(base, mine, tmp_path):
    """select_on=all: best.pt is the evaluation with the lowest event NLL + hits a 16th x
    velocity and timing NLL a hit on the held-out files; a value it does not know: one line."""
    from drumd.engine.data.library import load_library
    r = finetune(base, mine, tmp_path / "all", "--set", "max_iters=15", "--set", "eval_interval=5",
                 "--set", "select_on=all", "--set", "patience=10")
    assert r.exit_code == 0, r.output
    held = load_library(mine, "ezdrummer2", 10, None, 0.1, 1234).validation
    hits = sum(int((p.velocity > 0).sum()) for p in held) / sum(len(p) for p in held)
    rows = log_rows(tmp_path / "all")
    score = {int(r["iter"]): float(r["val_nll"]) + hits * float(r["val_expr"]) for r in rows}
    assert load_checkpoint(tmp_path / "all" / "best.pt").meta["iter"] == min(score, key=score.get)
    r = finetune(base, mine, tmp_path / "bad", "--set", "select_on=velocity")
    assert r.exit_code != 0 and "select_on 'velocity': expected one of events, all, auto" in r.output
    assert "Traceback" not in r.output


def test_the_run_says_which_iteration_it_kept(base, mine, tmp_path):
    """The closing lines name best.pt's iteration, or say the starting model was kept (here:
    learning rate 0, so no evaluation can beat it)."""
    r = finetune(base, mine, tmp_path / "still", "--set", "lr=0", "--set", "min_lr=0",
                 "--set", "max_iters=10", "--set", "eval_interval=5")
    assert r.exit_code == 0 and "kept the starting model" in r.output, r.output
    assert load_checkpoint(tmp_path / "still" / "best.pt").meta["iter"] == 0
    r = finetune(base, mine, tmp_path / "moved", "--set", "max_iters=10", "--set", "eval_interval=5",
                 "--set", "patience=10")
    kept = load_checkpoint(tmp_path / "moved" / "best.pt").meta["iter"]
    assert r.exit_code == 0 and (f"kept iteration {kept}:" in r.output if kept else
                                 "kept the starting model" in r.output), r.output


def test_a_finetune_selects_on_auto_by_default(base, mine, tmp_path):
    """Fine-tuning's default select_on is auto: best.pt is the evaluation Selection picks from
    the log's rows (the start first), and says what it was chosen on."""
    from drumd.engine.data.library import load_library
    from drumd.engine.training.selection import Selection
    r = finetune(base, mine, tmp_path / "auto", "--set", "max_iters=15", "--set", "eval_interval=5",
                 "--set", "patience=10")
    assert r.exit_code == 0, r.output
    held = load_library(mine, "ezdrummer2", 10, None, 0.1, 1234).validation
    hits = sum(int((p.velocity > 0).sum()) for p in held) / sum(len(p) for p in held)
    sel, chosen = Selection("auto", hits), None
    for row in log_rows(tmp_path / "auto"):
        if sel.judge(float(row["val_nll"]), float(row["val_expr"]), int(row["iter"])):
            chosen = int(row["iter"])
    best = load_checkpoint(tmp_path / "auto" / "best.pt")
    assert best.meta["iter"] == chosen and best.meta["selected_on"] == sel.on
    assert best.meta["train_config"]["select_on"] == "auto"


def test_expr_lr_is_the_expression_heads_learning_rate_alone(base, mine, tmp_path):
    """One iteration at expr_lr 10 against 1: every weight but the expression head's the same
    bit for bit, the expression head's change 10 times as large (AdamW's first step)."""
    start = {k: np.array(v) for k, v in load_checkpoint(base).weights.items()}
    runs = {}
    for scale in (1, 10):
        r = finetune(base, mine, tmp_path / f"x{scale}", "--set", "max_iters=1", "--set", f"expr_lr={scale}",
                     "--set", "weight_decay=0")
        assert r.exit_code == 0, r.output
        runs[scale] = last_weights(tmp_path / f"x{scale}")
    for k in runs[1]:
        if k == "style_emb.weight":
            continue  # its new row is not in the base
        if k.startswith("expr_head."):
            np.testing.assert_allclose(runs[10][k] - start[k], 10 * (runs[1][k] - start[k]), rtol=1e-3, atol=1e-6)
            assert np.abs(runs[1][k] - start[k]).max() > 0, k
        else:
            assert np.array_equal(runs[1][k], runs[10][k]), k
