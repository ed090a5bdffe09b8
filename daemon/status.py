"""The live status line: one line on stderr, rewritten in place."""
from __future__ import annotations

import sys

import numpy as np


def percentile_ms(samples, q: float) -> float:
    return float(np.percentile(samples, q)) * 1000 if len(samples) else 0.0


def format_status(s: dict) -> str:
    where = f"{s['bar']}:{s['beat']}" if s["running"] else "stopped"
    clock = s["source"] + (" (fallback)" if s["fallback"] else "")
    return (f"{s['bpm']:6.1f} BPM {clock:<19} {where:>8}  {s['mode']:<9} "
            f"T {s['temperature']:.2f}  D {s['density']:+.1f}  Q {s['quantize']:.2f}  "
            f"V {s['variation']:.2f}  fill/{s['fill_every']}  "
            f"late {s['late']}  step p99 {s['p99']:.2f} ms")


class StatusLine:
    def __init__(self, enabled: bool | None, stream=sys.stderr):
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.tty = stream.isatty()

    def show(self, status: dict) -> None:
        if not self.enabled:
            return
        line = format_status(status)
        # On a terminal: rewrite in place; into a file or pipe: one line per update.
        self.stream.write(f"\r{line}\x1b[K" if self.tty else line + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A message that must stay visible (port lost, clock fallback)."""
        self.stream.write(("\r\x1b[K" if self.tty and self.enabled else "") + text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
