"""`drumd maps` and `drumd remap`."""
from __future__ import annotations

import logging
import os
import sys
import textwrap
from pathlib import Path

import click

from drumd.mappings.basics.midifile import MIDI_SUFFIXES, MidiFileError, RemapStats, remap_file
from drumd.mappings.clitypes import InputPath
from drumd.mappings.drummaps.drummap import MapError
from drumd.mappings.drummaps.loader import BUILTIN_DIR, gm_name, list_maps, load_map, read_map, user_dir
from drumd.mappings.drummaps.translate import DROP, POLICIES, Translator

log = logging.getLogger(__name__)


def _load(spec: str):
    return load_map(spec)  # a MapError is one line, from the CLI's one handler


def _table(header: tuple, rows: list[tuple]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


@click.group("maps")
def maps():
    """Drum maps: vendor note layouts and what they mean in General MIDI."""


@maps.command("list")
def list_cmd():
    """List the built-in maps and your own."""
    try:
        found = list_maps()
    except MapError as e:
        raise click.ClickException(f"{e}\n(fix it, or check it with `drumd maps check FILE`)") from None
    _table(("id", "aliases", "notes", "from", "title"),
           [(m.name, ",".join(m.aliases), len(m.notes), m.origin, m.title) for m in found])
    click.echo(f"\nYour maps go in {user_dir()} (a map there replaces a built-in one of the same id).")


@maps.command("show")
@click.argument("name")
def show_cmd(name):
    """Show a map note by note (NAME: id, alias or .yaml path)."""
    m = _load(name)
    click.echo(f"{m.name}: {m.title}")
    if m.aliases:
        click.echo(f"aliases: {', '.join(m.aliases)}")
    if m.product:
        click.echo("product: " + ", ".join(m.product.values()))
    click.echo(f"channel {m.channel}; the vendor calls MIDI note 60 {m.middle_c}; file: {m.path}")
    if m.hihat_pedal:
        click.echo(f"hi-hat openness from CC4 (closed at >= {m.hihat_closed_at}) for notes "
                   + ", ".join(map(str, sorted(m.hihat_pedal))))
    click.echo()
    rows = []
    for note, art in sorted(m.notes.items()):
        played = art.gm is not None and (m.choke_for(art.gm) if art.is_choke else m.from_gm(art.gm))
        flags = ("*" if played == note else "") + ("?" if note in m.uncertain else "") \
            + ("p" if note in m.hihat_pedal else "")
        gm, gm_title = ("-", "") if art.gm is None else (art.gm, gm_name(art.gm))
        folded = [str(g) for g, n in m.folds.items() if n == note]
        if folded:
            gm_title += f" (also plays GM {', '.join(folded)})"
        rows.append((note, m.note_name(note, "C3"), m.note_name(note, "C4"), art.name, gm,
                     gm_title, art.cls + (" choke" if art.is_choke else ""), flags))
    _table(("note", "C3=60", "C4=60", "articulation", "GM", "GM name", "class", ""), rows)
    click.echo("\n* played for its GM note (a choke: stops that GM cymbal)   ? uncertain   "
               "p open/closed follows CC4")
    for title, lines in (("remarks", m.remarks), ("sources", m.sources)):
        if lines:
            click.echo(f"\n{title}:")
            for line in lines:
                click.echo(f"  - {line}")


@maps.command("check")
@click.argument("file", type=InputPath(path_type=Path))
def check_cmd(file: Path):
    """Validate a map file; exit status 1 if it is not usable."""
    # In the user folder a map is found by its file name, so the name must match it.
    expect = file.stem if file.resolve().parent == user_dir().resolve() else None
    m = read_map(file, expect_name=expect)
    chokes = sum(a.is_choke for a in m.notes.values())
    click.echo(f"OK {file}: {m.name} ({m.title}): {len(m.notes)} notes, plays "
               f"{len(m.gm_notes)} GM notes, "
               + (f"{chokes} choke{'s' * (chokes != 1)}, " if chokes else "")
               + f"{len(m.uncertain)} uncertain")
    if m.uncertain:
        # what the map itself says it is unsure of (an imported map: names that said too little)
        click.echo(textwrap.fill(
            "uncertain (guesses to confirm): " + ", ".join(
                f"{n} {m.notes[n].name!r} as "
                + (f"GM {m.notes[n].gm}" if m.notes[n].gm is not None else "no GM note")
                for n in sorted(m.uncertain)),
            width=100, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False))
    by_rule = sorted(m.gm_notes - m.preferred.keys())
    if by_rule:
        click.echo("  GM notes without a `preferred` entry (lowest plain note chosen): "
                   + ", ".join(f"{g} -> {m.from_gm(g)}" for g in by_rule))


@maps.command("import")
@click.argument("file", type=InputPath(path_type=Path))
@click.option("--name", metavar="NAME", help="Id of the new map (default: from FILE's name).")
@click.option("--force", is_flag=True, help="Replace your map of that name if there is one.")
def import_cmd(file: Path, name, force):
    """Make a drum map from a plugin's or DAW's note names: a MIDNAM file (.midnam), a Cubase
    drum map (.drm) or a Reaper note-name file (.txt).

    Each note's GM meaning is guessed from its name; names that say too little are marked
    uncertain, names drumd cannot place are left out; both are listed. The map is written to
    your map folder (see `drumd maps list`) as NAME.yaml; check it with `drumd maps show NAME`."""
    from datetime import date

    from drumd.mappings.basics.files import atomic_open
    from drumd.mappings.drummaps.importers import guess_map, map_yaml, read_note_names, slug
    from drumd.mappings.drummaps.schema import parse_map

    found = read_note_names(file)
    map_id = slug(name if name is not None else file.stem)
    if not map_id or (name is not None and map_id != name):
        raise click.ClickException(
            f"--name {name!r}: expected an id of lower-case letters, digits, '.', '_' or '-'"
            if name is not None else
            f"{file}: cannot make a map id from the file name; give one with --name")
    out = user_dir() / f"{map_id}.yaml"
    if out.exists() and not force:
        raise click.ClickException(f"{out}: you already have a map {map_id!r}; not replaced "
                                   "(give --force to replace it, or --name for another id)")
    placed, left = guess_map(found.rows)
    if not placed:
        raise click.ClickException(f"{file}: none of its {len(found.rows)} note names is a drum "
                                   "drumd knows (kick, snare, hi-hat, tom, cymbal, percussion)")
    title = found.title or f"{file.name} (imported)"
    source = f"{file.name}: {found.fmt} note names, imported by drumd maps import on {date.today()}"
    text = map_yaml(map_id, title, source, found, placed, left)
    m = parse_map(text, str(out), map_id)  # what is written loads; a MapError here is drumd's bug
    out.parent.mkdir(parents=True, exist_ok=True)  # the user map folder is drumd's to make
    with atomic_open(out) as f:
        f.write(text.encode("utf-8"))
    builtin = (BUILTIN_DIR / f"{map_id}.yaml").is_file()
    click.echo(f"read {len(found.rows)} note names from {file} ({found.fmt}); wrote {out}"
               + (f" (it replaces the built-in map {map_id!r})" if builtin else ""))
    rows = []
    for g in placed:
        flag = "?" if g.note in m.uncertain else ""
        rows.append((g.note, g.name, g.gm, gm_name(g.gm),
                     g.cls + (" choke" if g.kind == "choke" else ""), flag, g.why))
    _table(("note", "name", "GM", "GM name", "class", "", "why uncertain"), rows)
    if m.folds:
        click.echo("GM toms the kit has none of play its nearest tom: "
                   + ", ".join(f"{g} -> {n}" for g, n in sorted(m.folds.items())))
    for remark in found.notes:
        click.echo(remark)
    click.echo(f"{len(placed)} placed, {len(m.uncertain)} of them uncertain (?); "
               f"{len(left)} left out")
    for g in left:
        click.echo(f"  left out: {g.note} {g.name!r}: no drum drumd knows in the name")
    click.echo(f"Check it: drumd maps show {map_id}; fix guesses in {out}")



@maps.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["midnam", "reaper"]), required=True,
              help="midnam: a MIDINameDocument (Ardour, Logic, many plugins' hosts); reaper: "
                   "a Reaper note-name file (MIDI editor: Note names > Load).")
