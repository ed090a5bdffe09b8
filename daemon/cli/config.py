"""`drumd serve` settings, described once: the table `SETTINGS` below.

From each `Setting` come the `serve` flag (daemon/cli/serve.py: `options()`), the check of the
key in a YAML `--config` file (`load`: mistakes as `FILE:LINE: key: expected ..., got ...`)
and the row of the README's settings table (daemon/cli/settings_table.py). A flag and a file
key therefore take the same values. The resolved settings are a plain dict, key -> value.

Order of precedence: defaults, then the config file, then the flags given.
"""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from pathlib import Path

import click
import yaml

from drumd.daemon.play.controls import (DEFAULT_CC, DEFAULT_FILL_EVERY, DEFAULT_FOLLOW, DEFAULT_VARIATION,
                                        GROUPS, MODES)
from drumd.daemon.sound.guitar import GuitarConfig
from drumd.mappings.basics.errors import DrumdError
from drumd.mappings.basics.settingsfile import SettingsFileError, read_entries
from drumd.mappings.clitypes import InputPath


class ConfigError(DrumdError):
    """One line: FILE:LINE: key: what was expected, and what was found."""


# --- kinds of value ---------------------------------------------------------------------------

class Kind(abc.ABC):
    """A kind of setting value: how a YAML value is checked, which click type the flag gets (the
    same range) and what it takes, in words. Subclasses are frozen dataclasses."""

    def from_text(self, s: str):
        """A flag's text as the value a YAML file would give (a gamma as a float); `check` follows."""
        return s

    @abc.abstractmethod
    def check(self, v):
        """`v` as read from YAML (or converted by `from_text`), checked; returns the value to use.
        Raises ValueError("expected ...") naming what the setting takes."""

    @abc.abstractmethod
    def click_type(self):
        """The flag's click type (None: an on/off flag), refusing what `check` refuses."""

    @abc.abstractmethod
    def values(self) -> str:
        """What the setting takes, in words, for help and the README's table."""


class _Checked(click.ParamType):
    """A flag whose text is checked by a kind's own `check` (meter, curve, device, text)."""

    def __init__(self, kind, name: str):
        self.kind, self.name = kind, name

    def convert(self, value, param, ctx):
        try:
            return self.kind.check(self.kind.from_text(value) if isinstance(value, str) else value)
        except ValueError as e:
            self.fail(f"{e}, got {value!r}", param, ctx)


class _FloatRange(click.FloatRange):
    """click's FloatRange, refusing nan (which compares inside every range: `--bpm nan`)."""

    def convert(self, value, param, ctx):
        v = super().convert(value, param, ctx)
        if math.isnan(v):
            self.fail(f"{value!r} is not a number", param, ctx)
        return v


@dataclass(frozen=True)
class Choice(Kind):
    """One of a fixed set of words (`--mode`, `--clock`, `--api`)."""
    options: tuple[str, ...]

    def check(self, v):
        if v not in self.options:
            raise ValueError(f"expected one of {', '.join(self.options)}")
        return v

    def click_type(self):
        return click.Choice(list(self.options))

    def values(self) -> str:
        return " / ".join(self.options)


