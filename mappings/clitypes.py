"""click parameter types shared by the commands of every layer (mappings is the lowest one).

click's own `Path(exists=True)` answers a missing file with its usage text and exit status 2;
drumd answers every bad input file the same way in every command: one line naming the file
(mappings.files.input_path_problem) and exit status 1.
"""
from __future__ import annotations

import click

from drumd.mappings.basics.files import input_path_problem


class InputPath(click.Path):
    """An existing, readable file (with folder_ok: or folder) that a command reads."""

    def __init__(self, folder_ok: bool = False, path_type=None):
        super().__init__(dir_okay=folder_ok, path_type=path_type)
        self.folder_ok = folder_ok

    def convert(self, value, param, ctx):
        """The path (as click.Path converts it); a missing, unreadable or wrong-kind one is a
        ClickException of one line naming it (exit status 1), not click's usage error."""
        problem = input_path_problem(value, self.folder_ok)
        if problem:
            # a ClickException, not click's BadParameter: the line alone, not the usage text
            raise click.ClickException(problem)
        return super().convert(value, param, ctx)