@click.option("--out", type=click.Path(path_type=Path), metavar="FILE",
              help="Write to FILE (replaced atomically) instead of printing.")
def export_cmd(name, fmt, out: Path | None):
    """Write a map's note names (NAME: id, alias or .yaml path) for a DAW to show: each note's
    number and name. `drumd maps import` reads the file back."""
    from drumd.mappings.basics.files import OutputPathError, atomic_open
    from drumd.mappings.drummaps.exporters import export_text

    m = _load(name)
    text = export_text(m, fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        with atomic_open(out) as f:
            f.write(text.encode("utf-8"))
    except OSError as e:  # OutputPathError: one line naming the path
        raise click.ClickException(str(e) if isinstance(e, OutputPathError)
                                   else f"{out}: cannot write ({e.strerror or e})") from None
    click.echo(f"wrote {len(m.notes)} note names of {m.name} to {out} ({fmt})")

def _channel(ctx, param, value):
    if value is None:
        return None
    if value.lower() == "all":
        return "all"
    try:
        channel = int(value)
    except ValueError:
        channel = 0
    if not 1 <= channel <= 16:
        raise click.BadParameter(f"expected a MIDI channel 1-16 or 'all', got {value!r}")
    return channel


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))


def _jobs(src: Path, dst: Path | None, in_place: bool) -> list[tuple[Path, Path]]:
    """(input file, output file) pairs; refuses anything that would overwrite the input."""
    if in_place:
        if dst is not None and not _same(src, dst):
            raise click.UsageError("--in-place rewrites IN; leave out OUT")
        dst = src
    elif dst is None:
        raise click.UsageError("missing OUT (or give --in-place to rewrite IN)")
    elif src.is_file() and dst.is_dir():
        dst = dst / src.name
    if not in_place and _same(src, dst):
        raise click.ClickException(f"{dst}: OUT is IN; refusing to overwrite the input "
                                   "(use --in-place to rewrite it)")
    if not src.is_dir():
        return [(src, dst)]
    if not in_place:
        if dst.exists() and not dst.is_dir():
            raise click.ClickException(f"{dst}: IN is a folder, so OUT must be a folder too")
        if dst.resolve().is_relative_to(src.resolve()):
            raise click.ClickException(f"{dst}: OUT is inside IN; outputs would mix with inputs")
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in MIDI_SUFFIXES)
    if not files:
        raise click.ClickException(f"{src}: no .mid or .midi files under this folder")
    return [(p, dst / p.relative_to(src)) for p in files]


