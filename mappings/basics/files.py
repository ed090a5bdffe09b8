"""Input and output files. Input: `input_path_problem`, the one check every command makes of
the files it reads (a missing file is one line naming it, the same in every command).

Output: every file drumd writes for a user (MIDI files, recordings, checkpoints,
renders, reports, the data cache) appears whole or not at all: a temporary file in the same
folder, fsync, then os.replace. A failed write leaves the old file as it was. The one home of
this for every layer; it lives in mappings because that is the lowest layer, which engine and
daemon both import (it knows nothing of drum maps).

Folders are never created here: an output path that is a folder, or whose folder does not
exist, is an OutputPathError naming it, and so is a device, pipe or socket (the rename would
replace it). Through a symbolic link the file it points to is replaced, not the link. Callers
that own a folder (the cache, a training run, `drumd eval --out`) create it themselves."""
from __future__ import annotations

import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path

from drumd.mappings.basics.errors import DrumdError


class OutputPathError(DrumdError, OSError):
    """An output path drumd will not write: a folder, or in a folder that does not exist.
    str() is one line naming the path and the reason."""

    def __str__(self) -> str:
        return self.args[0] if self.args else "unusable output path"


def input_path_problem(path: str | Path, folder_ok: bool = False) -> str | None:
    """Why `path` cannot be read as an input file (or, with folder_ok, a folder of them);
    None: it can be tried (what is inside is the reader's to judge)."""
    path = Path(path)
    missing = f"{path}: no such file" + (" or folder" if folder_ok else "")
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return missing
    except OSError as e:
        return f"{path}: cannot read ({e.strerror or e})"
    if stat.S_ISDIR(st.st_mode):
        return None if folder_ok else f"{path}: is a folder; expected a file"
    if not os.access(path, os.R_OK):
        return f"{path}: cannot read (permission denied)"
    return None


def output_path_problem(path: str | Path) -> str | None:
    """Why `path` cannot be written as a file (None: it can be tried)."""
    path = Path(path)
    if path.is_dir():
        return f"{path}: is a folder; expected a file name"
    if path.exists() and not path.is_file():
        # the save renames a new file over it: a device or pipe would be replaced, not written
        return f"{path}: not a regular file (a device, pipe or socket); expected a file name"
    parent = path.parent
    if not parent.is_dir():
        if parent.exists():
            return f"{path}: {parent} is not a folder"
        return f"{path}: folder {parent} does not exist (create it first; drumd does not)"
    return None


def check_output_path(path: str | Path) -> Path:
    """`path` as a Path, or OutputPathError if it is a folder or its folder is missing."""
    problem = output_path_problem(path)
    if problem:
        raise OutputPathError(problem)
    return Path(path)


@contextmanager
def atomic_open(path: str | Path):
    """Open `path` for writing (binary). The file replaces `path` only if the block ends
    without an exception. A new file gets the usual umask permissions; an existing file keeps its own.
    Raises OutputPathError if `path` is a folder or its folder does not exist (never creates one)."""
    path = check_output_path(path)
    if path.is_symlink():  # replace the file it points to; the link the user made stays
        path = check_output_path(Path(os.path.realpath(path)))
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    try:
        # os.open applies the umask to 0o666, as a plain open() of a new file would.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
