"""`drumd serve` settings: defaults, a YAML file (`--config`), then command-line flags.

The YAML file uses the flags' names with underscores (`gate_ms: 50`) plus a `cc:` table of
controller numbers. Mistakes are reported as `FILE:LINE: key: what was expected`.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from drumd.daemon.play.controls import (DEFAULT_CC, DEFAULT_FILL_EVERY, DEFAULT_FOLLOW, DEFAULT_VARIATION,
                                   GROUPS, MODES)
from drumd.daemon.sound.guitar import GuitarConfig
from drumd.mappings.basics.settingsfile import SettingsFileError, read_entries


class ConfigError(Exception):
    pass


def _choice(*options):
    def check(v):
        if v not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return v
    return check


def _number(lo=None, hi=None, integer=False):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            raise ValueError(f"expected {'an integer' if integer else 'a number'}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ValueError(f"expected {'an integer' if integer else 'a number'} from {lo} to {hi}")
        return v
    return check


def _string(v):
    if not isinstance(v, str) or not v:
        raise ValueError("expected a non-empty string")
    return v


def _boolean(v):
    if not isinstance(v, bool):
        raise ValueError("expected true or false")
    return v


def _curve(v):
    if isinstance(v, bool) or not (v in ("linear", "soft", "hard")
                                   or (isinstance(v, (int, float)) and v > 0)):
        raise ValueError("expected linear, soft, hard or a gamma > 0")
    return v


def _mute(v):
    if not isinstance(v, list) or any(g not in GROUPS for g in v):
        raise ValueError(f"expected a list of: {', '.join(GROUPS)}")
    return v


def _device(v):
    """An audio device: a name (or part of one), `default`, or a number."""
    if isinstance(v, bool) or not isinstance(v, (str, int)) or v == "" or (isinstance(v, int) and v < 0):
        raise ValueError("expected a device name, default, or a device number")
    return str(v)


def _meter(v):
    from drumd.engine.data.encoding import parse_meter
    parse_meter(v)  # ValueError naming the meters drumd plays
    return str(v)


def _optional(check):
    return lambda v: None if v is None else check(v)


# key: (default, validator)
SETTINGS = {
    "api": ("auto", _choice("auto", "alsa", "jack", "coremidi")),
    "client": ("drumd", _string),
    "in_port": (None, _optional(_string)),
    "out_port": (None, _optional(_string)),
    "connect_in": (None, _optional(_string)),
    "connect_out": (None, _optional(_string)),
    "clock": ("auto", _choice("auto", "internal", "external", "jack", "link")),
    "bpm": (120.0, _number(20, 400)),
    "meter": ("4/4", _meter),
    "send_clock": (False, _boolean),
    "checkpoint": (None, _optional(_string)),
    "seed": (None, _optional(_number(0, None, integer=True))),
    "style": (None, _optional(_string)),  # None: the checkpoint's default_style
    "mode": ("generate", _choice(*MODES)),
    "bars": (2, _number(1, 16, integer=True)),
    "silence_beats": (1.0, _number(0.25, 16)),
    "in_map": ("gm", _string),
    "out_map": ("gm", _string),
    "channel": (10, _number(1, 16, integer=True)),
    "velocity_curve": ("linear", _curve),
    "thru": (False, _boolean),
    "gate_ms": (60.0, _number(1, 2000)),
    "temperature": (1.0, _number(0.05, 5)),
    "top_p": (1.0, _number(0.01, 1)),
    "density": (0.0, _number(-10, 10)),
    "quantize": (0.0, _number(0, 1)),
    "variation": (DEFAULT_VARIATION, _number(0, 1)),
    "fill_every": (DEFAULT_FILL_EVERY, _number(0, 64, integer=True)),
    "follow": (DEFAULT_FOLLOW, _number(0, 1)),
    "mute": ([], _mute),
    "record": (None, _optional(_string)),
    "status": (None, _optional(_boolean)),
    "stats": (None, _optional(_string)),
    "synth": (False, _boolean),
    "synth_device": (None, _optional(_device)),
    "audio_in": (None, _optional(_device)),
    "audio_channel": (1, _number(1, 64, integer=True)),
    "guitar_silence_bars": (GuitarConfig.fill_after_bars, _number(0.25, 16)),
    "guitar_fill": (True, _boolean),
    "guitar_tempo": (False, _boolean),
    "riff_lock": (True, _boolean),
    "cc": ({}, None),  # checked per entry below
}


def defaults() -> dict:
    return {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
            for k, (v, _) in SETTINGS.items()}


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
        if e.key not in SETTINGS:
            raise ConfigError(f"{path}:{e.line}: {e.key}: unknown setting; known: {', '.join(SETTINGS)}")
        if e.key == "cc":
            out[e.key] = _cc_table(e.node, path)
            continue
        try:
            out[e.key] = SETTINGS[e.key][1](e.value)
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
