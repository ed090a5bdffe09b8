"""Writing a user's files so they appear whole or not at all (recordings, checkpoints, maps,
renders, reports): a temporary file in the same folder, fsync, then os.replace. A failed write
leaves the old file as it was. The one home of this for every layer (mappings is the lowest)."""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_open(path: str | Path):
    """Open `path` for writing (binary). The file replaces `path` only if the block ends
    without an exception. A new file gets the usual umask permissions; an existing file keeps its own."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
