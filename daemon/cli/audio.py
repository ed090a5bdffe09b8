"""`drumd render`, `drumd audition`, `drumd devices`: the built-in synth offline and live.

sounddevice (PortAudio) and the engine (the model) are imported inside the commands that need
them, so `drumd --help` and `drumd render` start quickly and work without an audio device.
"""
from __future__ import annotations

import time
import wave
from collections.abc import Iterable, Iterator
from pathlib import Path

import click
import numpy as np

from drumd.mappings.basics.files import OutputPathError, atomic_open, check_output_path
from drumd.mappings.basics.grid import STEPS_PER_BAR, seconds_per_step
from drumd.mappings.basics.midifile import read_drum_notes
from drumd.mappings.clitypes import InputPath

from drumd.daemon.sound.synth import VoiceMixer

# (seconds, GM pitch, velocity)
TimedHit = tuple[float, int, int]
# A render is streamed to the file block by block (memory: the hits and one block); the cap
# keeps a file's answer within seconds (a render takes about 1 s per 5 minutes of audio).
MAX_RENDER_SECONDS = 20 * 60


def midi_hits(path, channel: int = 10, drum_map=None) -> list[TimedHit]:
    """Note-ons of one MIDI channel (1-16) as GM hits, timed through the file's tempo map.

    Read by drumd.mappings.basics.midifile.read_drum_notes (the one reader of drum hits): tracks
    merged by tick, a hi-hat pedal CC4 at a note's tick applies to it. `drum_map` (a
    drumd.mappings DrumMap) translates vendor notes to GM, with the channel's last hi-hat
    pedal CC4 deciding open/closed; notes it has no GM hit for (chokes among them) are
    dropped. Without one the notes are taken as GM (the commands read them in the map the
    file names: see _file_hits). Raises MidiFileError naming the file.
    """
    return _gm_hits(read_drum_notes(path, channel), drum_map)


def _gm_hits(f, drum_map) -> list[TimedHit]:
    hits = []
    for n, t in zip(f.notes, f.seconds([n.tick for n in f.notes])):
        pitch = drum_map.to_gm(n.note, n.cc4) if drum_map is not None else n.note
        if pitch is not None:
            hits.append((t, pitch, n.velocity))
    return hits


def _file_hits(midi_file, channel, map_name, max_seconds=None) -> tuple[list[TimedHit], str]:
    """midi_hits for a command, in the drum map --map names, else the one the file names
    (drumd writes it: `drumd generate --map`, remap), else GM. Returns the hits and which map
    they were read in, for the command's summary line. Every problem with the file is one
    line naming it; a file map --map overrides is a warning."""
    f = read_drum_notes(midi_file, channel)
    from drumd.mappings.drummaps.loader import map_for_file
    drum_map, used, warning = map_for_file(midi_file, f.map_name, map_name)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    hits = _gm_hits(f, drum_map)
    if not hits:
        raise click.ClickException(f"{midi_file}: no notes on channel {channel}")
    if max_seconds is not None and hits[-1][0] > max_seconds:
        raise click.ClickException(f"{midi_file}: its last hit is at {hits[-1][0] / 60:,.0f} minutes; "
                                   f"drumd renders up to {max_seconds // 60} minutes")
    return hits, used


def render_blocks(hits, samplerate: int = 48000, block: int = 8192,
                  source=None) -> Iterator[np.ndarray]:
    """Mono float32 audio of the hits (TimedHit: seconds, GM pitch, velocity 1..127) in
    consecutive (n,) blocks of up to `block` frames at `samplerate` Hz, through the same mixer
    the live output uses (or `source`: another sound source with its interface at
    `samplerate`, such as a soundfont.FluidSource; it is closed at the end), to the end of the
    last hit's ring. Memory is the hits and one block, whatever the length."""
    mixer = VoiceMixer(samplerate, max_block=block) if source is None else source
    try:
        for t, pitch, velocity in hits:
            mixer.schedule(pitch, velocity, round(t * samplerate))
        # asked again after each block: a SoundFont's ring is known only as it sounds
        while (left := mixer.tail_frames()) > 0:
            yield mixer.render(min(block, left))
    finally:
        if hasattr(mixer, "close"):
            mixer.close()


