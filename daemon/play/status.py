"""The live status line: one line on stderr, rewritten in place.

Log lines (daemon.logs) and notes are written above it: the line is cleared, the text written,
and the line drawn again, under one lock, as the status is drawn by the main thread and logs
come from any thread.
"""
from __future__ import annotations

import sys
import threading

import numpy as np

from drumd.daemon import logs


def percentile_ms(samples, q: float) -> float:
    """The `q`th percentile (0-100) of `samples` in seconds, in ms; 0.0 with no samples."""
    return float(np.percentile(samples, q)) * 1000 if len(samples) else 0.0


def format_status(s: dict) -> str:
    """One status line from Session.snapshot()'s dict: tempo, clock, bar:beat, mode, controls,
    late steps and step p99 (ms)."""
    # before bar 1 (the steps computed ahead of the start) it is starting, not at "0:4"
    where = ("stopped" if not s["running"] else "starting" if s["bar"] < 1
             else f"{s['bar']}:{s['beat']}")
    clock = s["source"] + (" (fallback)" if s["fallback"] else "")
    if s.get("peers") is not None:  # Link: how many others share the session
        clock += f" ({s['peers']} peer{'' if s['peers'] == 1 else 's'})"
    riff = s.get("riff")  # riff lock on: the guitar accents steering the kicks now
    follow = (f"F {s['follow']:.2f}  " if (s["mode"] in ("accompany", "tap") or riff is not None)
              and "follow" in s else "")
    if s["mode"] == "accompany" and s.get("unison"):
        follow += "unison  "
    if riff is not None:
        follow += f"riff {riff}  "
    return (f"{s['bpm']:6.1f} BPM {clock:<19} {where:>8}  {s['mode']:<9} "
            f"T {s['temperature']:.2f}  D {s['density']:+.1f}  Q {s['quantize']:.2f}  "
            f"V {s['variation']:.2f}  fill/{s['fill_every']}  {follow}"
            f"late {s['late']}  step p99 {s['p99']:.2f} ms")


class StatusLine:
    """The live status line on stderr: rewritten in place on a terminal, one line per update
    into a file or pipe (enabled=None: on when the stream is a terminal). Log records are shown
    above it (logs.show_logs_through). Thread-safe (its lock)."""

    def __init__(self, enabled: bool | None, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.tty = self.stream.isatty()
        self.lock = threading.Lock()
        self.drawn: str | None = ""  # the line on screen now, redrawn after a note; None: closed
        if self.enabled:
            logs.show_logs_through(self)

    def show(self, status: dict) -> None:
        """Draw the line for `status` (Session.snapshot()); nothing once closed or disabled."""
        if not self.enabled:
            return
        line = format_status(status)
        with self.lock:
            # On a terminal: rewrite in place; into a file or pipe: one line per update.
            if self.drawn is None:
                return
            if self.tty:
                self.stream.write(f"\r{line}\x1b[K")
                self.drawn = line
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def note(self, text: str) -> None:
        """A message that must stay visible (port lost, clock fallback, a log line)."""
        with self.lock:
            in_place = self.tty and self.enabled
            self.stream.write(("\r\x1b[K" if in_place else "") + text + "\n"
                              + (self.drawn or "" if in_place else ""))
            self.stream.flush()

    def close(self) -> None:
        """End the line (once: a shutdown that failed halfway may call this again)."""
        with self.lock:
            if self.enabled and self.tty and self.drawn is not None:
                self.stream.write("\n")
                self.stream.flush()
            self.drawn = None  # closed: nothing to redraw under a late note
        if logs.HANDLER.status is self:
            logs.show_logs_through(None)
