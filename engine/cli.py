"""`drumd train` and `drumd generate`."""
from __future__ import annotations

import logging
from pathlib import Path

import click
import yaml

from drumd.mappings.clitypes import InputPath

log = logging.getLogger(__name__)

MAX_PRIMER_BARS = 512
MIN_BPM, MAX_BPM = 20.0, 400.0  # as serve's --bpm
# What `train` and `eval` need beyond the player's install (pyproject.toml's extras).
EXTRAS = {"train": ("torch",), "eval": ("torch", "matplotlib")}


def _require(extra: str) -> None:
    """One line saying what to install when the player's install lacks what `extra` needs
    (torch, matplotlib: left out of it, they are ~750 MB and 1.5 s of every start)."""
    for module in EXTRAS[extra]:
        try:
            __import__(module)
        except ImportError:
            raise click.ClickException(f"drumd {extra} needs {module}, which the player's install "
                                       f"leaves out: pip install 'drumd[{extra}]'") from None


def library_options(f):
    """--map, --channel and --style: how a folder of drum MIDI files is read (engine/data/library.py),
    the same for train and eval."""
    f = click.option("--style", help="Style of the files at the folder's top (default: the "
                                     "folder's name).")(f)
    f = click.option("--channel", type=click.IntRange(1, 16),
                     help="MIDI channel of the folder's drums (default: 10; a file with no notes "
                          "there is read from the channel it uses).")(f)
    return click.option("--map", "map_name", help="Drum map of the folder's files (default: gm).")(f)


@click.command()
@click.option("--config", "config", type=InputPath(),
              help="YAML training config (see engine/training/configs/).")
@click.option("--data", type=click.Path(file_okay=False),
              help="A folder of drum MIDI files (styles: its subfolders), or the Groove MIDI "
                   "Dataset (holds info.csv).")
