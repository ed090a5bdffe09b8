"""`drumd serve` (the real-time daemon) and `drumd ports`."""
from __future__ import annotations

import faulthandler
import logging
import os
import queue
import signal
import sys
import time

import click

from drumd.daemon.cli import config as config_mod
from drumd.mappings.clitypes import InputPath

log = logging.getLogger(__name__)


@click.command()
@click.option("--config", "config_path", type=InputPath(), default=None,
              help="YAML settings (keys as these flags, with underscores; plus a `cc:` table).")
@config_mod.options  # one option per setting of config.SETTINGS, in its order
def serve(config_path, **flags):
    """Play drums live: follow the DAW's clock, listen to the player, send MIDI."""
    if not flags["mute"]:
        flags["mute"] = None
    else:
        flags["mute"] = list(flags["mute"])
    settings = config_mod.resolve(config_path, flags)  # a ConfigError: one line, from the drumd group
    sys.exit(run(settings))


def run(settings: dict) -> int:
    """Build everything (imports, model) before any clock runs, then play until stopped."""
    # A crash in native code (rtmidi, libjack, PortAudio) then says which thread was where.
    faulthandler.enable()
    from drumd.daemon.midi import ports
    from drumd.daemon.play.record import Recorder
    from drumd.daemon.play.session import Session
    from drumd.daemon.play.status import StatusLine
    from drumd.daemon.play.voicing import PlayerInput, Voicing
    from drumd.daemon.timing.jacktransport import TransportError
    from drumd.engine.data.encoding import parse_meter
    from drumd.engine.model.checkpoint import CheckpointError, load_checkpoint
    from drumd.engine.sampling.sampler import Sampler
    from drumd.mappings import MapError, load_map
    from drumd.mappings.basics.files import OutputPathError, check_output_path

    try:
        for key in ("record", "stats"):  # checked now: both are written when drumd stops
            if settings[key]:
                check_output_path(settings[key])
        meter = parse_meter(settings["meter"])  # checked already (flag and file): its (n, d)
        ckpt = load_checkpoint(settings["checkpoint"])
        settings["style"] = settings["style"] or ckpt.default_style
        if settings["style"] not in ckpt.styles:
            raise click.ClickException(f"unknown style {settings['style']!r}; this checkpoint "
                                       f"knows: {', '.join(ckpt.styles)}")
        if not ckpt.knows_meter(meter):
            log.warning("%s learnt %s only, not %s: its bars of %s are a guess (fine-tune it on "
                        "files in %s: README, 'Train on your own loops')", ckpt.path.name,
                        ", ".join(ckpt.meters), *[settings["meter"]] * 3)
        sampler = Sampler(ckpt, seed=settings["seed"])
        voicing = Voicing(settings["out_map"], settings["channel"], settings["velocity_curve"])
        player_input = PlayerInput(settings["in_map"])
        api = ports.choose_api(settings["api"])
        in_name, out_name = ports.default_port_names(api)
        in_client, out_client = ports.client_names(api, settings["client"])
        inbox = queue.SimpleQueue()
        in_port = ports.open_input(api, in_client, settings["in_port"] or in_name,
                                   settings["connect_in"], inbox)
        out_port = ports.open_output(api, out_client, settings["out_port"] or out_name,
                                     settings["connect_out"])
        transport = None
        if settings["clock"] == "jack":
            from drumd.daemon.timing.jacktransport import JackTransport
            transport = JackTransport(f"{settings['client']}-transport", settings["bpm"])
        elif settings["clock"] == "link":
            from drumd.daemon.timing.linkclock import LinkTransport
            transport = LinkTransport(settings["bpm"], meter=meter)
        elif settings["clock"] == "auto":
            # JACK transport too, where a JACK server runs (a DAW on it may lead). Not Link:
            # joining a Link session makes drumd a peer every app on the network sees, and
            # its tempo the session's when alone; that takes asking for (--clock link).
            from drumd.daemon.timing.jacktransport import JackTransport
            try:
                transport = JackTransport(f"{settings['client']}-transport", settings["bpm"])
            except TransportError:
                transport = None  # no JACK: MIDI clock, else drumd's own
    except (CheckpointError, MapError, ValueError, ports.PortError, OutputPathError) as e:
        raise click.ClickException(str(e)) from None
    except TransportError as e:
        in_port.close()
        out_port.close()
        raise click.ClickException(str(e)) from None

    try:
        synth, guitar = _open_audio(settings)
    except click.ClickException:
        if transport is not None:
            transport.close()
        in_port.close()
        out_port.close()
        raise
    status = StatusLine(settings["status"])
    recorder = Recorder(settings["record"], time.perf_counter(), settings["bpm"],
                        maps={"drumd out": load_map(settings["out_map"]).name,
                              "player in": player_input.map.name}, meter=meter) \
        if settings["record"] else None
    session = Session(settings, sampler, in_port, out_port, inbox, voicing, player_input,
                      recorder, status, synth=synth, guitar=guitar, transport=transport)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: session.stop())
    log.info("serving on %s (%s), mode %s, style %s", ports.api_name(api), settings["client"],
             settings["mode"], settings["style"])
    for audio in (synth, guitar):
        if audio is not None:
            audio.start()
    session.start()
    try:
        session.run_until_stopped()
    finally:
        lost_take = shut_down(session, status, in_port, out_port, (synth, guitar),
                              settings["stats"])
    if in_port.abandoned or out_port.abandoned:
        # Python's own teardown would close the rtmidi clients and block in libjack for good
        print("drumd: the JACK server stopped answering; leaving without closing drumd's "
              "ports", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(1)
    if lost_take is not None:
        raise click.ClickException(lost_take)
    if session.error is not None:
        raise session.error
    return 0


def shut_down(session, status, in_port, out_port, audio=(), stats_path=None) -> str | None:
    """End a session: silence and stop it, write the recording, close audio and ports, write
    the stats, each whatever failed before it. Returns the line to end `serve` with when the
    recording could not be written (its folder removed while playing, a full disk), else None.
    """
    from drumd.mappings.basics.midifile import MidiFileError
    lost_take = None
    try:
        session.shutdown()  # every note is switched off before the recording is written
    except MidiFileError as e:
        lost_take = f"{e}; the recording was not saved"
    # Audio before the MIDI clients: PortAudio's JACK stream close hangs on a synchronous
    # (-S) server once they are gone; and not at all on a hung server (out_port.close).
    alive = out_port.server_alive(0.2)
    if alive:
        for a in audio:
            if a is not None:
                a.close()
    transport = getattr(session, "transport", None)  # --clock jack's client: no libjack call
    if transport is not None and alive:               # on a hung server
        transport.close()
    in_port.close()
    out_port.close()
    if stats_path:
        _write_stats(stats_path, session)
    return lost_take


def _audio_device(name: str | None):
    """sounddevice's device argument: None for the default, an index, or (part of) a name."""
    if name is None or name == "default":
        return None
    return int(name) if name.isdigit() else name


def _open_audio(settings: dict):
    """(SynthOutput or None, GuitarFollower or None), streams opened but not started."""
    if not settings["synth"] and settings["audio_in"] is None:
        return None, None
    from drumd.daemon.sound.audio import AudioError, SynthOutput, set_jack_client_name
    from drumd.daemon.sound.guitar import GuitarConfig, GuitarFollower
    synth = guitar = None
    try:
        # Not the MIDI client's name: JACK would rename whichever client opens second. The
        # guitar is captured by a child process, a client of its own.
        set_jack_client_name(f"{settings['client']}-audio")
        if settings["synth"]:
            synth = SynthOutput(_audio_device(settings["synth_device"]))
        if settings["audio_in"] is not None:
            guitar = GuitarFollower(
                _audio_device(settings["audio_in"]), settings["audio_channel"] - 1,
                config=GuitarConfig(fill_after_bars=settings["guitar_silence_bars"]),
                client=f"{settings['client']}-guitar")
    except AudioError as e:  # no PortAudio, no such device, or it cannot be opened
        if synth is not None:
            synth.close()
        raise click.ClickException(str(e)) from None
    return synth, guitar


def _write_stats(path: str, session) -> None:
    """Counters for benchmarks and soak tests; step times cover the last 1024 steps."""
    import json
    stats = {**session.snapshot(), "max": max(session.compute_s, default=0.0) * 1000,
             "sent": session.sender.stats.sent, "realtime_sender": session.sender.realtime}
    if session.synth is not None:
        stats.update(synth_latency=session.synth.latency, synth_late_hits=session.synth.late_hits)
    with open(path, "w") as f:
        json.dump(stats, f, indent=1)


@click.command("ports")
@click.option("--api", type=config_mod.API.kind.click_type(), default=config_mod.API.default,
              show_default=True, help=config_mod.API.help + ".")
def ports_cmd(api):
    """List the MIDI ports the chosen MIDI system sees."""
    from drumd.daemon.midi import ports
    chosen = ports.choose_api(api)  # a PortError: one line, from the drumd group
    ins, outs = ports.list_ports(chosen)
    click.echo(f"{ports.api_name(chosen)}")
    click.echo("sources (--connect-in):")
    for p in ins:
        click.echo(f"  {p}")
    click.echo("destinations (--connect-out):")
    for p in outs:
        click.echo(f"  {p}")


COMMANDS = [serve, ports_cmd]
