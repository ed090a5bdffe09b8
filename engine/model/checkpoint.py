"""One checkpoint holds everything generation needs: weights, model hparams, the encoding
version, the drum-class table, styles, the warm-up grooves, data checksum, metrics and code
version. Nothing is passed twice, so generation can never run with other hparams than training
(drums_rnn's trap).

A checkpoint is two files side by side, written together by `save_checkpoint`:

    best.pt           torch.save's archive: for training (fine-tuning) and `drumd eval`
    best.safetensors  the same weights (float32) and warm-up grooves as plain arrays, and the
                      rest as JSON in the header's metadata: what drumd plays from

Format 3 (meters) reads format 2 (4/4 only) too: its first LSTM layer gets zero weights for
the meter inputs (encoding.meter_bits, all zero in 4/4), so it plays 4/4 exactly as before.

`load_checkpoint` reads the .safetensors (either name may be given) with the safetensors
library: no pickle, and no torch, so playing (generate, serve, audition) needs neither torch
nor its 1.5 s import. Only a .pt with no .safetensors beside it (written before 2026-12) is
read with torch, when torch is installed; `python -m drumd.engine.model.checkpoint X.pt` writes its
.safetensors. The torch module (`Checkpoint.model`) is built only when asked for.
"""
from __future__ import annotations

import io
import json
import logging
import sys
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np

from drumd.engine.data.encoding import (DRUM_CLASSES, ENCODING_VERSION, METER_INPUTS, NUM_CLASSES,
                                        bar_steps, meter_name)
from drumd.engine.model.spec import ModelConfig, weight_shapes
from drumd.engine.sampling.warmup import split_key
from drumd.mappings.basics.errors import DrumdError
from drumd.mappings.basics.files import atomic_open

log = logging.getLogger(__name__)

FORMAT = "drumd-checkpoint"
FORMAT_VERSION = 3  # 3: meter inputs, warm-up banks per meter; 2: lookback velocity/offset and
# dynamic level inputs, warm-up bank (read still: 4/4 only, its meter inputs' weights zero)
READS = (2, 3)
SHIPPED = "drumd-gmd.pt"
PLAYER_SUFFIX = ".safetensors"
TRAIN_EXTRA = "pip install 'drumd[train]'"
# The warm-up bank's arrays as stored: (N, 32) events, (N, 32, 9) velocities and offsets.
BANK_DTYPES = {"events": np.int16, "velocity": np.uint8, "offset": np.float16}


class CheckpointError(DrumdError):
    """A checkpoint that cannot be read or used; one line naming the file."""


@dataclass
class Checkpoint:
    """A loaded checkpoint (load_checkpoint): model config, style names (style_index's order),
    weights as float32 arrays and the rest in `meta`."""
    config: ModelConfig
    styles: list[str]
    weights: dict[str, np.ndarray]  # DrumLSTM's state_dict as float32 arrays (weight_shapes)
    meta: dict = field(default_factory=dict)  # data checksum, metrics, train config, code
    # version; "meters": the meters it learnt ("3/4", ...); "warmup": the bank,
    # {bank key (warmup.bank_key: style, or "style@3/4"): {"events", "velocity", "offset"}}
    path: Path | None = None

    @property
    def meters(self) -> list[str]:
        """The meters its training data was in ("4/4", "3/4", ...): a checkpoint that does
        not say (format 2, before meters) learnt 4/4 only."""
        return list(self.meta.get("meters") or ["4/4"])

    @property
    def default_style(self) -> str:
        """The style played when none is asked for: a checkpoint trained on a player's folder
        plays its main style (meta["library"]["styles"], most bars first), the Groove MIDI
        Dataset's model rock, any other its first style."""
        mine = [s for s in (self.meta.get("library") or {}).get("styles") or [] if s in self.styles]
        return mine[0] if mine else "rock" if "rock" in self.styles else self.styles[0]

    def knows_meter(self, meter: tuple[int, int]) -> bool:
        """Whether its training data was in `meter` ((3, 4) -> "3/4" in `meters`)."""
        return meter_name(meter) in self.meters

    def style_index(self, style: str) -> int:
        """The style's index in `styles` (the model's style input). Raises CheckpointError naming the
        styles it knows for any other."""
        try:
            return self.styles.index(style)
        except ValueError:
            raise CheckpointError(f"unknown style {style!r}; this checkpoint knows: "
                                  f"{', '.join(self.styles)}") from None

    @cached_property
    def model(self):
        """The torch module (DrumLSTM, eval mode) with these weights: for training and eval.
        Imports torch; playing never asks for it (engine/sampling/sampler.py runs the LSTM in numpy)."""
        try:
            import torch
        except ImportError:
            raise CheckpointError(f"{self.path}: the PyTorch model needs torch: {TRAIN_EXTRA}") from None
        from drumd.engine.model.lstm import DrumLSTM
        model = DrumLSTM(self.config)
        model.load_state_dict({k: torch.from_numpy(np.array(v, np.float32)) for k, v in self.weights.items()})
        return model.eval()


