"""Progress bars only where someone watches them: on a terminal, never in a redirected log."""
from __future__ import annotations

import sys


def on_terminal() -> bool:
    """The default for progress bars (tqdm writes them to stderr): whether stderr is a terminal."""
    return sys.stderr.isatty()
