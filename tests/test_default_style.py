"""A checkpoint plays its player's style when asked for none (#14): a model fine-tuned on a
player's folder plays the folder's main style (most bars), in `drumd generate` and in the
Sampler that `drumd serve` plays through; the shipped model plays rock. Tiny fine-tune: seconds."""
import json

import pytest
from click.testing import CliRunner

from drumd.daemon.cli import config
from drumd.daemon.cli import main as drumd
from drumd.engine.model.checkpoint import load_checkpoint
from drumd.engine.sampling.sampler import Sampler

from engine_fixtures import TINY_MODEL
from test_train_folder import RIDE, groove, write

TINY = ["--set", f"model={json.dumps(TINY_MODEL)}", "--set", "batch_size=8", "--set", "seq_len=32",
        "--set", "warmup_iters=2", "--set", "progress=false", "--set", "threads=1",
        "--set", "max_iters=4", "--set", "eval_interval=2"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny model trained from scratch on rock (two 4-bar files) and zydeco (three 8-bar ride
    files: the most bars, and a name that sorts after rock, so neither the first style nor
    rock is the answer by chance), and one fine-tuned from it on a folder of waltz (four 8-bar
    3/4 files) and rock (two)."""
    tmp = tmp_path_factory.mktemp("style")
    loops = tmp / "loops"
    for i in range(2):
        write(loops / "rock" / f"r{i}.mid", groove(kicks=(0, 8 - i)))
    for i in range(3):
        write(loops / "zydeco" / f"z{i}.mid", groove(bars=8, cymbal=RIDE, kicks=(0, 7 + i), swing=50))
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp / "cache"))
    scratch = tmp / "scratch"
    r = CliRunner().invoke(drumd, ["train", "--data", str(loops), "--map", "ezdrummer2", "--out", str(scratch), *TINY])
    assert r.exit_code == 0, r.output
    more = tmp / "more"
    for i in range(4):
        write(more / "waltz" / f"w{i}.mid", groove(bars=8, meter=(3, 4), kicks=(0,)), meter=(3, 4))
    write(more / "rock" / "r.mid", groove(kicks=(0, 6, 8)))
    write(more / "rock" / "r2.mid", groove(kicks=(0, 8)))
    ft = tmp / "ft"
    r = CliRunner().invoke(drumd, ["train", "--data", str(more), "--map", "ezdrummer2", "--out", str(ft),
                                   "--finetune", str(scratch / "best.pt"), *TINY])
    assert r.exit_code == 0, r.output
    mp.undo()
    return scratch / "best.pt", ft / "best.pt", tmp


def test_the_checkpoint_records_the_library_styles_by_bars(runs):
    scratch, ft, _ = runs
    s = load_checkpoint(scratch)
    assert s.meta["library"]["styles"] == ["zydeco", "rock"]  # 24 bars, 8 bars
    assert s.styles == ["rock", "zydeco"] and s.default_style == "zydeco"
    f = load_checkpoint(ft)
    # fine-tuned: the base's styles kept, the new one added; its own folder's main style plays
    assert f.styles == ["rock", "zydeco", "waltz"] and f.meta["library"]["styles"] == ["waltz", "rock"]
    assert f.default_style == "waltz"
    assert load_checkpoint(None).default_style == "rock"  # the shipped model: no library


@pytest.mark.parametrize("which, style", [(0, "zydeco"), (1, "waltz"), (None, "rock")])
def test_generate_and_the_players_sampler_take_it_without_a_style(runs, which, style, tmp_path):
    path = None if which is None else runs[which]
    out = tmp_path / "g.mid"
    args = ["generate", str(out), "--bars", "1", "--seed", "1"] + ([] if path is None else ["--checkpoint", str(path)])
    r = CliRunner().invoke(drumd, args)
    assert r.exit_code == 0 and f"style {style}," in r.output, r.output
    sampler = Sampler(load_checkpoint(path), seed=1)
    sampler.reset()  # what `drumd serve` without --style asks for
    assert sampler.style_name == style


def test_serve_leaves_the_style_to_the_checkpoint():
    """serve's setting is None unless given (daemon/cli/serve.run asks the checkpoint); the
    real-stack run is tests/test_library_jack.py."""
    assert config.defaults()["style"] is None
    assert config.resolve(None, {"style": "funk"})["style"] == "funk"