def code_version() -> str:
    """The installed drumd's version, stored in checkpoints; "unknown" when not installed."""
    try:
        from importlib.metadata import version
        return version("drumd")
    except Exception:
        return "unknown"


def shipped_path() -> Path:
    """The shipped model's .pt inside the installed package (its .safetensors beside it)."""
    return Path(str(resources.files("drumd.checkpoints").joinpath(SHIPPED)))


def player_path(path: str | Path) -> Path:
    """The torch-free file of the checkpoint `path` (X.pt -> X.safetensors)."""
    path = Path(path)
    return path if path.suffix == PLAYER_SUFFIX else path.with_suffix(PLAYER_SUFFIX)


def _header(config: ModelConfig, styles: list[str], meta: dict) -> dict:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "encoding_version": ENCODING_VERSION,
            "drum_classes": [[n, list(p)] for n, p in DRUM_CLASSES], "model_config": config.to_dict(),
            "styles": list(styles), "meta": {k: v for k, v in meta.items() if k != "warmup"}}


def _player_bytes(config: ModelConfig, styles: list[str], weights: dict, meta: dict) -> bytes:
    """The .safetensors file: weights as "model.NAME", the warm-up bank as
    "warmup.KEY.events|velocity|offset" (KEY: warmup.bank_key, "rock" or "rock@3/4"),
    everything else as JSON under the metadata key "drumd"."""
    from safetensors.numpy import save
    arrays = {f"model.{k}": np.ascontiguousarray(np.asarray(v, np.float32)) for k, v in weights.items()}
    for style, clips in (meta.get("warmup") or {}).items():
        for k, dtype in BANK_DTYPES.items():
            arrays[f"warmup.{style}.{k}"] = np.ascontiguousarray(np.asarray(clips[k]).astype(dtype))
    header = json.dumps(_header(config, styles, meta), default=str)
    return save(arrays, metadata={"format": FORMAT, "drumd": header})


def save_checkpoint(path: Path, model, styles: list[str], meta: dict) -> None:
    """Write the checkpoint `path` (X.pt) and its torch-free X.safetensors beside it, from a
    DrumLSTM `model`; meta["warmup"] (optional) is engine.warmup's bank (numpy arrays or
    tensors). Each file is written to a temporary name and renamed, the .pt first, the
    .safetensors only once the .pt is whole: a crash or a full disk mid-write never leaves a
    half checkpoint, and a failed write leaves the old pair as it was."""
    import torch  # training writes checkpoints; playing only reads them
    path = Path(path)
    if path.suffix == PLAYER_SUFFIX:
        raise ValueError(f"{path}: name the .pt file; its {PLAYER_SUFFIX} is written beside it")
    meta = {"code_version": code_version(), **meta}
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    player = _player_bytes(model.cfg, styles, {k: v.float().numpy() for k, v in state.items()}, meta)
    payload = {**_header(model.cfg, styles, {}), "state_dict": state, "meta": dict(meta)}
    if "warmup" in meta:  # torch.load(weights_only=True) takes tensors, not numpy arrays
        payload["meta"]["warmup"] = {s: {k: torch.as_tensor(np.ascontiguousarray(np.asarray(v)))
                                         for k, v in clips.items()} for s, clips in meta["warmup"].items()}
    with atomic_open(player_path(path)) as fs:
        fs.write(player)
        fs.flush()  # a full disk shows here, before the .pt is replaced
        with atomic_open(path) as fp:
            torch.save(payload, fp)


