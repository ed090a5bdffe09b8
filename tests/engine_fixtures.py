"""Shared engine test fixtures: a small slice of the Groove MIDI Dataset and a tiny model."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from drumd.engine.data.encoding import NUM_CLASSES, Performance

GMD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gmd" / "groove"


def require_gmd() -> Path:
    if not (GMD / "info.csv").is_file():
        pytest.skip(f"Groove MIDI Dataset not found at {GMD}")
    return GMD


def make_mini_gmd(dest: Path, per_split: int = 6) -> Path:
    """Copy a few files per split (beats and fills, several styles) with their info.csv rows."""
    src = require_gmd()
    with open(src / "info.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    chosen, counts = [], {}
    for r in rows:
        if counts.get(r["split"], 0) < per_split and float(r["duration"]) < 40:
            chosen.append(r)
            counts[r["split"]] = counts.get(r["split"], 0) + 1
    for r in chosen:
        (dest / r["midi_filename"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / r["midi_filename"], dest / r["midi_filename"])
    with open(dest / "info.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(chosen)
    return dest


TINY_MODEL = {"hidden": 32, "layers": 1, "event_embed": 8, "head_hidden": 16}


KICK, SNARE, HAT = 1, 2, 4  # event bits of hand-made grooves


def clip(events, velocity=100, offset=0.0) -> Performance:
    """A Performance of events; velocity/offset: a number, or (T, 9) arrays (kept where hits)."""
    events = np.asarray(events, np.int16)
    bits = ((events[:, None] >> np.arange(NUM_CLASSES)) & 1).astype(bool)
    vel = np.broadcast_to(np.asarray(velocity, np.float64), bits.shape) * bits
    off = np.broadcast_to(np.asarray(offset, np.float64), bits.shape) * bits
    return Performance(events, vel.astype(np.uint8), off.astype(np.float32))


def rock_bar() -> list[int]:
    """One bar of events: hats on every 16th, kick on 1 and 3, snare on 2 and 4."""
    bar = [HAT] * 16
    for s in (0, 8):
        bar[s] |= KICK
    for s in (4, 12):
        bar[s] |= SNARE
    return bar
