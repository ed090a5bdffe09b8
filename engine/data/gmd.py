"""Groove MIDI Dataset -> Performances, cached.

Reads `info.csv` for the split and labels, translates the Roland TD-11 pitches to GM through
`drumd.mappings` (hi-hat openness from CC4), quantizes to 16th steps keeping velocity and
microtiming, each file in its own meter (its time signature: 4/4, 3/4, 6/8, 5/4, 5/8 there;
encoding.METERS). The parsed dataset is cached, keyed by the data's checksum and ENCODING_VERSION,
so preprocessing runs once.
"""
from __future__ import annotations

import csv
import logging
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from drumd.engine.data.encoding import ENCODING_VERSION, METERS, NUM_CLASSES, Performance, quantize_hits
from drumd.mappings.basics.errors import DrumdError
from drumd.mappings.basics.files import atomic_open
from drumd.mappings.basics.grid import ticks_to_steps
from drumd.mappings.basics.midifile import MidiFileError, read_drum_notes

SPLITS = ("train", "validation", "test")
log = logging.getLogger(__name__)
DATA_MAP = "roland-td"  # the Groove MIDI Dataset was played on a Roland TD-11


class DataError(DrumdError):
    """Training or evaluation data that cannot be used; one line naming the folder or file."""


README_SECTION = "see README 'Train your own model'"


