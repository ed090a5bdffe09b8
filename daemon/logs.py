"""drumd's diagnostics through the standard logging module, configured in one place.

Every module logs to `logging.getLogger(__name__)` (all under the "drumd" logger); the
commands' own output (click.echo) and their one-line errors at exit are not logs. `configure`,
called once by the `drumd` group (`-v` / `-q`), puts one handler on "drumd" (and on Python's
warnings): lines "drumd: message" ("drumd: warning: ..." and so on above INFO) on stderr.

While `drumd serve` draws its status line on a terminal (daemon.status.StatusLine, which
registers itself here), a log line goes through it instead: the status line is cleared, the
log line written, the status line drawn again, so the two never share a line.
"""
from __future__ import annotations

import logging
import sys

LOGGER = "drumd"


class StatusAwareHandler(logging.Handler):
    """Writes each record as one line to the current sys.stderr (looked up at each line, so
    tests that capture stderr see it), or through the status line drawn there."""

    def __init__(self):
        super().__init__()
        self.status = None  # a StatusLine being drawn, or None

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted record: through the status line when one is drawn
        (StatusLine.note, under its lock), else to sys.stderr. Called by logging from any thread,
        under this handler's lock; a failure goes to handleError, never raised to the caller."""
        try:
            text = self.format(record)
            status = self.status
            if status is not None:
                status.note(text)
            else:
                sys.stderr.write(text + "\n")
                sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging's own rule: a failed log line never raises
            self.handleError(record)


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno == logging.INFO else record.levelname.lower() + ": "
        # one line: a message with a newline in it (an exception's text) is folded
        return f"drumd: {level}" + super().format(record).replace("\n", " | ")


HANDLER = StatusAwareHandler()
HANDLER.setFormatter(_Format("%(message)s"))


def level_for(verbosity: int) -> int:
    """-q (-1): warnings and errors; default (0): also what drumd is doing; -v (1+): debug."""
    return logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG


def configure(verbosity: int = 0) -> None:
    """Send drumd's logs (and Python's warnings) to stderr at the level for `verbosity`.
    Safe to call again (each `drumd` invocation in one process calls it)."""
    logging.captureWarnings(True)
    for name in (LOGGER, "py.warnings"):
        logger = logging.getLogger(name)
        logger.addHandler(HANDLER)  # once: addHandler ignores a handler it already has
        logger.propagate = False    # not also through a root handler someone else set up
    logging.getLogger(LOGGER).setLevel(level_for(verbosity))


def show_logs_through(status) -> None:
    """Route log lines through `status` (a StatusLine being drawn), or directly (None)."""
    HANDLER.status = status