def same_drum_classes(stored) -> bool:
    """Whether a checkpoint's stored drum-class table [[name, [GM pitch, ...]], ...] agrees
    with this drumd's (engine.encoding.DRUM_CLASSES): the same classes in the same order,
    and every pitch this drumd gives a class has that class there. The stored table may
    classify more pitches: checkpoints before #13 stored drums_rnn's whole table, whose hand
    percussion and non-GM pitches drumd now leaves out (none is in the training data)."""
    try:
        stored_class = {int(p): name for name, pitches in stored for p in pitches}
        names = [name for name, _ in stored]
    except (TypeError, ValueError):
        return False
    return (names == [n for n, _ in DRUM_CLASSES]
            and all(stored_class.get(p) == name for name, ps in DRUM_CLASSES for p in ps))


def _checkpoint(path: Path, header, weights: dict, bank: dict) -> Checkpoint:
    """Check what either file holds against this drumd; any mismatch is a CheckpointError naming `path`."""
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a drumd checkpoint (expected format {FORMAT!r})")
    version = header.get("format_version")
    if version not in READS:
        raise CheckpointError(f"{path}: checkpoint format {version}, this drumd reads "
                              f"{', '.join(map(str, READS))}")
    if header.get("encoding_version") != ENCODING_VERSION:
        raise CheckpointError(f"{path}: trained with encoding v{header.get('encoding_version')}, "
                              f"this drumd uses v{ENCODING_VERSION}; retrain or use a matching drumd")
    if not same_drum_classes(header.get("drum_classes")):
        raise CheckpointError(f"{path}: trained with a different drum-class table")
    try:
        cfg = ModelConfig.from_dict(header["model_config"])
        styles = [str(s) for s in header["styles"]]
        expected = weight_shapes(cfg)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: a damaged model config or style list ({e})") from e
    w0 = weights.get("lstm.weight_ih_l0")
    if version == 2 and w0 is not None and w0.ndim == 2:
        # before meter inputs: zero weights for them, so it plays 4/4 exactly as it did
        weights = {**weights, "lstm.weight_ih_l0": np.concatenate(
            [np.asarray(w0, np.float32), np.zeros((w0.shape[0], METER_INPUTS), np.float32)], axis=1)}
    got = {k: tuple(v.shape) for k, v in weights.items()}
    if got != expected or cfg.n_styles != len(styles):
        wrong = sorted(set(got) ^ set(expected)) or [k for k in expected if got[k] != expected[k]]
        what = wrong[0] if wrong else f"{len(styles)} styles for n_styles={cfg.n_styles}"
        raise CheckpointError(f"{path}: weights do not match the stored model config ({what})")
    for key, clips in bank.items():
        shapes = {k: tuple(np.shape(clips.get(k))) for k in BANK_DTYPES}
        n = shapes["events"][:1]
        try:
            style, meter = split_key(key)
            steps = 2 * bar_steps(meter)
        except ValueError:
            style, steps = None, 0
        if (style not in styles or shapes["events"] != n + (steps,)
                or not shapes["velocity"] == shapes["offset"] == n + (steps, NUM_CLASSES)):
            raise CheckpointError(f"{path}: a damaged warm-up groove bank (style {key!r})")
    meta = dict(header.get("meta") or {})
    if bank:
        meta["warmup"] = bank
    return Checkpoint(cfg, styles, {k: np.asarray(v, np.float32) for k, v in weights.items()}, meta, path)