def default_data_dir() -> Path:
    """$DRUMD_DATA, else ../shared/data/gmd beside a source checkout (where the dev set-up
    keeps it). Installed (from a wheel) there is no such place: a DataError asks for --data."""
    env = os.environ.get("DRUMD_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]  # engine/data/gmd.py -> the repo
    if (repo / "pyproject.toml").is_file():
        return repo.parent / "shared" / "data" / "gmd"
    raise DataError("no Groove MIDI Dataset given: pass --data PATH/TO/groove or set "
                    f"$DRUMD_DATA ({README_SECTION})")


def find_info_csv(data_dir: Path) -> Path:
    """Accept the folder that holds info.csv or its parent (the zip unpacks to groove/)."""
    for p in (data_dir / "info.csv", data_dir / "groove" / "info.csv"):
        if p.is_file():
            return p
    raise DataError(f"{data_dir}: no info.csv here or in groove/ — expected the Groove MIDI "
                    f"Dataset (groove-v1.0.0-midionly.zip unpacked); {README_SECTION}")


class FileGrid(NamedTuple):
    """A MIDI file's own bar lines: tick 0 is a bar line, bars of the first time signature."""
    ticks_per_beat: int
    end_tick: int         # the last end_of_track (max over tracks)
    numerator: int = 4    # first time_signature meta; 4/4 without one
    denominator: int = 4
    change: tuple[int, int, int] | None = None  # the first later meter, (tick, num, den), if any


def read_onsets(path: Path, to_gm: Callable[[int, int | None], int | None], grid: bool = False,
                channel: int = 10, channel_option: str = "--channel"):
    """(time in 16th steps, GM pitch, velocity) for each drum note-on of a MIDI file's drum
    channel (1-16; 10 by default, where the Groove MIDI Dataset has its drums).

    Read through drumd.mappings.basics.midifile.read_drum_notes (the one reader of drum hits). Times
    come from ticks (exact, tempo-independent). to_gm(note, cc4) translates the file's drum
    map; the channel's last CC4 (hi-hat pedal) value at the note is passed along.
    Returns (onsets, bpm of the first tempo event), and with grid=True (onsets, bpm, FileGrid).
    Raises DataError naming the file for anything read_drum_notes refuses.
    """
    try:
        f = read_drum_notes(path, channel, channel_option)
    except MidiFileError as e:
        raise DataError(str(e)) from None
    onsets = []
    for n in f.notes:
        gm = to_gm(n.note, n.cc4)
        if gm is not None:
            onsets.append((ticks_to_steps(n.tick, f.ticks_per_beat), gm, n.velocity))
    onsets.sort()
    if not grid:
        return onsets, f.bpm
    change = next((m for m in f.meters if m[1:] != tuple(f.meter)), None)
    return onsets, f.bpm, FileGrid(f.ticks_per_beat, f.end_tick, *f.meter, change)


def roland_to_gm() -> Callable[[int, int | None], int | None]:
    """to_gm(note, cc4) for read_onsets: the Groove MIDI Dataset's Roland TD-11 notes as GM (the
    roland-td map, hi-hat openness from CC4), None for a note GM has nothing for."""
    from drumd.mappings import load_map
    m = load_map(DATA_MAP)
    return lambda note, cc4: m.to_gm(note, cc4=cc4)


@dataclass
class Record:
    """One row of the Groove MIDI Dataset's info.csv; bpm in quarter notes per minute."""
    path: Path
    split: str
    style: str  # primary genre, e.g. "funk" of "funk/groove1"
    fill: bool
    bpm: float
    drummer: str


def read_index(data_dir: Path) -> list[Record]:
    """The rows of the dataset's info.csv (in `data_dir` or its groove/), as Records in file order.
    Raises DataError naming info.csv (and its line) when it is missing or a row lacks a column."""
    info = find_info_csv(data_dir)
    root = info.parent
    out = []
    with open(info, newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                out.append(Record(root / row["midi_filename"], row["split"],
                                  row["style"].split("/")[0], row["beat_type"] == "fill",
                                  float(row["bpm"]), row["drummer"]))
            except (KeyError, ValueError) as e:
                raise DataError(f"{info}:{line}: expected columns midi_filename, split, style, "
                                f"beat_type, bpm, drummer ({e})") from e
    return out


def checksum(records: list[Record]) -> str:
    """Content hash of the dataset (index + every MIDI file) for cache keys and checkpoints."""
    h = hashlib.sha256()
    for r in sorted(records, key=lambda r: str(r.path)):
        h.update(f"{r.path.name}|{r.split}|{r.style}|{r.fill}|{r.bpm}".encode())
        h.update(r.path.read_bytes())
    return h.hexdigest()[:16]


def _cache_dir() -> Path:
    """drumd's cache folder ($XDG_CACHE_HOME/drumd or ~/.cache/drumd), created if missing."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    path = Path(base) / "drumd"
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_dataset(data_dir: Path | None = None, progress: bool = False) -> tuple[dict, str]:
    """{split: [Performance]} for the whole dataset, and its checksum. Cached on disk."""
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    records = read_index(data_dir)
    for r in records:
        if not r.path.is_file():
            raise DataError(f"{r.path}: listed in info.csv but missing")
    digest = checksum(records)
    cache = _cache_dir() / f"gmd-{digest}-v{ENCODING_VERSION}-meters.npz"
    if cache.is_file():
        try:
            return _read_cache(cache), digest
        except (OSError, ValueError, KeyError):
            pass  # stale or damaged cache: rebuild
    to_gm = roland_to_gm()
    perfs = {s: [] for s in SPLITS}
    it = records
    if progress:
        from tqdm import tqdm
        it = tqdm(records, desc="preprocess", unit="file")
    for r in it:
        onsets, _, grid = read_onsets(r.path, to_gm, grid=True)
        meter = (grid.numerator, grid.denominator)
        if meter not in METERS or grid.change:  # none in v1.0.0: all 4/4, 3/4, 6/8, 5/4, 5/8
            log.warning("%s: skipped (meter %d/%d%s)", r.path, *meter, " changing" if grid.change else "")
            continue
        p = quantize_hits(onsets)
        p.bpm, p.style, p.fill, p.name = r.bpm, r.style, r.fill, str(r.path.relative_to(r.path.parents[2]))
        p.meter = meter
        if len(p) and r.split in perfs:
            perfs[r.split].append(p)
    _write_cache(cache, perfs)
    return perfs, digest


def _write_cache(path: Path, perfs: dict) -> None:
    arrays, meta = {}, {}
    for split, ps in perfs.items():
        meta[split] = [dict(bpm=p.bpm, style=p.style, fill=p.fill, name=p.name, n=len(p),
                            meter=list(p.meter)) for p in ps]
        arrays[f"{split}_events"] = np.concatenate([p.events for p in ps]) if ps else np.zeros(0, np.int16)
        arrays[f"{split}_velocity"] = (np.concatenate([p.velocity for p in ps]) if ps
                                       else np.zeros((0, NUM_CLASSES), np.uint8))
        arrays[f"{split}_offset"] = (np.concatenate([p.offset for p in ps]) if ps
                                     else np.zeros((0, NUM_CLASSES), np.float32))
    with atomic_open(path) as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def _read_cache(path: Path) -> dict:
    z = np.load(path)
    meta = json.loads(str(z["meta"]))
    out = {}
    for split, items in meta.items():
        ev, vel, off = z[f"{split}_events"], z[f"{split}_velocity"], z[f"{split}_offset"]
        ps, i = [], 0
        for m in items:
            n = m.pop("n")
            m["meter"] = tuple(m.get("meter", (4, 4)))
            ps.append(Performance(ev[i:i + n], vel[i:i + n], off[i:i + n], **m))
            i += n
        out[split] = ps
    return out