@library_options
@click.option("--val-share", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Share of the folder's files held out for validation (default: 0.1, at least one).")
@click.option("--out", help="Run folder for log.csv, best.pt, last.pt (and a folder's "
                            "data_report.txt, validation.txt).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config value (YAML syntax).")
@click.option("--resume", type=InputPath(), help="Continue from a run's last.pt, with the options "
              "the run was started with (options given here override them).")
@click.option("--finetune", is_flag=False, flag_value="shipped", metavar="[CKPT]",
              help="Start from the shipped model (or CKPT): its styles kept, the data's new ones "
                   "added; fine-tuning's own defaults (lower learning rate, early stopping).")
@click.option("--minutes", type=click.FloatRange(0, min_open=True),
              help="Wall-time cap: stop at the next evaluation after N minutes, keeping the best "
                   "checkpoint (the config's max_minutes).")
def train(config, data, map_name, channel, style, val_share, out, sets, resume, finetune, minutes):
    """Train a model on a folder of drum MIDI files, or on the Groove MIDI Dataset's train split.
    Ctrl-C stops it, keeping the best checkpoint so far (--resume RUN/last.pt continues)."""
    import time
    started = time.time()  # --minutes counts from here: loading torch and the data too
    _require("train")
    from drumd.engine.data.gmd import DataError
    from drumd.engine.model.checkpoint import CheckpointError
    from drumd.engine.training.train import Interrupted, TrainConfig, resume_options, train as run
    overrides = {}
    for s in sets:
        if "=" not in s:
            raise click.BadParameter(f"{s!r}: expected KEY=VALUE", param_hint="--set")
        k, v = s.split("=", 1)
        overrides[k] = yaml.safe_load(v)
    for k, v in (("data", data), ("out", out), ("resume", resume), ("map", map_name),
                 ("channel", channel), ("style", style), ("val_share", val_share),
                 ("finetune", finetune), ("max_minutes", minutes)):
        if v not in (None, ""):
            overrides[k] = v
    if resume and not config:  # the run's own options, under those given again
        overrides = {**resume_options(resume), **overrides}
    try:
        cfg = TrainConfig.load(config, overrides)
        best = run(cfg, started)
    except (ValueError, DataError, CheckpointError) as e:
        raise click.ClickException(str(e))
    except Interrupted as e:
        click.echo(str(e), err=True)
        raise SystemExit(130)  # as a shell reports Ctrl-C
    click.echo(f"best checkpoint: {best}")


def _meter_option(ctx, param, value):
    """--meter N/D as (N, D): one of encoding.METERS, else a usage error naming them."""
    from drumd.engine.data.encoding import parse_meter
    if value is None:
        return None
    try:
        return parse_meter(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@click.command()
@click.argument("out", type=click.Path(dir_okay=True))
@click.option("--checkpoint", type=InputPath(), help="Default: the shipped model.")
@click.option("--primer", type=InputPath(), help="A drum .mid to continue.")
@click.option("--primer-map", metavar="MAP",
              help="Drum map of the primer file. Default: the map the file names (drumd writes "
                   "it), else GM.")
@click.option("--primer-channel", default=10, show_default=True, type=click.IntRange(1, 16),
              help="MIDI channel of the primer's drums.")
@click.option("--style", default=None, help="Style name, or 'all' for one file per style into the "
              "folder OUT (default: the checkpoint's main style: its folder's, or rock).")
@click.option("--bars", default=8, show_default=True, type=click.IntRange(1, 1024))
@click.option("--meter", callback=_meter_option, metavar="N/D",
              help="Time signature: 4/4, 3/4, 6/8, 12/8, 5/4, 7/8 or 5/8 (default: the primer's, "
                   "else 4/4).")
@click.option("--bpm", type=click.FloatRange(MIN_BPM, MAX_BPM),
              help="Tempo (default: the primer's, else 120).")
@click.option("--temperature", default=1.0, show_default=True, type=click.FloatRange(0.05, 5))
@click.option("--top-p", default=1.0, show_default=True, type=click.FloatRange(0.01, 1))
@click.option("--density", default=0.0, show_default=True, type=float, help="Logit bias per hit: >0 busier.")
@click.option("--quantize", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="0 = the model's timing, 1 = on the grid.")
@click.option("--fill", is_flag=True, help="Fills all through (for fill-only files).")
@click.option("--variation", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="0 = keeps its groove bar after bar, 1 = free to wander.")
@click.option("--fill-every", default=8, show_default=True, type=click.IntRange(0, 64), metavar="BARS",
              help="A fill at the end of every BARS bars (song bars, counted from the primer's "
                   "start), into a crash on the next downbeat; 0 = never.")
@click.option("--map", "out_map", default="gm", show_default=True, help="Drum map of the output file.")
@click.option("--include-primer", is_flag=True, help="Write the primer before the continuation.")
@click.option("--seed", type=int)
def generate(out, checkpoint, primer, primer_map, primer_channel, style, bars, meter, bpm, temperature,
             top_p, density, quantize, fill, variation, fill_every, out_map, include_primer, seed):
    """Generate a groove as a MIDI file, from a primer or a style alone."""
    from drumd.engine.data.encoding import METERS, Step, meter_name
    from drumd.engine.data.stepfiles import read_primer, write_steps
    from drumd.mappings import load_map
    from drumd.mappings.basics.files import check_output_path
    from drumd.mappings.basics.grid import STEPS_PER_BAR
    # The files first, the model after: a bad primer or path is answered before the
    # checkpoint loads. (Their errors are DrumdErrors: one line, from the CLI's one handler.)
    # OUT: a file, or with --style all a folder (created if missing, but not its parent)
    check_output_path(Path(out) / "x.mid" if style == "all" and Path(out).is_dir() else out)
    load_map(out_map)
    p = (read_primer(Path(primer), primer_map, primer_channel, "--primer-channel")
         if primer else None)
    if p and p.bars > MAX_PRIMER_BARS:  # the model hears every primer step: about 1 s per 500 bars
        raise click.ClickException(f"{primer}: a primer of {p.bars} bars; drumd continues primers "
                                   f"of up to {MAX_PRIMER_BARS} bars (give it the last few bars)")
    if bpm is None and p and not MIN_BPM <= p.bpm <= MAX_BPM:
        raise click.ClickException(f"{primer}: its tempo is {p.bpm:,.4g} BPM; give the tempo to "
                                   f"play at with --bpm ({MIN_BPM:g}-{MAX_BPM:g})")
    from drumd.engine.model.checkpoint import load_checkpoint
    from drumd.engine.sampling.generate import generate as gen
    from drumd.engine.sampling.sampler import Controls
    try:
        ckpt = load_checkpoint(checkpoint)
        # no --style: the checkpoint's main style (a player's folder's, else rock)
        styles = ckpt.styles if style == "all" else [style or ckpt.default_style]
        for s in styles:
            if s is not None:
                ckpt.style_index(s)
        if style == "all":
            Path(out).mkdir(exist_ok=True)
    except OSError as e:
        raise click.ClickException(f"{out}: cannot create the folder ({e.strerror or e})")
    steps, carry, per_bar, primer_meter = (p.steps, p.carry, p.steps_per_bar, p.meter) if p else ([], None, STEPS_PER_BAR, None)
    if primer_meter not in (None, *METERS) and meter is None:
        log.warning("%s is in %s, which drumd does not play (it plays %s); continuing it in 4/4 "
                    "(its bars are kept)", primer, meter_name(primer_meter), ", ".join(map(meter_name, METERS)))
        meter = (4, 4)
    elif meter and primer_meter and meter != primer_meter:
        log.warning("%s is in %s; continuing it in %s as --meter asks (its bars are kept)",
                    primer, meter_name(primer_meter), meter_name(meter))
    meter = meter or primer_meter or (4, 4)
    primer_meter = primer_meter or meter
    if not ckpt.knows_meter(meter):
        log.warning("%s learnt %s only, not %s: its bars of %s are a guess (fine-tune it on "
                    "files in %s: README, 'Train on your own loops')", ckpt.path.name if ckpt.path else "the model",
                    ", ".join(ckpt.meters), meter_name(meter), meter_name(meter), meter_name(meter))
    bpm = bpm or (p.bpm if p else None) or 120.0
    controls = Controls(temperature=temperature, top_p=top_p, density=density, quantize=quantize, fill=fill,
                        variation=variation, fill_every=fill_every)
    # the continuation starts on the bar line after the primer (its first step = a carried downbeat hit)
    meters = (((0, *primer_meter), (len(steps), *meter)) if include_primer and steps and meter != primer_meter
              else ((0, *meter),))
    for s in styles:
        path = Path(out) / f"{s}.mid" if style == "all" else Path(out)
        result = gen(ckpt, bars, style=s, primer=steps, bpm=bpm, controls=controls, seed=seed,
                     carry=carry, meter=meter, primer_meter=primer_meter)
        # the primer from the file's own notes (flams and drags whole), not its quantized steps
        n = write_steps(path, ([Step()] * len(steps) if include_primer else []) + result, bpm,
                        out_map, meters=meters, notes=p.notes if include_primer and p else ())
        primed = (f", after {len(steps) // per_bar} primer bars" + (" and its next downbeat" if carry else "")
                  if p else "")
        in_meter = "" if meter == (4, 4) else f" of {meter_name(meter)}"
        click.echo(f"{path}: {bars} bars{in_meter}{primed}, {n} notes, style {s or 'default'}, {bpm:g} BPM, map {out_map}")


@click.command("eval")
@click.argument("checkpoints", nargs=-1, type=InputPath())
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for report.md, metrics.json and the plots.")
@click.option("--data", type=click.Path(file_okay=False),
              help="The Groove MIDI Dataset (holds info.csv: its test split), or any folder of drum "
                   "MIDI files (every file scored; styles: its subfolders).")
@library_options
@click.option("--primers", default=48, show_default=True, type=click.IntRange(1, 10000),
              help="2-bar primers taken from test files for free-running generation.")
@click.option("--samples", default=3, show_default=True, type=click.IntRange(1, 100),
              help="Continuations per primer and temperature (diversity needs 2 or more).")
@click.option("--temperature", "temperatures", multiple=True, type=click.FloatRange(0.05, 5),
              default=(0.8, 1.0), show_default=True)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--runs", default=16, show_default=True, type=click.IntRange(1, 1000),
              help="Unprimed seeds, and primed primers, per style for the listener figures "
                   "(each unprimed run starts from another drummer's groove: at 16 the "
                   "classifier test varies by about 0.05 between seeds, at 4 by 0.08).")
@click.option("--bars", default=64, show_default=True, type=click.IntRange(4, 1024),
              help="Length of each unprimed and primed run, in bars.")
@click.option("--min-beats", default=10, show_default=True, type=click.IntRange(1, 10000),
              help="Real test beats a style needs to be judged in the listener figures.")
def eval_cmd(checkpoints, out, data, map_name, channel, style, primers, samples, temperatures, seed,
             runs, bars, min_beats):
    """Score checkpoints (default: the shipped one) on the test split beside baselines, and
    judge how they play (unprimed and primed, per style) against the real test beats. On a
    folder of your own files (--data DIR without info.csv): every file scored, and the play of
    each of its styles the checkpoint knows judged against them."""
    _require("eval")
    from drumd.engine.data.gmd import DataError
    from drumd.engine.data.library import holds_gmd
    from drumd.engine.evaluation.evaluate import run_eval
    from drumd.engine.evaluation.report import console_tables, folder_console
    from drumd.engine.model.checkpoint import CheckpointError
    from drumd.engine.progress import on_terminal
    from drumd.mappings import MapError
    folder = data is not None and not holds_gmd(Path(data))
    given = [f"--{k}" for k, v in (("map", map_name), ("channel", channel), ("style", style)) if v is not None]
    if given and not folder:
        raise click.ClickException(f"{data or 'the default data'}: the Groove MIDI Dataset (it holds "
                                   f"info.csv) is read with its own map, channel and styles; "
                                   f"{', '.join(given)} apply to folders of MIDI files")
    try:
        if folder:
            from drumd.engine.evaluation.folder_eval import run_folder_eval
            m = run_folder_eval(checkpoints, Path(out), Path(data), map_name or "gm", channel or 10,
                                style, seed, progress=on_terminal(), runs=runs, listen_bars=bars,
                                min_beats=min_beats)
        else:
            m = run_eval(checkpoints, Path(out), Path(data) if data else None, primers, temperatures,
                         samples, seed, progress=on_terminal(), runs=runs, listen_bars=bars,
                         min_beats=min_beats)
    except (CheckpointError, DataError, MapError, ValueError) as e:
        raise click.ClickException(str(e))
    click.echo("\n".join(folder_console(m) if folder else console_tables(m)))
    click.echo(f"report: {Path(out) / 'report.md'} ({m['seconds']:.0f} s)")


COMMANDS = [train, generate, eval_cmd]
