"""A settings file: a YAML mapping of `key: value` lines, read with its line numbers, for
`drumd serve --config` (daemon/cli/config.py) and `drumd train --config` (engine/training/train.py).

The text is composed to YAML nodes, not loaded to a dict: PyYAML's loader silently keeps the
last of a key given twice ('bpm: 96' then 'bpm: 300' would play at 300), and nodes keep the
line each key and value is on, so every error names FILE:LINE.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import yaml

from drumd.mappings.basics.errors import DrumdError


class SettingsFileError(DrumdError, ValueError):
    """One line naming the file (and line) and what was expected."""


class Entry(NamedTuple):
    """One `key: value` line of a settings file, with where it is."""
    key: str
    line: int          # of the key, counted from 1
    value: object      # the value as PyYAML loads it (a number, text, list, mapping)
    node: yaml.Node    # the value's node (its start_mark.line + 1 is the value's line)


def read_entries(path: str | Path, expected: str = "key: value settings") -> list[Entry]:
    """The file's top-level entries in order; an empty file has none.

    Raises SettingsFileError for a file that cannot be read, is not UTF-8 text or not valid
    YAML, is not a mapping ('expected' says what it should hold), or sets a key twice (both
    lines named)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SettingsFileError(f"{path}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError as e:  # a MIDI file or other binary given as a settings file
        raise SettingsFileError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); "
                                "expected YAML settings") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise SettingsFileError(f"{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise SettingsFileError(f"{path}:{root.start_mark.line + 1}: expected {expected}")
    out, seen = [], {}
    for key_node, value_node in root.value:
        key, line = key_node.value, key_node.start_mark.line + 1
        if key in seen:  # YAML would quietly keep the last: say which two disagree
            raise SettingsFileError(f"{path}:{line}: {key}: set again (first on line {seen[key]}); "
                                    "set it once")
        seen[key] = line
        # built from its node as safe_load would (an empty value is None; writing the node out
        # and reading it back fails on one)
        out.append(Entry(key, line, yaml.SafeLoader("").construct_document(value_node), value_node))
    return out
