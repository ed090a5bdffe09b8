"""Training end to end on a slice of the Groove MIDI Dataset: single process, resume, DDP, CLI."""
import csv
import math
import os
import subprocess
import sys

import mido
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main as drumd
from drumd.engine.model.checkpoint import load_checkpoint
from drumd.engine.training.train import TrainConfig, train

from engine_fixtures import TINY_MODEL, make_mini_gmd


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    return make_mini_gmd(tmp_path_factory.mktemp("gmd"))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def tiny_cfg(mini, out, **kw):
    return TrainConfig(data=str(mini), out=str(out), model=TINY_MODEL, batch_size=8, seq_len=32,
                       max_iters=30, eval_interval=10, warmup_iters=5, progress=False, threads=1, **kw)


def test_train_logs_and_checkpoints(mini, tmp_path):
    best = train(tiny_cfg(mini, tmp_path / "run"))
    ck = load_checkpoint(best)
    assert ck.config.hidden == 32 and ck.styles
    assert len(ck.meta["data_checksum"]) == 16 and ck.meta["val_nll"] > 0
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["iter"]) for r in rows] == [10, 20, 30]
    # It learns: 30 iterations take the tiny model from about 6.0 nats to 4.0-4.6 (train) and
    # 4.6-5.0 (validation) over seeds 0-2; a uniform guess over the 512 events is ln 512 = 6.24.
    train_nll = [float(r["train_nll"]) for r in rows]
    val_nll = [float(r["val_nll"]) for r in rows]
    assert train_nll[-1] < train_nll[0] - 0.5, train_nll
    assert val_nll[-1] < val_nll[0] and val_nll[-1] < math.log(512) - 0.5, val_nll


def test_resume_continues_the_log(mini, tmp_path):
    train(tiny_cfg(mini, tmp_path / "run"))
    cfg = tiny_cfg(mini, tmp_path / "run", resume=str(tmp_path / "run" / "last.pt"))
    cfg.max_iters = 50
    train(cfg)
    iters = [int(r["iter"]) for r in csv.DictReader(open(tmp_path / "run" / "log.csv"))]
    assert iters == [10, 20, 30, 40, 50]


def test_progress_bars_only_on_a_terminal(mini, tmp_path, capsys, monkeypatch):
    """progress unset: no tqdm bars in a redirected log (drumd train > log 2>&1), bars on a
    terminal (engine.progress.on_terminal, the check eval uses too)."""
    cfg = TrainConfig(data=str(mini), out=str(tmp_path / "run"), model=TINY_MODEL, batch_size=8,
                      seq_len=32, max_iters=4, eval_interval=2, warmup_iters=1, threads=1)
    train(cfg)
    err = capsys.readouterr().err
    assert "preprocess" not in err and "it/s" not in err and "%|" not in err, err
    monkeypatch.setattr("drumd.engine.training.train.on_terminal", lambda: True)
    cfg.out = str(tmp_path / "tty")
    train(cfg)
    err = capsys.readouterr().err
    assert "train:" in err and "it/s" in err, err  # (the data is cached by now: no preprocess)


def test_ddp_two_processes_on_cpu(mini, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "drumd.engine.training.train", "--set", f"data={mini}", f"out={tmp_path / 'ddp'}",
           "model={hidden: 32, layers: 1, event_embed: 8, head_hidden: 16}", "batch_size=4",
           "seq_len=32", "max_iters=6", "eval_interval=3", "warmup_iters=2", "progress=false"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    ck = load_checkpoint(tmp_path / "ddp" / "best.pt")
    assert ck.meta["world_size"] == 2


def test_bad_config_names_the_option(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("batch_size: 8\nlearning_rate: 0.1\n")
    r = CliRunner().invoke(drumd, ["train", "--config", str(cfg)])
    assert r.exit_code != 0 and "learning_rate" in r.output and "t.yaml" in r.output


def test_generate_cli_from_primer_and_styles(mini, tmp_path):
    best = train(tiny_cfg(mini, tmp_path / "run"))
    primer = next(mini.rglob("*.mid"))
    out = tmp_path / "out.mid"
    r = CliRunner().invoke(drumd, ["generate", str(out), "--checkpoint", str(best), "--primer", str(primer),
                                   "--primer-map", "roland-td", "--bars", "4", "--map", "ezdrummer2",
                                   "--seed", "1", "--density", "1"])
    assert r.exit_code == 0, r.output
    mid = mido.MidiFile(out)
    ons = [m for m in mid.tracks[0] if m.type == "note_on" and m.velocity > 0]
    offs = [m for m in mid.tracks[0] if m.type == "note_off"]
    assert ons and len(ons) == len(offs)
    assert sum(m.time for m in mid.tracks[0]) == 4 * 16 * 120  # exactly 4 bars of ticks
    r = CliRunner().invoke(drumd, ["generate", str(tmp_path / "all"), "--checkpoint", str(best),
                                   "--style", "all", "--bars", "2", "--seed", "2"])
    assert r.exit_code == 0, r.output
    assert sorted(p.stem for p in (tmp_path / "all").glob("*.mid")) == load_checkpoint(best).styles
    r = CliRunner().invoke(drumd, ["generate", str(out), "--checkpoint", str(best), "--style", "polka"])
    assert r.exit_code != 0 and "unknown style 'polka'" in r.output