def _load_player(path: Path) -> Checkpoint:
    """Read a .safetensors checkpoint (no torch, no pickle)."""
    from safetensors import SafetensorError, safe_open
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read checkpoint ({e.strerror})") from e
    try:
        with safe_open(path, framework="numpy") as f:
            meta = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        what = "the file is empty" if not head else str(e).strip().split("\n")[0]
        raise CheckpointError(f"{path}: not a drumd checkpoint: not a readable safetensors file ({what})") from e
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a drumd checkpoint (a safetensors file without drumd's "
                              f"header; expected format {FORMAT!r})")
    try:
        header = json.loads(meta.get("drumd", ""))
    except ValueError as e:
        raise CheckpointError(f"{path}: not a drumd checkpoint: a damaged header ({e})") from e
    weights, bank = {}, {}
    for name, a in arrays.items():
        kind, _, rest = name.partition(".")
        if kind == "model":
            weights[rest] = a
        elif kind == "warmup" and "." in rest:
            style, key = rest.rsplit(".", 1)
            bank.setdefault(style, {})[key] = a
    return _checkpoint(path, header, weights, bank)


def _unreadable(raw: bytes, e: Exception) -> str:
    """Why torch.load refused `raw`, as a whole sentence (torch's own text runs to paragraphs)."""
    if not raw:
        return "the file is empty."
    if not raw.startswith(b"PK\x03\x04"):  # torch.save writes a zip archive
        head = raw[:16]
        what = "text" if all(32 <= b < 127 or b in b"\t\r\n" for b in head) else "other data"
        return (f"it starts with {what} ({raw[:8]!r}), not the zip archive that torch.save "
                "writes (a .pt file from `drumd train`).")
    first = str(e).strip().split("\n")[0]
    first = first.split(". ")[0].rstrip(".")  # torch's first sentence only
    return f"a damaged or cut-off PyTorch file ({type(e).__name__}: {first})."


def load_torch_checkpoint(path: str | Path) -> Checkpoint:
    """Read a .pt file itself with torch (weights_only: no arbitrary pickle), ignoring any
    .safetensors beside it: for a .pt written before the torch-free form, and for export."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read checkpoint ({e.strerror})") from e
    try:
        import torch
    except ImportError:
        raise CheckpointError(f"{path}: no {player_path(path).name} beside it, the torch-free form "
                              f"drumd plays from; reading the PyTorch file needs torch: {TRAIN_EXTRA}") from None
    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: not a drumd checkpoint: {_unreadable(raw, e)}") from e
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: not a drumd checkpoint (expected format {FORMAT!r})")
    meta = dict(payload.get("meta") or {})
    try:
        weights = {k: v.detach().float().numpy() for k, v in dict(payload.get("state_dict") or {}).items()}
        bank = {s: {k: np.asarray(v) for k, v in clips.items()} for s, clips in (meta.pop("warmup", None) or {}).items()}
    except (AttributeError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: weights do not match the stored model config ({e})") from e
    return _checkpoint(path, {**payload, "meta": meta}, weights, bank)


def load_checkpoint(path: str | Path | None = None) -> Checkpoint:
    """Load a checkpoint for playing or evaluating (None: the shipped one), from X.safetensors
    whether `path` names it or the X.pt beside it; without torch. Only a .pt with no
    .safetensors beside it is read with torch (load_torch_checkpoint). Any problem is one
    CheckpointError naming the file."""
    path = Path(path) if path is not None else shipped_path()
    player = player_path(path)
    if path == player or player.exists():
        return _load_player(player)
    ckpt = load_torch_checkpoint(path)
    log.warning("%s: read with torch, as it has no %s beside it (`python -m drumd.engine.model.checkpoint "
                "%s` writes it: drumd then starts without torch)", path, player.name, path)
    return ckpt


def export_player(path: str | Path) -> Path:
    """Write the torch-free X.safetensors of the checkpoint X.pt (written before it existed);
    returns its path. Needs torch."""
    ckpt = load_torch_checkpoint(path)
    out = player_path(path)
    data = _player_bytes(ckpt.config, ckpt.styles, ckpt.weights, ckpt.meta)
    with atomic_open(out) as f:
        f.write(data)
    return out


if __name__ == "__main__":  # python -m drumd.engine.model.checkpoint X.pt [Y.pt ...]
    if len(sys.argv) < 2:
        sys.exit("usage: python -m drumd.engine.model.checkpoint CHECKPOINT.pt ...  (writes CHECKPOINT.safetensors beside each)")
    for arg in sys.argv[1:]:
        try:
            print(f"wrote {export_player(arg)}")
        except (CheckpointError, OSError) as e:
            sys.exit(f"Error: {e}")
