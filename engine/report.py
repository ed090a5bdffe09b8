"""metrics.json -> report.md tables, and atomic file writes for everything `drumd eval` writes."""
from __future__ import annotations

import math
from pathlib import Path

from drumd.engine.encoding import CLASS_NAMES
from drumd.mappings.atomicfile import atomic_open


def atomic_write(path: Path, data: str | bytes) -> None:
    """Readers see the old file or the new one, never half of one."""
    with atomic_open(path) as f:
        f.write(data.encode() if isinstance(data, str) else data)


def finite(x):
    """JSON has no NaN or infinity: those become null."""
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _fmt(v, spec=".3f", scale=1.0, suffix=""):
    return "—" if v is None else f"{v * scale:{spec}}{suffix}"


def _table(header, rows) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def teacher_forced_table(m: dict) -> list[str]:
    """One column per checkpoint, then the baselines once."""
    systems = {k: v["teacher_forced"] for k, v in m["checkpoints"].items()}
    systems.update({k: v["test"] for k, v in m["baselines"].items()})
    params = {k: f"{v['param']:g}" for k, v in m["baselines"].items()}
    rows = [
        ["NLL (nats/step)"] + [f"{s['nll']:.3f}" for s in systems.values()],
        ["perplexity"] + [f"{s['perplexity']:.2f}" for s in systems.values()],
        ["event accuracy"] + [_fmt(s["accuracy"], ".1f", 100, " %") for s in systems.values()],
        ["mean hit F1 (9 classes)"] + [_fmt(s["mean_f1"]) for s in systems.values()],
        ["velocity MAE (MIDI)"] + [_fmt(s.get("velocity_mae"), ".1f") for s in systems.values()],
        ["timing MAE (ms)"] + [_fmt(s.get("offset_mae_ms"), ".1f") for s in systems.values()],
        ["smoothing (tuned on validation)"] + [params.get(k, "—") for k in systems],
    ]
    per_class = [[c] + [_fmt(s["classes"][c]["f1"]) for s in systems.values()] for c in CLASS_NAMES]
    return (_table([""] + list(systems), rows)
            + ["Per-class hit F1 (a class is predicted to hit when its marginal probability > 0.5):", ""]
            + _table(["class"] + list(systems), per_class))


FREE_ROWS = (  # (key, label, format, scale, suffix)
    ("kick_on_beat", "kick hits on a beat", ".1f", 100, " %"),
    ("kick_on_8th", "kick hits on an 8th", ".1f", 100, " %"),
    ("snare_on_beat", "snare hits on a beat", ".1f", 100, " %"),
    ("snare_on_8th", "snare hits on an 8th", ".1f", 100, " %"),
    ("backbeat", "bars with snare on 2 and 4 (backbeat primers)", ".1f", 100, " %"),
    ("density_cv", "bar-to-bar density CV", ".3f", 1, ""),
    ("periodicity", "onset autocorrelation at 1 bar", ".3f", 1, ""),
    ("empty_bars", "empty bars", ".1f", 100, " %"),
    ("loop", "clips looping (>= 4 identical bars)", ".1f", 100, " %"),
    ("silence", "clips going silent (>= 2 empty bars)", ".1f", 100, " %"),
    ("collapse", "collapse (either)", ".1f", 100, " %"),
    ("diversity", "diversity (bits/bar between samples)", ".1f", 1, ""),
    ("offset_std", "timing std (steps)", ".3f", 1, ""),
    ("velocity_std", "velocity std (/127)", ".3f", 1, ""),
)
GROOVE_ROWS = (("hits_per_bar", "hits per bar"), ("class_density", "per-class density (mean)"),
               ("ioi", "inter-onset interval"), ("syncopation", "syncopation (kick+snare)"),
               ("velocity", "velocity"), ("offset", "timing offset"))


def free_running_tables(m: dict) -> list[str]:
    cols = {f"{k} T={t}": fr for k, v in m["checkpoints"].items() for t, fr in v["free_running"].items()}
    real = m["real"]
    rows = [[label] + [_fmt(real.get(key), f, s, suf)] + [_fmt(c.get(key), f, s, suf) for c in cols.values()]
            for key, label, f, s, suf in FREE_ROWS]
    for k, label in (("offset_std", "timing std / real"), ("velocity_std", "velocity std / real")):
        rows.append([f"**{label}** (target 70–130 %)", "100 %"]
                    + [_fmt(c["human_feel_ratio"][k], ".0f", 100, " %") for c in cols.values()])
    groove = [[label] + [f"{_fmt(c['vs_real'][k]['oa'])} / {_fmt(c['vs_real'][k]['kl'])}" for c in cols.values()]
              for k, label in GROOVE_ROWS]
    return (_table(["", "real"] + list(cols), rows)
            + ["Groove statistics against the real continuations: overlapping area (1 = same) / "
               "KL(real || generated) in nats of kernel densities (Yang & Lerch 2018):", ""]
            + _table(["feature"] + list(cols), groove))


def markdown(m: dict) -> str:
    d, s = m["data"], m["settings"]
    lines = ["# drumd evaluation", "",
             f"Groove MIDI Dataset test split (`{d['path']}`): {d['test_files']} files, {d['test_steps']} steps "
             f"(data checksum `{d['checksum']}`). Evaluated in {m['seconds']:.0f} s.", ""]
    for label, c in m["checkpoints"].items():
        note = "" if c["data_checksum"] in (None, d["checksum"]) else \
            f" **trained on other data (checksum `{c['data_checksum']}`)**"
        lines.append(f"- `{label}`: {c['path']}, iteration {c['iter']}, "
                     f"validation NLL {_fmt(c['val_nll'])}{note}")
    lines += ["", "## Teacher-forced, test split", "",
              "Per-step NLL of the 512-way event given the true past; velocity and timing are the "
              "expected bin centres of the model's heads given the true hits (baselines: class "
              "means, or the hit one/two bars back). Baselines are fitted on train, their one "
              "smoothing parameter tuned on validation.", ""]
    lines += teacher_forced_table(m)
    lines += ["## Free-running", "",
              f"{s['primers']} primers of {s['primer_bars']} bars from test files (seed {s['seed']}), "
              f"{s['samples_per_primer']} samples of {s['bars']} bars each per temperature, against "
              f"the {s['bars']} bars the drummer really played next ({m['real']['backbeat_primers']} "
              "of those have a backbeat).", ""]
    lines += free_running_tables(m)
    tf = m["real"]["test_split"]
    lines += [f"Whole test split for reference: timing std {_fmt(tf['offset_std'])} steps, "
              f"velocity std {_fmt(tf['velocity_std'])}.", "", "## Figures", ""]
    lines += [f"![{f}]({f})" for f in m.get("figures", [])]
    return "\n".join(lines) + "\n"
