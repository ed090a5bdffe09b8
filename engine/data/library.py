"""A folder of drum MIDI files (a player's own library) -> Performances to train on, and a
report of what was read.

`drumd train --data DIR` on a folder without the Groove MIDI Dataset's info.csv (that one is
engine/data/gmd.py's) reads every .mid/.midi file of the tree (hidden files and folders, such as
macOS's "._" copies, left out). A file's style is the first-level subfolder it lies in; files
at the top take `style` (default: the folder's name). Notes are read as the dataset's are
(engine.data.read_onsets: the one MIDI reader, the drum map translated to GM, quantized by
encoding.quantize_hits), so training sees the same Performances either way.

A file is skipped, with its reason in the report, when it is unreadable (the reader's one
line), has no drum notes, is in a meter the model does not know (encoding.METERS: 4/4, 3/4,
6/8, 12/8, 5/4, 7/8, 5/8; a file without a time signature is 4/4) or changes meter (split it
at the change), or is under one bar long. Each Performance carries its file's meter. A file with no notes on the
drum channel but notes on another is read from the busiest other channel, and the report says
so. A file whose path below its style folder says "fill" is labelled a fill (the model's fill
input; the warm-up grooves are taken from the others).

A seeded share of the files is held out for validation (model selection), never the last
file of a style while another style has more, so every style is trained on where it can be.
"""
from __future__ import annotations

import hashlib
import math
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from drumd.engine.data.encoding import METERS, Performance, bar_steps, quantize_hits
from drumd.engine.data.gmd import DataError, read_onsets
from drumd.mappings.basics.grid import STEPS_PER_BAR, STEPS_PER_BEAT
from drumd.mappings.basics.midifile import MIDI_SUFFIXES, MidiFileError, read_drum_notes, read_midi

SUPPORTED_METERS = METERS
# why a file is skipped, in the report's order
UNREADABLE, NO_DRUMS, METER, TOO_SHORT = ("unreadable", "no drum notes", "meter not supported",
                                          "too short")
REASONS = (UNREADABLE, NO_DRUMS, METER, TOO_SHORT)


def holds_gmd(data_dir: Path) -> bool:
    """Whether `data_dir` is the Groove MIDI Dataset (its info.csv here or in groove/), read by
    engine/data/gmd.py exactly as before this module existed."""
    return any((data_dir / p).is_file() for p in ("info.csv", "groove/info.csv"))


@dataclass
class LibraryFile:
    """One MIDI file of the folder and what became of it."""
    rel: Path                      # path below the folder
    style: str
    perf: Performance | None = None  # None: skipped
    skipped: str | None = None     # one of REASONS
    why: str = ""                  # the reason in words (the reader's line, without the path)
    channel: int | None = None     # the channel read
    meter: tuple[int, int] | None = None
    bars: int = 0                  # bars its hits reach into (in its own meter)


@dataclass
class Library:
    """The files of a folder, read; `train` and `validation` are their Performances."""
    root: Path
    map_name: str
    channel: int
    files: list[LibraryFile]
    validation_files: list[Path] = field(default_factory=list)
    train: list[Performance] = field(default_factory=list)
    validation: list[Performance] = field(default_factory=list)
    digest: str = ""
    split: bool = True             # False: nothing held out (eval reads every file)

    @property
    def read(self) -> list[LibraryFile]:
        """The files that were read (a Performance each), skipped ones left out."""
        return [f for f in self.files if f.perf is not None]

    def bars_per_style(self) -> dict[str, int]:
        """{style: bars of its files read}, most bars first (ties by name): the first is the
        library's main style, the one its checkpoint plays when asked for none."""
        per_style = Counter()
        for f in self.read:
            per_style[f.style] += f.bars
        return dict(sorted(per_style.items(), key=lambda kv: (-kv[1], kv[0])))

    def report(self) -> str:
        """What was read and skipped, bars per style and per meter: printed at the start of
        training and kept as RUN/data_report.txt."""
        read, skipped = self.read, [f for f in self.files if f.perf is None]
        lines = [f"data: {self.root} (map {self.map_name}, channel {self.channel})",
                 f"files read: {len(read)} of {len(self.files)}"
                 + (f" ({len(self.train)} to train on, {len(self.validation)} held out for "
                    "validation: validation.txt)" if self.split else "")]
        fills = sum(f.perf.fill for f in read)
        if fills:
            lines.append(f"  {fills} labelled fills ('fill' in their path)")
        unlearnt = sorted({p.style for p in self.validation} - {p.style for p in self.train})
        if unlearnt:
            lines.append(f"  style {', '.join(unlearnt)}: its only file is held out for validation, "
                         "so the model does not learn it (give each style two files or more)")
        moved = [f for f in read if f.channel != self.channel]
        if moved:
            lines.append(f"  {len(moved)} with no notes on channel {self.channel}, read from "
                         "the channel they use:")
            lines += [f"    {f.rel}: channel {f.channel}" for f in moved]
        lines.append(f"files skipped: {len(skipped)}")
        for reason in REASONS:
            these = [f for f in skipped if f.skipped == reason]
            if these:
                lines.append(f"  {reason}: {len(these)}")
                lines += [f"    {f.rel}: {f.why}" for f in these]
        lines.append("bars per style: " + ", ".join(f"{s} {n}" for s, n in sorted(self.bars_per_style().items())))
        per_meter = Counter()
        for f in self.files:
            if f.meter and f.skipped in (None, METER):
                per_meter[f.meter] += f.bars
        lines.append("bars per meter: " + ", ".join(
            f"{a}/{b} {n}" + ("" if (a, b) in SUPPORTED_METERS else " (skipped: not a meter drumd knows)")
            for (a, b), n in sorted(per_meter.items())))
        return "\n".join(lines)


