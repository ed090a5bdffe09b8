"""The figures of `drumd eval` (matplotlib, Agg: no display needed). Each function writes one PNG
atomically to its `path` and returns the file's name; OutputPathError for a path that cannot be
written (its folder missing, or a folder there)."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from drumd.engine.data.encoding import CLASS_NAMES, NUM_CLASSES  # noqa: E402
from drumd.engine.evaluation.groove_stats import groove_features  # noqa: E402
from drumd.engine.evaluation.report import atomic_write  # noqa: E402
from drumd.mappings.basics.grid import STEPS_PER_BAR  # noqa: E402

PIANO_ROLLS = 3  # primers shown per checkpoint
LISTENER_STYLES = 3  # styles shown in the listener piano rolls
ROLL_BARS = 8        # bars of each listener piano roll


def _save(fig, path: Path) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    atomic_write(path, buf.getvalue())
    return path.name


def nll_bars(m: dict, path: Path) -> str:
    """Test NLL (nats per step) of every checkpoint and baseline of metrics `m`, as bars; writes the
    PNG to `path` and returns its file name."""
    names = list(m["checkpoints"]) + list(m["baselines"])
    nll = ([c["teacher_forced"]["nll"] for c in m["checkpoints"].values()]
           + [b["test"]["nll"] for b in m["baselines"].values()])
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(names) + 1))
    colors = ["tab:blue"] * len(m["checkpoints"]) + ["tab:gray"] * len(m["baselines"])
    ax.barh(names[::-1], nll[::-1], color=colors[::-1])
    for y, v in enumerate(nll[::-1]):
        ax.text(v, y, f" {v:.3f}", va="center")
    ax.set_xlabel("test NLL (nats/step, lower is better)")
    ax.set_xlim(0, max(nll) * 1.15)
    return _save(fig, path)


def learning_curves(logs: dict, path: Path) -> str | None:
    """Train and validation NLL per iteration of each train log (CSV, {label: path or None}); writes
    the PNG to `path` and returns its file name, or None (nothing written) without any log."""
    logs = {k: v for k, v in logs.items() if v is not None}
    if not logs:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, log in logs.items():
        rows = list(csv.DictReader(open(log)))
        it = [int(r["iter"]) for r in rows]
        ax.plot(it, [float(r["train_nll"]) for r in rows], "--", label=f"{label} train")
        ax.plot(it, [float(r["val_nll"]) for r in rows], "-", label=f"{label} validation")
    ax.set_xlabel("iteration")
    ax.set_ylabel("event NLL (nats/step)")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def class_density(real, generated: dict, path: Path) -> str:
    """Mean hits per bar of each drum class, real clips against each generated set ({label: [[clip]
    per primer]}); writes the PNG to `path`, returns its file name."""
    sets = {"real": real, **{k: [c for g in v for c in g] for k, v in generated.items()}}
    width = 0.8 / len(sets)
    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(NUM_CLASSES)
    for i, (label, clips) in enumerate(sets.items()):
        f = groove_features(clips)
        ax.bar(x + i * width, [f[f"density_{c}"].mean() for c in CLASS_NAMES], width, label=label)
    ax.set_xticks(x + 0.4 - width / 2, CLASS_NAMES, rotation=30)
    ax.set_ylabel("hits per bar")
    ax.legend()
    return _save(fig, path)


def expression_histograms(real, generated: dict, path: Path) -> str:
    """Velocity (MIDI) and timing offset (16th steps) histograms of the hits, real against each
    generated set; writes the PNG to `path`, returns its file name."""
    sets = {"real": real, **{k: [c for g in v for c in g] for k, v in generated.items()}}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for label, clips in sets.items():
        f = groove_features(clips)
        axes[0].hist(f["velocity"] * 127, bins=np.linspace(0, 128, 33), density=True,
                     histtype="step", label=label)
        axes[1].hist(f["offset"], bins=np.linspace(-0.5, 0.5, 33), density=True, histtype="step", label=label)
    axes[0].set_xlabel("velocity (MIDI)")
    axes[1].set_xlabel("timing offset (16th steps)")
    axes[0].legend()
    return _save(fig, path)


def piano_rolls(picks, real, generated: dict, label: str, primer_bars: int, path: Path) -> str:
    """Primer + real continuation, and primer + the first sample at each temperature."""
    sets = {k: v for k, v in generated.items() if k.startswith(f"{label} T=")}
    n = min(PIANO_ROLLS, len(picks))
    rows = 1 + len(sets)
    fig, axes = plt.subplots(rows, n, figsize=(5 * n, 1.7 * rows), squeeze=False)
    for j in range(n):
        p, s = picks[j]
        primer = p.velocity[s:s + primer_bars * STEPS_PER_BAR]
        for i, (name, clip) in enumerate([("real", real[j])] + [(t, g[j][0]) for t, g in sets.items()]):
            _roll(axes[i, j], np.concatenate([primer, clip.velocity]), len(primer), j == 0,
                  f"{name}: {Path(p.name).stem} ({p.style})" if i == 0 else name)
    return _save(fig, path)


def _roll(ax, velocity: np.ndarray, divider: int, names: bool, title: str) -> None:
    """One piano roll: velocity (T, 9) as grey levels, bar lines as ticks, a red line before
    step `divider` (the end of a primer; 0: none)."""
    ax.imshow(velocity.T, aspect="auto", origin="lower", cmap="Greys", vmin=-30, vmax=127,
              interpolation="nearest")
    if divider:
        ax.axvline(divider - 0.5, color="tab:red", lw=1)
    ax.set_yticks(range(NUM_CLASSES), CLASS_NAMES if names else [], fontsize=6)
    ax.set_xticks(np.arange(0, len(velocity), STEPS_PER_BAR))
    ax.tick_params(labelbottom=False)
    ax.set_title(title, fontsize=8)


def listener_rolls(played: dict, beats: dict, path: Path) -> str | None:
    """Per style (the first LISTENER_STYLES judged): a real test beat, the first unprimed run's
    first and last ROLL_BARS bars, and the first primed run (its primer, a red line, then its
    first bars)."""
    styles = [s for s in played["unprimed"] if beats.get(s)][:LISTENER_STYLES]
    if not styles:
        return None
    span = ROLL_BARS * STEPS_PER_BAR
    fig, axes = plt.subplots(len(styles), 4, figsize=(20, 1.9 * len(styles)), squeeze=False)
    for i, s in enumerate(styles):
        real = max(beats[s], key=len)
        run = played["unprimed"][s][0]
        n_bars = len(run) // STEPS_PER_BAR
        cells = [(real.velocity[:span], 0, f"{s}: real, {Path(real.name).stem}, bars 1-{ROLL_BARS}"),
                 (run.velocity[:span], 0, f"{s}: unprimed, bars 1-{ROLL_BARS}"),
                 (run.velocity[-span:], 0,
                  f"{s}: unprimed, bars {max(n_bars - ROLL_BARS, 0) + 1}-{n_bars}")]
        if played["primed"].get(s):
            primer = played["primers"][s][0]
            cont = played["primed"][s][0].velocity[:span - len(primer)]
            cells.append((np.concatenate([primer.velocity, cont]), len(primer),
                          f"{s}: primed ({Path(primer.name).stem}), primer | continuation"))
        for j in range(4):
            if j < len(cells):
                _roll(axes[i, j], *cells[j][:2], j == 0, cells[j][2])
            else:
                axes[i, j].axis("off")
    return _save(fig, path)


def write_all(out: Path, m: dict, picks, real, generated: dict, logs: dict, listened: dict,
              beats: dict) -> list[str]:
    """Every figure; listened: {checkpoint label: listener_runs(...)}, beats: {style: real beats}."""
    files = [nll_bars(m, out / "nll.png"), learning_curves(logs, out / "learning_curves.png"),
             class_density(real, generated, out / "class_density.png"),
             expression_histograms(real, generated, out / "expression.png")]
    for label in m["checkpoints"]:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
        files.append(listener_rolls(listened[label], beats, out / f"listener_{slug}.png"))
        files.append(piano_rolls(picks, real, generated, label, m["settings"]["primer_bars"], out / f"pianoroll_{slug}.png"))
    return [f for f in files if f]

