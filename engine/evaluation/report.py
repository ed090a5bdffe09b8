"""metrics.json -> report.md tables, and atomic file writes for everything `drumd eval` writes."""
from __future__ import annotations

import math
from pathlib import Path

from drumd.engine.data.encoding import CLASS_NAMES
from drumd.mappings.basics.files import atomic_open


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


# Baselines' column order: the strongest beside the model (repeat-1-bar holds the velocity MAE
# the model's is judged against), the others after.
BASELINE_ORDER = ("bar-context", "repeat-1-bar", "repeat-2-bars", "4-gram", "3-gram", "2-gram", "unigram")


def _baselines(m: dict) -> dict:
    b = m.get("baselines") or {}  # a folder's evaluation has none
    return {k: b[k] for k in sorted(b, key=lambda k: (BASELINE_ORDER.index(k) if k in BASELINE_ORDER
                                                      else len(BASELINE_ORDER)))}


def teacher_forced_table(m: dict) -> list[str]:
    """One column per checkpoint, then the baselines once."""
    systems = {k: v["teacher_forced"] for k, v in m["checkpoints"].items()}
    systems.update({k: v["test"] for k, v in _baselines(m).items()})
    params = {k: f"{v['param']:g}" for k, v in _baselines(m).items()}
    rows = [
        ["NLL (nats/step)"] + [f"{s['nll']:.3f}" for s in systems.values()],
        ["perplexity"] + [f"{s['perplexity']:.2f}" for s in systems.values()],
        ["event accuracy"] + [_fmt(s["accuracy"], ".1f", 100, " %") for s in systems.values()],
        ["mean hit F1 (9 classes)"] + [_fmt(s["mean_f1"]) for s in systems.values()],
        ["velocity MAE (MIDI)"] + [_fmt(s.get("velocity_mae"), ".1f") for s in systems.values()],
        ["timing MAE (ms)"] + [_fmt(s.get("offset_mae_ms"), ".1f") for s in systems.values()],
    ] + ([["smoothing (tuned on validation)"] + [params.get(k, "—") for k in systems]] if params else [])
    per_class = [[c] + [_fmt(s["classes"][c]["f1"]) for s in systems.values()] for c in CLASS_NAMES]
    return (_table([""] + list(systems), rows)
            + ["Per-class hit F1 (a class is predicted to hit when its marginal probability > 0.5):", ""]
            + _table(["class"] + list(systems), per_class))


