"""One checkpoint file holds everything generation needs: weights, model hparams, the encoding
version, the drum-class table, styles, data checksum, metrics and code version. Nothing is
passed twice, so generation can never run with other hparams than training (drums_rnn's trap).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch

from drumd.mappings.files import atomic_open
from drumd.engine.encoding import DRUM_CLASSES, ENCODING_VERSION
from drumd.engine.model import DrumLSTM, ModelConfig

FORMAT = "drumd-checkpoint"
FORMAT_VERSION = 2  # 2: lookback velocity/offset and dynamic level inputs; warm-up bank
SHIPPED = "drumd-gmd.pt"


class CheckpointError(Exception):
    pass


@dataclass
class Checkpoint:
    model: DrumLSTM
    styles: list[str]
    meta: dict = field(default_factory=dict)  # data checksum, metrics, train config, code version
    path: Path | None = None

    @property
    def config(self) -> ModelConfig:
        return self.model.cfg

    def style_index(self, style: str) -> int:
        try:
            return self.styles.index(style)
        except ValueError:
            raise CheckpointError(f"unknown style {style!r}; this checkpoint knows: "
                                  f"{', '.join(self.styles)}") from None


def code_version() -> str:
    try:
        from importlib.metadata import version
        return version("drumd")
    except Exception:
        return "unknown"


def shipped_path() -> Path:
    return Path(str(resources.files("drumd.checkpoints").joinpath(SHIPPED)))


def save_checkpoint(path: Path, model: DrumLSTM, styles: list[str], meta: dict) -> None:
    """Write atomically: a crash mid-write never leaves a half checkpoint under `path`."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "encoding_version": ENCODING_VERSION,
        "drum_classes": [[n, list(p)] for n, p in DRUM_CLASSES],
        "model_config": model.cfg.to_dict(),
        "styles": list(styles),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "meta": {"code_version": code_version(), **meta},
    }
    with atomic_open(path) as f:
        torch.save(payload, f)


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


def load_checkpoint(path: str | Path | None = None) -> Checkpoint:
    """Load a checkpoint (None: the shipped one). Any problem is a CheckpointError naming the file."""
    path = Path(path) if path is not None else shipped_path()
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read checkpoint ({e.strerror})") from e
    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: not a drumd checkpoint: {_unreadable(raw, e)}") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a drumd checkpoint (expected format {FORMAT!r})")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {payload.get('format_version')}, "
                              f"this drumd reads {FORMAT_VERSION}")
    if payload.get("encoding_version") != ENCODING_VERSION:
        raise CheckpointError(f"{path}: trained with encoding v{payload.get('encoding_version')}, "
                              f"this drumd uses v{ENCODING_VERSION}; retrain or use a matching drumd")
    if not same_drum_classes(payload.get("drum_classes")):
        raise CheckpointError(f"{path}: trained with a different drum-class table")
    try:
        cfg = ModelConfig.from_dict(payload["model_config"])
        model = DrumLSTM(cfg)
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"{path}: weights do not match the stored model config ({e})") from e
    model.eval()
    return Checkpoint(model, list(payload["styles"]), dict(payload.get("meta", {})), path)