@dataclass(frozen=True)
class Number(Kind):
    """A number from `lo` to `hi` (either may be None: unbounded), whole if `integer`; NaN is refused."""
    lo: float | None = None
    hi: float | None = None
    integer: bool = False

    def _what(self) -> str:
        return "an integer" if self.integer else "a number"

    def check(self, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (self.integer and not isinstance(v, int)) \
                or (not self.integer and not math.isfinite(v)):
            raise ValueError(f"expected {self._what()}")
        if (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
            raise ValueError(f"expected {self._what()} {self._range()}")
        return v if self.integer else float(v)  # a flag's FLOAT is a float too

    def _range(self) -> str:
        if self.hi is None:
            return f"of at least {_show(self.lo)}"
        return f"from {_show(self.lo)} to {_show(self.hi)}"

    def click_type(self):
        return (click.IntRange if self.integer else _FloatRange)(self.lo, self.hi)

    def values(self) -> str:
        if self.hi is None:
            return f"{_show(self.lo)} or more" + (" (whole)" if self.integer else "")
        return f"{_show(self.lo)} – {_show(self.hi)}" + (" (whole)" if self.integer else "")


@dataclass(frozen=True)
class Flag(Kind):
    """On or off: `--name/--no-name`, `name: true|false`."""

    def check(self, v):
        if not isinstance(v, bool):
            raise ValueError("expected true or false")
        return v

    def click_type(self):
        return None  # click makes a boolean flag of "--x/--no-x"

    def values(self) -> str:
        return "on / off"


@dataclass(frozen=True)
class Text(Kind):
    """A non-empty name (a client, port, map or style name)."""

    def check(self, v):
        if not isinstance(v, str) or not v:
            raise ValueError("expected a non-empty string")
        return v

    def click_type(self):
        return _Checked(self, "text")

    def values(self) -> str:
        return "a name"


@dataclass(frozen=True)
class InputFile(Text):
    """A file drumd reads (the flag's says 'no such file' at once; the file key's, on loading)."""

    def click_type(self):
        return InputPath()

    def values(self) -> str:
        return "a file"


@dataclass(frozen=True)
class OutputFile(Text):
    """A file drumd writes when it stops: `run()` checks its folder when it starts."""

    def click_type(self):
        return click.Path()

    def values(self) -> str:
        return "a file name"


@dataclass(frozen=True)
class Device(Kind):
    """An audio device: a name (or part of one), `default`, or a number from `drumd devices`."""

    def check(self, v):
        if isinstance(v, bool) or not isinstance(v, (str, int)) or v == "" or (isinstance(v, int) and v < 0):
            raise ValueError("expected a device name, default, or a device number")
        return str(v)

    def click_type(self):
        return _Checked(self, "device")

    def values(self) -> str:
        return "a device name or number"


@dataclass(frozen=True)
class Meter(Kind):
    """A time signature drumd plays (engine.data.encoding.parse_meter)."""

    def check(self, v):
        from drumd.engine.data.encoding import parse_meter  # not at import: `drumd serve --help` stays quick
        try:
            parse_meter(v)
        except ValueError:
            raise ValueError(f"expected one of {self.values()}") from None
        return str(v)

    def click_type(self):
        return _Checked(self, "meter")

    def values(self) -> str:
        from drumd.engine.data.encoding import METERS, meter_name
        return ", ".join(map(meter_name, METERS))


CURVES = ("linear", "soft", "hard")


@dataclass(frozen=True)
class Curve(Kind):
    """A velocity curve: a name, or a gamma > 0 (v' = 127 (v/127)^gamma)."""

    def from_text(self, s: str):
        if s in CURVES:
            return s
        try:
            return float(s)
        except ValueError:
            return s  # check() says what was expected

    def check(self, v):
        if isinstance(v, bool) or not (v in CURVES or (isinstance(v, (int, float)) and 0 < v < math.inf)):
            raise ValueError("expected linear, soft, hard or a gamma > 0")
        return v

    def click_type(self):
        return _Checked(self, "curve")

    def values(self) -> str:
        return "linear / soft / hard / a gamma > 0"


@dataclass(frozen=True)
class Groups(Kind):
    """Drum groups: a YAML list; the flag is given once per group."""

    def check(self, v):
        if not isinstance(v, list) or any(g not in GROUPS for g in v):
            raise ValueError(f"expected a list of: {', '.join(GROUPS)}")
        return v

    def click_type(self):
        return click.Choice(list(GROUPS))

    def values(self) -> str:
        return " / ".join(GROUPS) + " (in the file, a list)"


@dataclass(frozen=True)
class CCTable:
    """`cc:` name: controller number pairs (file only, no flag: not a Kind; its YAML mapping is
    checked entry by entry in `_cc_table`)."""

    def values(self) -> str:
        """What the `cc:` table takes, in words, for the README's table."""
        return "control: number (0 – 127)"


@dataclass(frozen=True)
class Setting:
    """One `serve` setting: its key (flag `--key-with-dashes`), kind of value, default, help.

    default_text: the default as help and README show it, where the bare value would not say it
    (None: derived from `default`; "": none shown). metavar: the flag's value placeholder.
    flag: False for a file-only key (`cc`)."""
    key: str
    kind: object
    default: object
    help: str
    default_text: str | None = None
    metavar: str | None = None
    flag: bool = True

    @property
    def option(self) -> str:
        """The flag, e.g. `--gate-ms` for the key `gate_ms`."""
        return "--" + self.key.replace("_", "-")

    def shown_default(self) -> str:
        """The default as `--help` and the README show it ("" for none)."""
        if self.default_text is not None:
            return self.default_text
        return _show(self.default)

    def check(self, value):
        """The value a YAML file gives, checked; null is taken where the default is None."""
        if value is None and self.default is None:
            return None
        return self.kind.check(value)


def _show(v) -> str:
    if v is None or v == [] or v == {}:
        return ""
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


API = Setting("api", Choice(("auto", "alsa", "jack", "coremidi")), "auto", "MIDI system",
              default_text="auto: JACK if running, else ALSA, else CoreMIDI")

SETTINGS: tuple[Setting, ...] = (
    API,
    Setting("client", Text(), "drumd", "Client name"),
    Setting("in_port", Text(), None, "Name of drumd's virtual input port",
            default_text="in on JACK, 'drumd in' on ALSA"),
    Setting("out_port", Text(), None, "Name of drumd's virtual output port",
            default_text="out / 'drumd out'"),
    Setting("connect_in", Text(), None, "Read from this existing port instead of a virtual one",
            metavar="NAME"),
    Setting("connect_out", Text(), None, "Play into this existing port instead of a virtual one",
            metavar="NAME"),
    Setting("clock", Choice(("auto", "internal", "external", "jack", "link")), "auto",
            "auto: follow incoming MIDI clock or a rolling JACK transport, play at --bpm if "
            "neither comes within 1 s (a JACK timebase master is waited for); "
            "external: wait for MIDI clock; jack: follow JACK transport; link: join the Ableton "
            "Link session (tempo, bar phase, start/stop); internal: --bpm"),
    Setting("bpm", Number(20, 400), 120.0, "Internal clock tempo"),
    Setting("meter", Meter(), "4/4", "Time signature: 4/4, 3/4, 6/8, 12/8, 5/4, 7/8 or 5/8; bars count from the song's start "
            "(MIDI clock carries no meter)", metavar="N/D"),
    Setting("send_clock", Flag(), False, "Send MIDI clock while on the internal clock"),
    Setting("checkpoint", InputFile(), None, "Model checkpoint", default_text="the shipped one"),
    Setting("seed", Number(0, None, integer=True), None, "Random seed for reproducible grooves",
            default_text="random"),
    Setting("style", Text(), None, "Starting style",  # None: the checkpoint's default_style
            default_text="the checkpoint's main style: a player's folder's, or rock"),
    Setting("mode", Choice(MODES), "generate", "generate: on its own; accompany: with your drums; call: answers your phrases; tap: follows your taps"),
    Setting("bars", Number(1, 16, integer=True), 2, "Call mode: bars of primer and of answer"),
    Setting("silence_beats", Number(0.25, 16), 1.0, "Call mode: silence ending a phrase"),
    Setting("in_map", Text(), "gm", "Drum map of the player's kit"),
    Setting("out_map", Text(), "gm", "Drum map of the drum plugin drumd plays"),
    Setting("channel", Number(1, 16, integer=True), 10, "Output MIDI channel"),
    Setting("velocity_curve", Curve(), "linear",
            "linear, soft, hard, or a gamma (v' = 127 (v/127)^gamma)", metavar="CURVE"),
    Setting("thru", Flag(), False, "Pass the player's hits to the output too"),
    Setting("gate_ms", Number(1, 2000), 60.0, "Note length in ms"),
    Setting("temperature", Number(0.05, 5), 1.0, "Sampling temperature"),
    Setting("top_p", Number(0.01, 1), 1.0, "Nucleus sampling mass"),
    Setting("density", Number(-10, 10), 0.0, "Busier (> 0) or sparser (< 0)"),
    Setting("quantize", Number(0, 1), 0.0, "0 = the model's timing, 1 = on the grid"),
    Setting("variation", Number(0, 1), DEFAULT_VARIATION,
            "0 = keeps its groove bar after bar, 1 = free to wander"),
    Setting("fill_every", Number(0, 64, integer=True), DEFAULT_FILL_EVERY,
            "A fill at the end of every BARS bars, into a crash on the next downbeat; 0 = never",
            metavar="BARS"),
    Setting("follow", Number(0, 1), DEFAULT_FOLLOW,
            "Accompany: 0 = plays its own groove over the player's, 1 = leaves them their drums and "
            "gives way to their feel; tap: 0 = ignores the taps, 1 = a kick or snare on every tap; "
            "riff lock: 0 = ignores the guitar's accents, 1 = a kick on every one"),
    Setting("unison", Flag(), False,
            "Accompany: play the drums the player repeats with them, at their timing (a half-time "
            "snare on 3 is doubled), instead of leaving those drums to them"),
    Setting("mute", Groups(), [], "Mute a drum group (repeatable)"),
    Setting("record", OutputFile(), None, "Write input and output to this MIDI file"),
    Setting("status", Flag(), None, "Live status line on stderr",
            default_text="on when stderr is a terminal"),
    Setting("stats", OutputFile(), None,
            "At exit, write counters (steps, late steps, step time, send lateness) as JSON here"),
    Setting("synth", Flag(), False,
            "Also play every hit on drumd's built-in GM kit, in time with the MIDI it sends"),
    Setting("synth_device", Device(), None,
            "Audio output for --synth: a name (part of one) or number from `drumd devices`",
            default_text="default", metavar="DEV"),
    Setting("audio_in", Device(), None,
            "Follow a guitar on this audio input (`default`, or as --synth-device): its level "
            "sets density and dynamics; drumd plays while it plays", metavar="DEV"),
    Setting("audio_channel", Number(1, 64, integer=True), 1, "Input channel of the guitar"),
    Setting("guitar_silence_bars", Number(0.25, 16), GuitarConfig.fill_after_bars,
            "Bars of guitar silence that end a phrase: a fill, then drumd rests"),
    Setting("guitar_fill", Flag(), True, "Play a fill when a guitar phrase ends"),
    Setting("riff_lock", Flag(), True,
            "With --audio-in, generate and accompany modes: the guitar's accents of the last two "
            "bars set where drumd puts its kicks (a riff repeats), at --follow's strength"),
    Setting("guitar_tempo", Flag(), False,
            "On drumd's own clock (no MIDI clock), play at the guitar's estimated tempo"),
    Setting("cc", CCTable(), {}, "Controller numbers of the live controls (see Live controls)",
            default_text="the CCs in Live controls", flag=False),
)
BY_KEY = {s.key: s for s in SETTINGS}


# --- the file ---------------------------------------------------------------------------------
def defaults() -> dict:
    """Every setting's default, key -> value (fresh lists and dicts: a caller may change them)."""
    return {s.key: (list(s.default) if isinstance(s.default, list)
                    else dict(s.default) if isinstance(s.default, dict) else s.default)
            for s in SETTINGS}


def load(path: str | Path) -> dict:
    """Settings found in a YAML file (only the keys it sets), validated. Raises ConfigError
    (one line naming FILE:LINE) for an unreadable file, bad YAML, an unknown key, a key set
    twice or a value out of range."""
    path = Path(path)
    try:
        entries = read_entries(path)
    except SettingsFileError as e:
        raise ConfigError(str(e)) from None
    out = {}
    for e in entries:
        setting = BY_KEY.get(e.key)
        if setting is None:
            raise ConfigError(f"{path}:{e.line}: {e.key}: unknown setting; known: {', '.join(BY_KEY)}")
        if isinstance(setting.kind, CCTable):
            out[e.key] = _cc_table(e.node, path)
            continue
        try:
            out[e.key] = setting.check(e.value)
        except ValueError as err:
            raise ConfigError(f"{path}:{e.node.start_mark.line + 1}: {e.key}: {err}, "
                              f"got {e.value!r}") from None
    return out


def _cc_table(node, path) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}:{node.start_mark.line + 1}: cc: expected name: number pairs")
    table = {}
    for k, v in node.value:
        where = f"{path}:{k.start_mark.line + 1}: cc.{k.value}"
        if k.value not in DEFAULT_CC:
            raise ConfigError(f"{where}: unknown control; known: {', '.join(DEFAULT_CC)}")
        number = yaml.safe_load(yaml.serialize(v))
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 127:
            raise ConfigError(f"{where}: expected a controller number 0-127, got {number!r}")
        table[k.value] = number
    return table


def resolve(config_path: str | None, flags: dict) -> dict:
    """Defaults, overridden by the config file, overridden by flags given (not None)."""
    settings = defaults()
    if config_path:
        settings.update(load(config_path))
    settings.update({k: v for k, v in flags.items() if v is not None})
    return settings


# --- the flags --------------------------------------------------------------------------------
def option(setting: Setting):
    """The click option of one setting; it is None when not given (the file's or the default
    applies), a tuple for `--mute`."""
    shown = setting.shown_default()
    kw = dict(default=None, help=setting.help + (f" [{shown}]." if shown else "."))
    if isinstance(setting.kind, Flag):
        name = setting.key.replace("_", "-")
        return click.option(f"--{name}/--no-{name}", setting.key, **kw)
    if isinstance(setting.kind, Groups):
        kw["multiple"] = True
    return click.option(setting.option, setting.key, type=setting.kind.click_type(),
                        metavar=setting.metavar, **kw)


def options(command):
    """Decorate `command` with one option per flag setting, in the table's order."""
    for setting in reversed([s for s in SETTINGS if s.flag]):
        command = option(setting)(command)
    return command