def midi_files(root: Path) -> list[Path]:
    """The .mid/.midi files under `root` (any case; not following links to folders; hidden
    files and folders left out), sorted by path."""
    out = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        out += [Path(folder) / n for n in names
                if not n.startswith(".") and n.lower().endswith(MIDI_SUFFIXES)]
    return sorted(out, key=lambda p: p.relative_to(root).parts)


def _without_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _busiest_channel(path: Path) -> int | None:
    """The channel (1-16) with the most note-ons, or None (no notes, or unreadable)."""
    try:
        mid = read_midi(path)
    except MidiFileError:
        return None
    counts = Counter((status & 0x0F) + 1 for track in mid.tracks for _, status, _, velocity in track
                     if 0x90 <= status < 0xA0 and velocity > 0)
    return max(counts, key=lambda c: (counts[c], c == 10)) if counts else None


def read_file(path: Path, rel: Path, style: str, to_gm, map_name: str, channel: int) -> LibraryFile:
    """One file of the library as a LibraryFile: its Performance, or why it is skipped."""
    f = LibraryFile(rel, style)
    try:
        onsets, bpm, grid = read_onsets(path, to_gm, grid=True, channel=channel)
        f.channel = channel
    except DataError as e:
        other = _busiest_channel(path)
        if other is None or other == channel:
            f.skipped, f.why = UNREADABLE, _without_path(str(e), path)
            return f
        try:
            onsets, bpm, grid = read_onsets(path, to_gm, grid=True, channel=other)
            f.channel = other
        except DataError:
            f.skipped, f.why = UNREADABLE, _without_path(str(e), path)
            return f
    f.meter = (grid.numerator, grid.denominator)
    perf = quantize_hits(onsets)
    per_bar = STEPS_PER_BAR * grid.numerator / grid.denominator
    f.bars = math.ceil(len(perf) / per_bar) if per_bar > 0 else 0
    if f.meter not in SUPPORTED_METERS:
        f.skipped, f.why = METER, (f"meter {grid.numerator}/{grid.denominator} not supported "
                                   f"(drumd knows {', '.join(f'{a}/{b}' for a, b in METERS)})")
        return f
    if grid.change:
        tick, num, den = grid.change
        bar = tick * STEPS_PER_BEAT / grid.ticks_per_beat / per_bar + 1
        f.skipped, f.why = METER, (f"meter changes from {f.meter[0]}/{f.meter[1]} to {num}/{den} "
                                   f"at bar {bar:g} (split the file at the change)")
        return f
    if not len(perf):
        f.skipped, f.why = NO_DRUMS, _no_drums_why(path, f.channel, map_name)
        return f
    end_steps = grid.end_tick * STEPS_PER_BEAT / grid.ticks_per_beat
    if max(len(perf), math.floor(end_steps)) < bar_steps(f.meter):
        f.skipped, f.why = TOO_SHORT, f"{max(len(perf), math.floor(end_steps))} 16ths, under one bar"
        return f
    perf.bpm, perf.style, perf.name, perf.meter = bpm, style, str(rel), f.meter
    below_style = rel.parts[1:] if len(rel.parts) > 1 else rel.parts
    perf.fill = any("fill" in part.lower() for part in below_style)
    f.perf = perf
    return f


