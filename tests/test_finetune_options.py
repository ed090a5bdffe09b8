"""Fine-tuning's measured options (#14): `freeze` leaves named weights as they were, `anchor`
pulls every weight toward its start (L2-SP), a fine-tune may take its own dropout, and
`--minutes` counts from the command's start (loading the data counts). Tiny models: seconds."""
import time

import numpy as np

from drumd.engine.model.checkpoint import load_checkpoint
from drumd.engine.training.train import TrainConfig, train

from engine_fixtures import TINY_MODEL
from test_train_finetune import base, finetune, log_rows, mine  # noqa: F401 (fixtures)


def left(run):
    """{weight name: array} of the model as training left it (last.pt; best.pt may be the start)."""
    import torch
    return {k: v.numpy() for k, v in torch.load(run / "last.pt", weights_only=True)["model"].items()}


def moved(old, new: dict, prefix=""):
    """Total absolute change of the weights named `prefix`... (the style rows left out: the
    fine-tune adds one)."""
    return sum(float(np.abs(new[k] - old.weights[k]).sum()) for k in old.weights
               if k.startswith(prefix) and k != "style_emb.weight")


def test_frozen_weights_stay_as_they_were(base, mine, tmp_path):
    r = finetune(base, mine, tmp_path / "ft", "--set", "max_iters=6", "--set", "eval_interval=3",
                 "--set", "freeze=[lstm]", "--set", "patience=100")
    assert r.exit_code == 0, r.output
    old, new = load_checkpoint(base), left(tmp_path / "ft")
    assert moved(old, new, "lstm") == 0 and moved(old, new, "event_head") > 0


def test_an_unknown_frozen_part_is_one_line(base, mine, tmp_path):
    r = finetune(base, mine, tmp_path / "ft", "--set", "max_iters=2", "--set", "freeze=[lsmt]")
    assert r.exit_code == 1 and "Traceback" not in r.output
    (line,) = r.output.strip().splitlines()[-1:]
    assert "freeze: 'lsmt' names no weight of the model" in line and "lstm" in line, r.output


def test_the_anchor_holds_weights_near_their_start(base, mine, tmp_path):
    """Same run, anchor 0 and anchor 100: the anchored weights move far less from the base."""
    dist = {}
    for a in (0, 100):
        run = tmp_path / f"a{a}"
        r = finetune(base, mine, run, "--set", "max_iters=6", "--set", "eval_interval=6",
                     "--set", f"anchor={a}", "--set", "weight_decay=0", "--set", "patience=100",
                     "--set", "lr=0.01")
        assert r.exit_code == 0, r.output
        rows = log_rows(run)
        assert [int(x["iter"]) for x in rows] == [0, 6]
        dist[a] = moved(load_checkpoint(base), left(run))
    assert dist[100] < 0.5 * dist[0], dist


def test_a_finetune_may_take_its_own_dropout(base, mine, tmp_path):
    r = finetune(base, mine, tmp_path / "ft", "--set", "max_iters=2", "--set", "eval_interval=2",
                 "--set", "model={dropout: 0.5}")
    assert r.exit_code == 0, r.output
    assert load_checkpoint(tmp_path / "ft" / "best.pt").config.dropout == 0.5


def test_minutes_count_from_the_commands_start(mine, tmp_path):
    """A run that started (by its clock) an hour ago, capped at one minute: one iteration, then
    the closing evaluation, whatever loading the data took."""
    cfg = TrainConfig(data=str(mine), map="ezdrummer2", out=str(tmp_path / "run"), model=TINY_MODEL,
                      batch_size=8, seq_len=32, max_iters=1000, eval_interval=500, warmup_iters=2,
                      max_minutes=1.0, progress=False, threads=1)
    train(cfg, started=time.time() - 3600)
    (row,) = log_rows(tmp_path / "run")
    assert int(row["iter"]) == 1 and float(row["seconds"]) >= 3600