FREE_ROWS = (  # (key, label, format, scale, suffix)
    ("hits_per_bar", "hits per bar", ".1f", 1, ""),
    ("backbeat_all", "bars with snare on 2 and 4 (all primers)", ".1f", 100, " %"),
    ("velocity_r", "velocity r with one bar earlier", ".2f", 1, ""),
    ("timing_r", "timing r with one bar earlier", ".2f", 1, ""),
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


LISTENER_COLUMNS = (  # (key, label, format, scale, suffix)
    ("hits_per_bar", "hits per bar", ".1f", 1, ""),
    ("backbeat", "backbeat", ".0f", 100, " %"),
    ("velocity_r", "velocity r", ".2f", 1, ""),
    ("timing_r", "timing r", ".2f", 1, ""),
    ("drift", "drift", ".2f", 1, ""),
    ("c2st_accuracy", "C2ST accuracy", ".2f", 1, ""),
)


def listener_tables(m: dict) -> list[str]:
    """Per checkpoint: per style and overall, real / unprimed / primed in every cell."""
    rb = m["real_beats"]
    out = []
    for label, c in m["checkpoints"].items():
        fr = c["free_running"]
        rows = []
        for s in fr["unprimed"]["styles"]:
            rows.append([f"{s} ({rb['styles'][s]['files']})"] + [
                " / ".join(_fmt(x.get(k), f, sc, suf) if x is not None else "—"
                           for x in (rb["styles"][s], fr["unprimed"]["styles"][s],
                                     fr["primed"]["styles"].get(s)))
                for k, _, f, sc, suf in LISTENER_COLUMNS])
        rows.append(["**overall**"] + [
            " / ".join(_fmt(x.get(k), f, sc, suf) for x in (fr.get("real", rb), fr["unprimed"], fr["primed"]))
            for k, _, f, sc, suf in LISTENER_COLUMNS])
        out += [f"`{label}`: real / unprimed / primed", ""]
        out += _table(["style (test beats)"] + [col[1] for col in LISTENER_COLUMNS], rows)
        missing = fr["unprimed"].get("not_in_checkpoint")
        if missing:
            out += [f"Not played (the checkpoint does not know the style): {', '.join(missing)}.", ""]
    return out


TARGET_FORMATS = {"backbeat": (".0f", 100, " %"), "hits_per_bar": (".1f", 1, ""), "velocity_mae": (".1f", 1, ""),
                  "nll": (".3f", 1, "")}


def targets_tables(m: dict) -> list[str]:
    """Markdown lines: each checkpoint's issue-12 targets, its value, what it needs, pass or fail."""
    out = []
    for label, c in m["checkpoints"].items():
        t = c["targets"]
        rows = [[x["target"], x["style"], _fmt(x["value"], *TARGET_FORMATS.get(x["metric"], (".2f", 1, ""))),
                 x["need"],
                 {True: "pass", False: "**fail**", None: "n/a"}[x["pass"]]] for x in t]
        judged = [x for x in t if x["pass"] is not None]
        out += [f"`{label}`: {sum(x['pass'] for x in judged)} of {len(judged)} targets met "
                f"(unprimed play unless marked).", ""]
        out += _table(["target", "style", "value", "needs", "result"], rows)
    return out


def free_running_tables(m: dict) -> list[str]:
    """Markdown lines: the listener figures of the real beats and of each checkpoint at each
    temperature, and each groove feature's overlap / KL (nats) with the real beats'."""
    cols = {f"{k} T={t}": fr for k, v in m["checkpoints"].items()
            for t, fr in v["free_running"]["temperature"].items()}
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


def following_tables(m: dict) -> list[str]:
    """The 'Following a player' section (engine/evaluation/follow_eval.py's figures), or nothing."""
    rows = []
    for label, c in m["checkpoints"].items():
        for style, by_follow in (c.get("following") or {}).items():
            for f, x in by_follow.items():
                rows.append([label, style, f, _fmt(x["halftime_backbeat"], ".0f", 100, " %"),
                             _fmt(x["halftime_doubled"], ".2f"), _fmt(x["kicks_off"], ".2f"),
                             _fmt(x["kicks_backbeat"], ".0f", 100, " %"), _fmt(x["tap_accent"], ".0f", 100, " %"),
                             _fmt(x["tap_hits_per_bar"], ".1f"),
                             _fmt(x.get("handover_feel"), ".0f", 100, " %"),
                             _fmt(x.get("handover_backbeat"), ".0f", 100, " %"),
                             _fmt(x.get("handover_hits_per_bar"), ".1f")])
    if not rows:
        return []
    fs = m["settings"].get("following", {})
    return ["## Following a player (issue 17)", "",
            f"The engine alone, as `drumd serve` feeds it ({fs.get('runs_per_style')} seeds of "
            f"{fs.get('bars')} bars per style at {fs.get('bpm')} BPM, counted from bar "
            f"{fs.get('judged_from_bar')}; engine/evaluation/follow_eval.py, the scenarios of bench/follow_bench.py "
            "and bench/tap_bench.py). Follow 0 ignores the player: the model's own groove on the same "
            "seeds. **half-time 2+4**: bars where drumd lays its own snare on 2 and 4 over a player's "
            "half-time feel (kick on 1, snare on 3; it should give way); **doubled**: drumd hits on the "
            "player's drum and 16th, per bar (a flam); **kicks off**: drumd kicks per bar off a player's "
            "kick pattern (1, the and of 2, 3), **2+4 kept**: drumd's own backbeat meanwhile; **taps "
            "accented**: taps of a syncopated figure (tap mode) with a drumd kick or snare, and drumd's "
            "hits per bar; **after they stop**: the half-time player stops after bar 4, and in the bars "
            "after, drumd's snare on 3 (their feel carried on), its own 2 and 4, and its hits per bar. "
            "Riff lock needs a guitar: bench/riff_bench.py.", ""] + _table(
        ["checkpoint", "style", "follow", "half-time 2+4", "doubled / bar", "kicks off / bar",
         "2+4 kept", "taps accented", "hits / bar", "after they stop: snare on 3", "2+4",
         "hits / bar"], rows)


def markdown(m: dict) -> str:
    """report.md's text from metrics `m` (metrics.json's dict): data, checkpoints, teacher-forced
    scores beside the baselines', listener figures and targets."""
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
    ls, rb = s["listener"], m["real_beats"]
    others = [f"{k} ({n})" for k, n in rb["test_beats"].items() if k not in rb["qualifying"]]
    lines += ["## What a listener hears: default controls (temperature 1)", "",
              f"Styles with at least {ls['min_beats']} real test beats (not fills) are judged: "
              f"{', '.join(rb['qualifying']) or 'none'}"
              + (f"; not judged (too few test beats): {', '.join(others)}." if others else "."), "",
              f"- **unprimed**: `generate(ckpt, {ls['bars']}, style=S, primer=())` at the median tempo of "
              f"the style's test beats, {ls['runs_per_style']} seeds per style, all {ls['bars']} bars measured.",
              f"- **primed**: 2 bar-aligned bars of a real test beat of the style as primer "
              f"({ls['runs_per_style']} per style, files in seeded random order), its {ls['bars']}-bar "
              "continuation measured (the primer is not).",
              "- **real**: the style's test-split beats, whole bars.",
              "",
              "Definitions (engine/evaluation/groove_stats.py): **hits per bar**: hits (a class on a 16th) per whole 4/4 "
              "bar. **backbeat**: share of bars with snare on steps 4 and 12 (beats 2 and 4). "
              "**velocity r** / **timing r**: Pearson r, pooled over all hits whose drum also hit on the same "
              "16th one bar earlier, of the two velocities / offsets. **drift**: the groove similarity to the "
              "style of the last quarter of a run over that of its first quarter (bars "
              f"{ls['bars'] * 3 // 4 + 1}–{ls['bars']} over 1–{ls['bars'] // 4}); similarity = weighted "
              "Jaccard, sum(min)/sum(max), of the quarter's hit rate per (16th, drum) and the same of the "
              "style's training beats; 1.0 = no drift. Real drift: over real beats of at least "
              f"{ls['real_drift_min_bars']} bars (their own length, not {ls['bars']} bars); n/a where a "
              "style has none. **C2ST accuracy** (Lopez-Paz & Oquab 2017): held-out accuracy of a "
              f"classifier telling {ls['c2st_window_bars']}-bar windows (hits, velocities, offsets; hop 1 bar) "
              "of the runs from those of the style's real test beats; classes balanced, "
              f"{ls['c2st_folds']}-fold grouped by file/run, the stronger of a logistic regression and a "
              "small MLP, each on the window folded over its bars (groove_stats.window_features); 0.5 = "
              "cannot tell. Folds never split a source: a run, a real drummer's session, or one composed "
              "groove of the GMD's eval session (played there by four drummers). In the real column: real "
              "beats against other real beats (each style's sources dealt in random halves; the mean of "
              "a few splits), the test's own noise at this sample size. **overall**: mean over "
              "the judged styles (C2ST: one test over all of them, each style balanced).", ""]
    lines += listener_tables(m)
    null = rb.get("c2st", {}).get("splits") or []
    if null:
        lines += [f"C2ST noise: real against real gave {', '.join(f'{a:.2f}' for a in null)} over "
                  f"{len(null)} random splits (chance 0.5): differences in C2ST accuracy smaller than "
                  "that spread are not resolved by this test set.", ""]
    lines += ["### Targets (issue 12)", ""]
    lines += targets_tables(m)
    lines += following_tables(m)
    lines += ["## Temperature comparison", "",
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


def folder_style_table(m: dict) -> list[str]:
    """A folder's teacher-forced NLL / accuracy per style (rows) and checkpoint (columns)."""
    cps = m["checkpoints"]
    bars = m["data"]["bars_per_style"]
    rows = []
    for s in bars:
        cells = []
        for c in cps.values():
            st = c["teacher_forced"]["styles"][s]
            as_ = "" if st["played_as"] == s else f" (as {st['played_as']})"
            cells.append(f"{st['nll']:.3f} / {_fmt(st['accuracy'], '.1f', 100, ' %')}{as_}")
        first = next(iter(cps.values()))["teacher_forced"]["styles"][s]
        rows.append([f"{s} ({first['files']} files, {bars[s]} bars)"] + cells)
    return _table(["style", *cps], rows)


def folder_markdown(m: dict) -> str:
    """report.md of `drumd eval --data FOLDER` (engine/evaluation/folder_eval.py)."""
    d, ls, rb = m["data"], m["settings"]["listener"], m["real_beats"]
    lines = ["# drumd evaluation on a folder", "",
             f"`{d['path']}` (map {d['map']}, channel {d['channel']}): {d['test_files']} of {d['files']} "
             f"MIDI files read, {d['test_steps']} steps (data checksum `{d['checksum']}`); every file "
             f"read is scored, nothing is held out. Evaluated in {m['seconds']:.0f} s.", ""]
    for label, c in m["checkpoints"].items():
        note = (" **trained on this folder: its scores include files it learnt from**"
                if c.get("trained_on_folder") else "")
        lines.append(f"- `{label}`: {c['path']}, iteration {c['iter']}, "
                     f"validation NLL {_fmt(c['val_nll'])}{note}")
    lines += ["", "```", d["report"], "```", "",
              "## Teacher-forced, every file", "",
              "Per-step NLL (nats per 16th) of the 512-way event given the true past; velocity and "
              "timing are the expected bin centres of the model's heads given the true hits. A style "
              "the checkpoint does not know is scored as its default style (“as ...”).", ""]
    lines += teacher_forced_table(m)
    lines += ["Per style: NLL / event accuracy.", ""] + folder_style_table(m)
    others = [f"{k} ({n})" for k, n in rb["test_beats"].items() if k not in rb["qualifying"]]
    lines += ["## What a listener hears: default controls (temperature 1)", "",
              f"Styles of the folder with at least {ls['min_beats']} 4/4 beats (not fills) are judged "
              f"against those files: {', '.join(rb['qualifying']) or 'none'}"
              + (f"; not judged (too few): {', '.join(others)}." if others else ".")
              + f" Unprimed and primed runs of {ls['bars']} bars, {ls['runs_per_style']} per style; "
              "the figures are defined in a dataset report's section of the same name "
              "(`drumd eval` on the Groove MIDI Dataset); drift is measured against the style's "
              "files in this folder.", ""]
    played = {k: c for k, c in m["checkpoints"].items() if c["free_running"]}
    lines += listener_tables({**m, "checkpoints": played})
    for label, c in m["checkpoints"].items():
        if not c["free_running"]:
            lines += [f"`{label}`: not played: {c['free_running_skipped']}.", ""]
    if m.get("figures"):
        lines += ["## Figures", ""] + [f"![{f}]({f})" for f in m["figures"]]
    return "\n".join(lines) + "\n"


def folder_console(m: dict) -> list[str]:
    """What `drumd eval --data FOLDER` prints."""
    played = {k: c for k, c in m["checkpoints"].items() if c["free_running"]}
    return (teacher_forced_table(m) + ["Per style: NLL / event accuracy.", ""] + folder_style_table(m)
            + (["Listener figures (real / unprimed / primed):", ""]
               + listener_tables({**m, "checkpoints": played}) if played else []))


def console_tables(m: dict) -> list[str]:
    """What `drumd eval` prints: the report's tables without the prose."""
    return (teacher_forced_table(m) + ["Listener figures (real / unprimed / primed):", ""]
            + listener_tables(m) + targets_tables(m) + ["Temperature comparison:", ""]
            + free_running_tables(m))