def _no_drums_why(path: Path, channel: int, map_name: str) -> str:
    """Why a file read without error gave no drum hits: no notes, or none the map plays."""
    try:
        n = len(read_drum_notes(path, channel).notes)
    except MidiFileError:
        n = 0
    if not n:
        return f"no notes on channel {channel} (or any other)"
    return (f"none of its {n} notes on channel {channel} is a drum the model plays, read in "
            f"map {map_name} (is --map right?)")


def split_validation(files: list[LibraryFile], share: float, seed: int) -> set[Path]:
    """A seeded `share` of the read files (at least one) held out for validation, never the
    last training file of a style unless every style has only one. Returns their `rel` paths."""
    read = [f for f in files if f.perf is not None]
    want = max(1, round(share * len(read)))
    left = Counter(f.style for f in read)
    order = sorted(read, key=lambda f: f.rel.parts)
    random.Random(seed).shuffle(order)
    held = set()
    for f in order:
        if len(held) == want:
            break
        if left[f.style] > 1:
            held.add(f.rel)
            left[f.style] -= 1
    if not held:  # every style has one file: one is held out all the same (the report says so)
        held.add(order[0].rel)
    return held


def load_library(root: Path, map_name: str = "gm", channel: int = 10, style: str | None = None,
                 val_share: float = 0.1, seed: int = 0, progress: bool = False,
                 split: bool = True) -> Library:
    """Read every MIDI file under `root` (see the module's docstring). Raises DataError (one
    line naming the folder) for a missing folder, no MIDI files, or fewer than two files to
    train on; MapError for an unknown map; ValueError for a share or channel out of range.
    split=False (`drumd eval` on a folder): nothing is held out, every file read is in
    `train` (val_share and seed unused), and one readable file is enough."""
    from drumd.mappings import load_map
    if split and not 0 < val_share < 1:
        raise ValueError(f"val_share {val_share}: expected a share between 0 and 1 (0.1 = 10 %)")
    if not 1 <= channel <= 16:
        raise ValueError(f"channel {channel}: expected a MIDI channel 1-16")
    m = load_map(map_name)
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder" if not root.exists() else f"{root}: not a folder")
    paths = midi_files(root)
    if not paths:
        raise DataError(f"{root}: no .mid or .midi files in this folder or below it (nor the "
                        "Groove MIDI Dataset's info.csv); expected a folder of drum MIDI files "
                        "(README 'Train on your own loops')")
    top_style = style or root.resolve().name or "default"
    to_gm = lambda note, cc4: m.to_gm(note, cc4=cc4)  # noqa: E731
    it = paths
    if progress:
        from tqdm import tqdm
        it = tqdm(paths, desc="read", unit="file")
    files = []
    for p in it:
        rel = p.relative_to(root)
        files.append(read_file(p, rel, rel.parts[0] if len(rel.parts) > 1 else top_style,
                               to_gm, m.name, channel))
    lib = Library(root, m.name, channel, files, split=split)
    read = lib.read
    if len(read) < (2 if split else 1):
        counts = Counter(f.skipped for f in files if f.perf is None)
        skipped = [f for f in files if f.perf is None]
        why = ", ".join(f"{n} {r}" for r, n in sorted(counts.items(), key=lambda kv: REASONS.index(kv[0])))
        usable = f"only {read[0].rel} can be read" if read else "none can be read"
        if skipped:
            usable += f" ({why}; e.g. {skipped[0].rel}: {skipped[0].why})"
        need = "training needs at least two (one is held out for validation)" if split else \
            "expected drum MIDI files (are --map and --channel right?)"
        raise DataError(f"{root}: {len(files)} MIDI file(s), {usable}; {need}")
    held = split_validation(files, val_share, seed) if split else set()
    lib.validation_files = sorted(held, key=lambda r: r.parts)
    lib.train = [f.perf for f in read if f.rel not in held]
    lib.validation = [f.perf for f in read if f.rel in held]
    lib.digest = checksum(root, lib)
    return lib


def checksum(root: Path, lib: Library) -> str:
    """Content hash of what training reads (paths, labels, channels, map, every file read)."""
    h = hashlib.sha256(f"{lib.map_name}|{lib.channel}".encode())
    for f in lib.read:
        h.update(f"{f.rel.as_posix()}|{f.style}|{f.perf.fill}|{f.channel}|{f.rel in lib.validation_files}".encode())
        h.update((root / f.rel).read_bytes())
    return h.hexdigest()[:16]