def render_hits(hits, samplerate: int = 48000, block: int = 8192, source=None) -> np.ndarray:
    """The whole of render_blocks as one array (short renders; `drumd render` streams)."""
    blocks = list(render_blocks(hits, samplerate, block, source))
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def write_wav(path, audio: np.ndarray | Iterable[np.ndarray], samplerate: int,
              bits: int = 16) -> int:
    """Write mono audio (an (n,) float array, full scale +-1, clipped; or blocks of it as
    render_blocks yields them, converted one at a time) as 16- or 24-bit PCM at `samplerate`
    Hz, atomically (a temp file renamed over `path`). Returns the number of frames written.
    Raises OutputPathError if `path` is a folder or its folder does not exist."""
    full = 2 ** (bits - 1) - 1
    frames = 0
    path = Path(path)
    with atomic_open(path) as f, wave.open(f, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(bits // 8)
        w.setframerate(samplerate)
        for block in [audio] if isinstance(audio, np.ndarray) else audio:
            pcm = np.round(np.clip(block, -1.0, 1.0) * full).astype("<i4")
            if bits == 16:
                data = pcm.astype("<i2").tobytes()
            else:  # 24-bit: the low three bytes of each little-endian int32
                data = pcm.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
            w.writeframes(data)
            frames += len(block)
    return frames


def groove_hits(style: str, bpm: float, bars: int, seed: int | None) -> list[TimedHit]:
    """A groove from the shipped model: `bars` 4/4 bars at `bpm` (quarter notes per minute),
    ending on a fill over the last two beats, as TimedHits (seconds from its start). Raises
    click.ClickException when no model can be loaded, click.BadParameter for a style the
    model does not know."""
    from drumd.engine.model.checkpoint import CheckpointError, load_checkpoint
    from drumd.engine.sampling.sampler import Controls, Sampler

    try:
        sampler = Sampler(load_checkpoint(None), seed=seed)
    except CheckpointError as e:
        raise click.ClickException(f"no model to generate with: {e}")
    if style not in sampler.styles:
        raise click.BadParameter(f"{style!r}; the model knows {', '.join(sampler.styles)}",
                                 param_hint="--style")
    sampler.reset(style=style, bpm=bpm)
    step_s = seconds_per_step(bpm)
    steps = bars * STEPS_PER_BAR
    hits = []
    for i in range(steps):
        step = sampler.step(Controls(fill=i >= steps - 8))
        hits += [(max(0.0, (i + h.offset) * step_s), h.pitch, h.velocity) for h in step.hits]
    return hits


def play_hits(out, hits, start: float = 0.1, feed_ahead: float = 0.5) -> None:
    """Feed hits (t in s from the start, GM pitch, velocity) to a SynthOutput ahead of time,
    then let them ring. The first sounds `start` s after the output's latency; each is queued
    `feed_ahead` s before it is due, so a sleep this thread overslept on a busy box (0.1 s
    ahead lost or merged a hit once under load) still queues it in time."""
    t0 = time.perf_counter() + out.latency + start
    for t, pitch, velocity in sorted(hits):
        wait = t0 + t - feed_ahead - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        out.play(pitch, velocity, t0 + t)
    while out.busy:
        time.sleep(0.05)


_channel = click.option("--channel", type=click.IntRange(1, 16), default=10, show_default=True,
                        help="MIDI channel of the drums.")
_map = click.option("--map", "map_name", metavar="NAME",
                    help="Vendor drum map of the file's notes (see `drumd maps`), translated to "
                         "GM. Default: the map the file names (drumd writes it), else GM.")


_soundfont = click.option(
    "--soundfont", metavar="FILE.sf2",
    help="Play through FluidSynth with this SoundFont's drum kit (its GM kit, bank 128, else "
         "its first preset) instead of the built-in kit: any GM SoundFont (FluidR3_GM.sf2), "
         "AVL Drumkits' own (Black_Pearl_4_LV2.sf2, with --soundfont-map avl-drumkits).")
_soundfont_map = click.option(
    "--soundfont-map", metavar="NAME",
    help="Drum map of the SoundFont's kit (see `drumd maps`): the file's notes, read as GM, "
         "are played on its notes. Default: gm.")


def sound_source(soundfont, soundfont_map):
    """The sound source a command's --soundfont and --soundfont-map ask for: None for the
    built-in kit, else a factory (samplerate, channels=1, max_block=8192) -> FluidSource that
    plays GM hits on the kit's notes. The file and map are checked here: one line each
    (click.ClickException for the file or a map without a SoundFont, MapError for the map)."""
    if soundfont is None:
        if soundfont_map is not None:
            raise click.ClickException("--soundfont-map names the map of a --soundfont's kit; "
                                       "give --soundfont FILE.sf2 too")
        return None
    from drumd.daemon.sound.soundfont import FluidSource, soundfont_problem
    problem = soundfont_problem(soundfont)
    if problem:
        raise click.ClickException(problem)
    kit_notes, map_name = None, "gm"
    if soundfont_map is not None:
        from drumd.mappings.drummaps.loader import load_map
        from drumd.mappings.drummaps.translate import Translator
        kit = load_map(soundfont_map)
        map_name = kit.name
        if kit.name != "gm":  # GM to the kit's notes; a stand-in where it has no such drum
            kit_notes = Translator("gm", kit, unmapped="nearest").note

    def make(samplerate, channels=1, max_block=8192):
        return FluidSource(soundfont, samplerate, channels, max_block, kit_notes=kit_notes)
    make.map_name = map_name  # for the summary line
    return make


def describe_source(source, soundfont, make) -> str:
    """'X.sf2 (kit K, NAME notes)' for a command's summary line; a warning on stderr when the
    kit is outside the GM drum bank and no --soundfont-map says its map."""
    if not source.is_gm_kit and make.map_name == "gm":
        click.echo(f"warning: {soundfont}: its kit {source.kit_name!r} is not in the GM drum bank "
                   "(128); playing it GM notes. Give --soundfont-map NAME if it follows another "
                   "map (AVL Drumkits' SoundFonts: avl-drumkits)", err=True)
    return f"{Path(soundfont).name} (kit {source.kit_name!r}, {make.map_name} notes)"


@click.command()
@click.argument("midi_file", type=InputPath())
@click.argument("wav_file", type=click.Path())  # checked by check_output_path: one line
@_channel
@_map
@_soundfont
@_soundfont_map
@click.option("--rate", type=click.IntRange(8000, 192000), default=48000, show_default=True,
              help="Sample rate in Hz.")
@click.option("--bits", type=click.Choice(["16", "24"]), default="16", show_default=True)
def render(midi_file, wav_file, channel, map_name, soundfont, soundfont_map, rate, bits):
    """Render the drums of MIDI_FILE to WAV_FILE with the built-in synth (or a SoundFont)."""
    make = sound_source(soundfont, soundfont_map)
    hits, used = _file_hits(midi_file, channel, map_name, MAX_RENDER_SECONDS)
    try:
        check_output_path(wav_file)
        source = make(rate) if make else None
        played_by = f"; played by {describe_source(source, soundfont, make)}" if make else ""
        frames = write_wav(wav_file, render_blocks(hits, rate, source=source), rate, int(bits))
    except OutputPathError:
        raise  # a DrumdError: one line, from the CLI's one handler
    except OSError as e:
        raise click.ClickException(f"{wav_file}: cannot write ({e.strerror or e})") from None
    click.echo(f"{wav_file}: {len(hits)} hits, {frames / rate:.1f} s; notes read as {used}{played_by}")


@click.command()
@click.argument("midi_file", required=False, type=InputPath())
@click.option("--style", default="rock", show_default=True, help="Style of the generated groove.")
@click.option("--bpm", type=click.FloatRange(30, 300), default=110.0, show_default=True)
@click.option("--bars", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--seed", type=int, help="Seed for a repeatable groove.")
@click.option("--device", help="Output device, name or index (see `drumd devices`).")
@_channel
@_map
@_soundfont
@_soundfont_map
def audition(midi_file, style, bpm, bars, seed, device, channel, map_name, soundfont,
             soundfont_map):
    """Hear drumd without a DAW: play a generated groove (or MIDI_FILE) through the synth
    (or a SoundFont).

    --style, --bpm, --bars and --seed shape the generated groove; --channel and --map apply
    to MIDI_FILE.
    """
    from drumd.daemon.sound.audio import SynthOutput

    make = sound_source(soundfont, soundfont_map)
    hits, used = _file_hits(midi_file, channel, map_name) if midi_file else (None, None)
    # before the model loads: no PortAudio, no device or a bad SoundFont is known at once
    out = SynthOutput(device=int(device) if device and device.isdigit() else device, source=make)
    sounds = describe_source(out.source, soundfont, make) if make else None
    if hits is None:
        click.echo(f"generating {bars} bars of {style} at {bpm:g} BPM...")
        try:
            hits = groove_hits(style, bpm, bars, seed)
        except BaseException:
            out.close()
            raise
    with out:
        if used is not None:
            click.echo(f"playing {midi_file}: {len(hits)} hits; notes read as {used}"
                       + (f"; played by {sounds}" if sounds else ""))
        elif sounds:
            click.echo(f"playing through {sounds}")
        play_hits(out, hits)


@click.command()
def devices():
    """List audio devices and host APIs."""
    from drumd.daemon.sound.audio import describe_devices

    click.echo(describe_devices())


COMMANDS = [audition, render, devices]