def _unmapped_report(tr: Translator) -> None:
    rows = []
    for note, count in sorted(tr.unmapped.items()):
        art, gm = tr.src.notes.get(note), tr.src.to_gm(note)
        if art is None:
            why = f"not in {tr.src.name}"
        elif gm is None:
            why = "no GM equivalent"
        else:
            why = f"GM {gm} {gm_name(gm)}: not in {tr.dst.name}"
        out = tr.table[note]
        result = ("dropped" if out == DROP else f"kept as {out}" if tr.policy == "pass"
                  else f"-> {out} {tr.dst.notes[out].name}")
        rows.append((count, note, art.name if art else "", why, result))
    click.echo(f"\nunmapped notes (--unmapped {tr.policy}):")
    _table(("count", "note", f"{tr.src.name} name", "why", "result"), rows)


def _chokes_dropped(tr: Translator) -> str:
    """' (of which N cymbal chokes: DST has no choke for GM 49, 57)', or ''."""
    if not tr.chokes_dropped:
        return ""
    n = sum(tr.chokes_dropped.values())
    cymbals = sorted({tr.src.choke_of(note) for note in tr.chokes_dropped})
    return (f" (of which {n} cymbal choke{'s' * (n != 1)}: {tr.dst.name} has no choke for "
            f"{', '.join(f'GM {g} {gm_name(g)}' for g in cymbals)}; a choke never becomes a hit)")


@click.command("remap")
@click.argument("src", metavar="IN", type=InputPath(folder_ok=True, path_type=Path))
@click.argument("dst", metavar="[OUT]", required=False, type=click.Path(path_type=Path))
@click.option("--from", "src_map", metavar="MAP",
              help="Drum map IN was written for: id, alias or .yaml path (see `drumd maps list`). "
                   "Default: the map each file names (drumd writes it), else GM.")
