"""Playing needs no torch (#16): a checkpoint is written as X.pt (training, eval) and
X.safetensors (what drumd plays from, read without torch or pickle); the player's commands run
with torch unimportable, and both files play the same notes for a seed."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file

from drumd.engine.data.encoding import quantize_hits
from drumd.engine.model.checkpoint import (CheckpointError, export_player, load_checkpoint,
                                           load_torch_checkpoint, player_path, save_checkpoint,
                                           shipped_path)
from drumd.engine.model.lstm import DrumLSTM, ModelConfig
from drumd.engine.model.spec import weight_shapes
from drumd.engine.sampling.generate import generate
from drumd.engine.sampling.sampler import Controls
from drumd.engine.sampling.warmup import bank_to_meta, build_bank

from engine_fixtures import TINY_MODEL

STYLES = ["funk", "rock"]

# Runs drumd (or code) in a fresh interpreter in which torch and matplotlib cannot be imported,
# as in the player's install, and says whether they were.
NO_TORCH = textwrap.dedent("""
    import sys
    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "matplotlib"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, NotInstalled())
""")


def run_without_torch(args=None, code=None, cwd=None):
    if code is None:
        code = f"sys.argv = ['drumd'] + {list(args)!r}\nfrom drumd.daemon.cli import main\nmain()"
    return subprocess.run([sys.executable, "-c", NO_TORCH + code], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def beat(style, bars=6):
    onsets = [(t, 42, 80) for t in range(0, 16 * bars, 2)]
    onsets += [(t, 36, 110) for t in range(0, 16 * bars, 8)]
    onsets += [(t, 38, 115) for t in range(4, 16 * bars, 8)]
    p = quantize_hits(onsets)
    p.style, p.bpm = style, 100.0
    return p


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(1)
    model = DrumLSTM(ModelConfig(n_styles=2, **{**TINY_MODEL, "layers": 2}))
    bank = build_bank([beat("funk"), beat("rock")], STYLES)
    path = tmp_path_factory.mktemp("ck") / "best.pt"
    save_checkpoint(path, model, STYLES, {"warmup": bank_to_meta(bank), "val_nll": 1.5})
    return path, model, bank


def test_a_checkpoint_is_written_as_pt_and_safetensors(saved):
    path, model, bank = saved
    assert sorted(p.name for p in path.parent.iterdir()) == ["best.pt", "best.safetensors"]
    arrays = load_file(player_path(path))  # plain arrays: no pickle anywhere in the file
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(arrays[f"model.{k}"], v.numpy())
    for k, dtype in (("events", np.int16), ("velocity", np.uint8), ("offset", np.float16)):
        assert arrays[f"warmup.rock.{k}"].dtype == dtype
        np.testing.assert_array_equal(arrays[f"warmup.rock.{k}"], bank["rock"][k])
    ckpt = load_checkpoint(path)  # the .pt's name reads the .safetensors beside it
    assert ckpt.path == player_path(path) and ckpt.styles == STYLES
    assert ckpt.meta["val_nll"] == 1.5 and ckpt.meta["code_version"]
    assert set(ckpt.meta["warmup"]) == set(STYLES)


def test_weight_shapes_are_the_torch_modules():
    for cfg in (ModelConfig(), ModelConfig(n_styles=3, **TINY_MODEL), ModelConfig(lookback=(16,))):
        assert weight_shapes(cfg) == {k: tuple(v.shape) for k, v in DrumLSTM(cfg).state_dict().items()}


def same_steps(a, b):
    return [[(h.pitch, h.velocity, h.offset) for h in s.hits] for s in a] == \
           [[(h.pitch, h.velocity, h.offset) for h in s.hits] for s in b]


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_both_files_play_the_same_notes(saved, which):
    path = saved[0] if which == "tiny" else shipped_path()
    from_pt, from_st = load_torch_checkpoint(path), load_checkpoint(path)
    assert from_pt.path.suffix == ".pt" and from_st.path.suffix == ".safetensors"
    assert from_pt.config == from_st.config and from_pt.styles == from_st.styles
    for k, w in from_pt.weights.items():
        np.testing.assert_array_equal(w, from_st.weights[k])
    for style in ("rock", "funk"):
        a = generate(from_pt, 4, style=style, seed=5, controls=Controls(temperature=0.9))
        b = generate(from_st, 4, style=style, seed=5, controls=Controls(temperature=0.9))
        assert sum(len(s.hits) for s in a) > 0 and same_steps(a, b)
    # and the torch module built from the .safetensors is the trained one
    x = from_pt.model.state_dict()
    assert all(torch.equal(x[k], v) for k, v in from_st.model.state_dict().items())


def test_a_failed_write_keeps_the_old_pair(saved, tmp_path, monkeypatch):
    _, model, _ = saved
    target = tmp_path / "keep.pt"
    target.write_bytes(b"the user's old checkpoint")
    player_path(target).write_bytes(b"its old safetensors")

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(target, model, STYLES, {})
    assert target.read_bytes() == b"the user's old checkpoint"
    assert player_path(target).read_bytes() == b"its old safetensors"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.pt", "keep.safetensors"]


def test_an_old_pt_alone_is_read_with_torch_and_can_be_exported(saved, tmp_path, caplog):
    path = tmp_path / "old.pt"
    path.write_bytes(saved[0].read_bytes())
    ckpt = load_checkpoint(path)
    assert ckpt.path == path and "old.safetensors" in caplog.text
    assert export_player(path) == tmp_path / "old.safetensors"
    again = load_checkpoint(path)
    assert again.path == tmp_path / "old.safetensors" and again.styles == ckpt.styles
    export = [sys.executable, "-m", "drumd.engine.model.checkpoint"]
    (tmp_path / "cli.pt").write_bytes(saved[0].read_bytes())
    r = subprocess.run(export + [str(tmp_path / "cli.pt")], capture_output=True, text=True)
    assert r.returncode == 0 and load_checkpoint(tmp_path / "cli.safetensors").styles == STYLES
    (tmp_path / "junk.pt").write_text("junk")
    r = subprocess.run(export + [str(tmp_path / "junk.pt")], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.startswith(f"Error: {tmp_path / 'junk.pt'}: not a drumd")
    assert not (tmp_path / "junk.safetensors").exists()
    # without torch: one line naming the file and what to install
    path2 = tmp_path / "alone.pt"
    path2.write_bytes(saved[0].read_bytes())
    r = run_without_torch(["generate", str(tmp_path / "g.mid"), "--checkpoint", str(path2)])
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"{path2}: no alone.safetensors beside it" in r.stderr
    assert "pip install 'drumd[train]'" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def damaged(saved, tmp_path):
    """{name: (file bytes, what the one-line error must say)}"""
    raw = player_path(saved[0]).read_bytes()
    arrays = load_file(player_path(saved[0]))
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, foreign)
    missing = dict(arrays)
    del missing["model.event_head.bias"]
    save_file(missing, tmp_path / "short.safetensors",
              metadata=__import__("safetensors").safe_open(player_path(saved[0]), "numpy").metadata())
    return {"empty": (b"", "the file is empty"),
            "cut": (raw[: len(raw) // 2], "not a readable safetensors file"),
            "text": (b"hello, this is not a model at all", "not a readable safetensors file"),
            "foreign": (foreign.read_bytes(), "without drumd's header"),
            "short": ((tmp_path / "short.safetensors").read_bytes(), "event_head.bias")}


def test_a_damaged_safetensors_is_one_line_naming_it(saved, tmp_path):
    for name, (data, says) in damaged(saved, tmp_path).items():
        bad = tmp_path / f"bad-{name}.safetensors"
        bad.write_bytes(data)
        with pytest.raises(CheckpointError, match=f"bad-{name}.safetensors: .*{says}"):
            load_checkpoint(bad)
        # beside a .pt, the .pt's name reads it too (and says which file is damaged)
        (tmp_path / f"bad-{name}.pt").write_bytes(saved[0].read_bytes())
        with pytest.raises(CheckpointError, match=f"bad-{name}.safetensors: "):
            load_checkpoint(tmp_path / f"bad-{name}.pt")
    with pytest.raises(CheckpointError, match="nothing.safetensors: cannot read"):
        load_checkpoint(tmp_path / "nothing.safetensors")
    r = run_without_torch(["generate", str(tmp_path / "g.mid"), "--checkpoint",
                           str(tmp_path / "bad-cut.safetensors")])
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        r.stderr.strip()] and "bad-cut.safetensors: not a drumd checkpoint" in r.stderr


def test_the_player_commands_run_without_torch(tmp_path):
    out = tmp_path / "g.mid"
    r = run_without_torch(["generate", str(out), "--bars", "2", "--style", "funk", "--seed", "3"])
    assert r.returncode == 0, r.stderr
    assert "2 bars" in r.stdout and out.stat().st_size > 100
    for args in (["maps", "list"], ["maps", "show", "ezdrummer2"], ["serve", "--help"],
                 ["audition", "--help"], ["render", str(out), str(tmp_path / "g.wav")],
                 ["remap", str(out), str(tmp_path / "r.mid"), "--from", "gm", "--to", "ezdrummer2"]):
        r = run_without_torch(args)
        assert r.returncode == 0, (args, r.stderr)
    assert (tmp_path / "g.wav").stat().st_size > 1000 and (tmp_path / "r.mid").is_file()


def test_serve_and_audition_load_and_play_without_torch():
    """What serve and audition import and do before they play: every module, the shipped
    model, a bar of steps (their ports and audio devices are tested on JACK elsewhere)."""
    code = textwrap.dedent("""
        from drumd.daemon.cli import audio as audio_cli
        from drumd.daemon.cli import serve as commands
        from drumd.daemon.midi import ports
        from drumd.daemon.play import record
        from drumd.daemon.play import session
        from drumd.daemon.play import status
        from drumd.daemon.play import voicing
        from drumd.daemon.sound import audio
        from drumd.daemon.sound import guitar
        from drumd.daemon.sound import synth
        from drumd.engine.model.checkpoint import load_checkpoint
        from drumd.engine.sampling.sampler import Controls, Sampler
        s = Sampler(load_checkpoint(None), seed=1)
        s.reset(style="rock", bpm=120, step_index=32)
        hits = sum(len(s.step(Controls()).hits) for _ in range(16))
        assert hits > 4, hits
        assert len(audio_cli.groove_hits("funk", 100.0, 1, 2)) > 4
        print("torch" in sys.modules, "matplotlib" in sys.modules)
    """)
    r = run_without_torch(code=code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("command,extra", [("train", "train"), ("eval", "eval")])
def test_train_and_eval_without_torch_say_what_to_install(tmp_path, command, extra):
    r = run_without_torch([command, "--out", str(tmp_path / "o")])
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == (f"Error: drumd {extra} needs torch, which the player's install "
                                f"leaves out: pip install 'drumd[{extra}]'")