@click.option("--to", "dst_map", required=True, metavar="MAP", help="Drum map to write for.")
@click.option("--unmapped", type=click.Choice(POLICIES), default="drop", show_default=True,
              help="Notes without an equivalent: leave out, keep the number, or play the "
                   "closest drum of a similar kind.")
@click.option("--channel", callback=_channel, metavar="N|all",
              help="MIDI channel (1-16) of the drums, or 'all'. Default: the --from map's "
                   "channel (10 for every built-in map).")
@click.option("--in-place", is_flag=True, help="Rewrite IN itself (atomically); no OUT.")
def remap(src: Path, dst: Path | None, src_map, dst_map, unmapped, channel, in_place):
    """Translate the drum notes of a MIDI file, or of every .mid/.midi file under a folder
    (OUT then mirrors its tree), from one drum map to another.

    Only note numbers change: tempo, meta events, controllers, other channels and every
    tick stay as they are. A note-off always follows its note-on. Files are written
    atomically; IN is never overwritten without --in-place."""
    dst_kit = _load(dst_map)
    if src_map is not None:
        _load(src_map)  # a bad --from is one line before any file is read
    jobs = _jobs(src, dst, in_place)
    translators: dict[str, Translator] = {}  # by source map: one per map the files are in
    stats, failed = RemapStats(), []
    if src.is_dir():
        from tqdm import tqdm
        # a bar only on a terminal (stderr, where tqdm draws it), as engine.progress.on_terminal
        # decides for train and eval (mappings cannot import engine)
        jobs = tqdm(jobs, desc="remap", unit="file", disable=not sys.stderr.isatty())
    if src.is_dir() and not in_place and not dst.parent.is_dir():
        raise click.ClickException(f"{dst}: folder {dst.parent} does not exist (create it first; "
                                   "drumd does not)")
    for s, d in jobs:
        try:
            tr = _translator(s, src_map, dst_kit, unmapped, channel, translators)
            channels = None if channel == "all" else frozenset({(channel or tr.src.channel) - 1})
            if src.is_dir():  # OUT mirrors IN's tree: its folders are drumd's to make
                d.parent.mkdir(parents=True, exist_ok=True)
            remap_file(s, d, tr, channels, stats, require_notes=not src.is_dir())
        except (MidiFileError, MapError, OSError) as e:
            if not src.is_dir():
                raise click.ClickException(str(e)) from None
            failed.append(str(e))
    trs = list(translators.values())
    unmapped_n = sum(sum(tr.unmapped.values()) for tr in trs)
    click.echo(f"remapped {stats.files} file{'s' * (stats.files != 1)} from "
               f"{', '.join(tr.src.name for tr in trs) or src_map or 'their maps'} to "
               f"{dst_kit.name}: {stats.notes} notes, {unmapped_n} unmapped, "
               f"{stats.dropped} dropped{''.join(_chokes_dropped(tr) for tr in trs)}")
    for tr in trs:
        if tr.unmapped:
            _unmapped_report(tr)
    if failed:
        for msg in failed:
            log.error(msg)
        raise click.ClickException(f"{len(failed)} file(s) could not be remapped")


def _translator(path: Path, src_map: str | None, dst, unmapped: str, channel,
                translators: dict) -> Translator:
    """The Translator for one file: from the map --from names, else the one the file names
    (loader.map_for_file, as render and audition read a file), else GM; a --from that
    disagrees with the file's map is a warning. MapError for a file naming a map not known."""
    from drumd.mappings.basics.midifile import read_drum_notes
    from drumd.mappings.drummaps.loader import map_for_file
    try:
        ch = channel if isinstance(channel, int) else _load(src_map).channel if src_map else 10
        named = read_drum_notes(path, ch).map_name
    except MidiFileError:
        named = None  # no drums on that channel: remap_file says so, or copies the file
    kit, _, warning = map_for_file(path, named, src_map, "--from")
    if warning:
        click.echo(f"warning: {warning}", err=True)
    kit = kit or _load("gm")
    if kit.name not in translators:
        translators[kit.name] = Translator(kit, dst, unmapped)
    return translators[kit.name]

COMMANDS = [maps, remap]
