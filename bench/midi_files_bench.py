"""Every command that reads MIDI against issue #13's target: an answer within 5 s on any file
up to 1 MB, with memory bounded by the file's size.

    .venv/bin/python bench/midi_files_bench.py [--size-kb 1024] [--keep DIR] [--only KIND]

Builds worst-case files of --size-kb (default 1 MB) byte by byte, then runs each command on
each file as its own process (`drumd ...`, as a user does: interpreter start, imports and the
model included) and prints its wall-clock seconds and peak RSS (os.wait4) beside the 5 s
target, and beside the same command on a 1-bar file, so what the file itself costs shows.
An answer may be a refusal (a too-long file): what counts is that it comes in time.

Files:
  dense       one track of note-on/off pairs 2 ticks apart, running status: 364 bars, 12
              minutes at 120 BPM (a primer under generate's 512-bar cap, a render under its
              20 minutes); the most notes a megabyte holds
  long        the same 3 ticks apart: 18 minutes, the longest render of a megabyte's notes
              (a primer of 546 bars: refused)
  hihat       dense hi-hat notes each after a pedal CC4 (remap and the readers follow CC4)
  deltas      every event after the largest delta time a file can hold (0x0FFFFFFF ticks)
  tracks      type 1, thousands of tracks of a few notes each, all merged by tick
  patterns    type 2, thousands of patterns, one after another
  metas       text and sysex events everywhere, few notes
  sysex       one sysex event of the whole size
audition plays through an audio device: on a machine without one it still reads the file (it
reads it first) and ends with the device error, so its figure is the reading part only; the
line says which. `maps check` reads YAML maps, not MIDI: not run.
"""
from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 5.0
DRUMD = str(Path(sys.executable).with_name("drumd"))
TPB = 480


def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def track(body: bytes) -> bytes:
    return b"MTrk" + struct.pack(">I", len(body)) + body


def smf(fmt: int, tracks: list[bytes]) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), TPB) + b"".join(tracks)


TEMPO = b"\x00\xff\x51\x03\x07\xa1\x20"  # 120 BPM
END = b"\x00\xff\x2f\x00"


def dense(size: int, gap: int = 2) -> bytes:
    """Note-on/off pairs on channel 10 with running status, 3 bytes an event, `gap` ticks
    apart."""
    n = (size - 40) // 6
    notes = (36, 38, 42, 46, 49, 51)
    body = bytearray(TEMPO + b"\x00\x99")
    body += bytes((notes[0], 100))
    for i in range(1, 2 * n):
        body += vlq(gap) + bytes((notes[(i // 2) % len(notes)], 0 if i % 2 else 100))
    return smf(0, [track(bytes(body) + END)])


def hihat(size: int) -> bytes:
    """A pedal CC4 before each hi-hat note (no running status across the two kinds)."""
    body = bytearray(TEMPO)
    while len(body) < size - 40:
        body += b"\x03\xb9\x04" + bytes((len(body) % 128,)) + b"\x00\x99\x2a\x64" + b"\x02\x99\x2a\x00"
    return smf(0, [track(bytes(body) + END)])


def deltas(size: int) -> bytes:
    body = bytearray(TEMPO)
    big = vlq(0x0FFFFFFF)
    while len(body) < size - 40:
        body += big + b"\x99\x24\x64" + big + b"\x89\x24\x00"
    return smf(0, [track(bytes(body) + END)])


def tracks(size: int) -> bytes:
    one = track(TEMPO + b"\x00\x99\x24\x64\x78\x89\x24\x00\x00\x99\x26\x64\x78\x89\x26\x00" + END)
    return smf(1, [one] * min(65535, (size - 14) // len(one)))


def patterns(size: int) -> bytes:
    one = track(b"\x00\x99\x24\x64\x83\x60\x89\x24\x00\x00\x99\x26\x64\x83\x60\x89\x26\x00" + END)
    return smf(2, [one] * min(65535, (size - 14) // len(one)))


def metas(size: int) -> bytes:
    body = bytearray(TEMPO)
    i = 0
    while len(body) < size - 40:
        body += b"\x00\xff\x01\x10" + b"drumd bench text" + b"\x00\xf0\x05\x7e\x7f\x09\x01\xf7"
        if i % 64 == 0:
            body += b"\x00\x99\x24\x64\x60\x89\x24\x00"
        i += 1
    return smf(0, [track(bytes(body) + END)])


def sysex(size: int) -> bytes:
    data = b"\x7e" * (size - 60)
    body = TEMPO + b"\x00\xf0" + vlq(len(data) + 1) + data + b"\xf7" + b"\x00\x99\x24\x64\x60\x89\x24\x00"
    return smf(0, [track(body + END)])


def one_bar(_size: int) -> bytes:
    body = TEMPO + b"".join(b"\x00\x99\x24\x64\x83\x60\x89\x24\x00" for _ in range(4)) + END
    return smf(0, [track(body)])


def long(size: int) -> bytes:
    return dense(size, gap=3)


KINDS = {"dense": dense, "long": long, "hihat": hihat, "deltas": deltas, "tracks": tracks,
         "patterns": patterns, "metas": metas, "sysex": sysex}


def commands(mid: Path, out: Path) -> dict[str, list[str]]:
    return {
        "generate --primer": ["generate", str(out / "g.mid"), "--primer", str(mid), "--bars", "1",
                              "--seed", "0"],
        "remap": ["remap", str(mid), str(out / "r.mid"), "--from", "gm", "--to", "ezdrummer2"],
        "render": ["render", str(mid), str(out / "r.wav")],
        "audition": ["audition", str(mid)],
    }


def measure(args: list[str]) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS in MB, exit status, last line of output) of `drumd args`."""
    t0 = time.perf_counter()
    p = subprocess.Popen([DRUMD, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    lines = out.decode(errors="replace").strip().splitlines()
    return seconds, usage.ru_maxrss / 1024, p.returncode, (lines[-1] if lines else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-kb", type=int, default=1024)
    ap.add_argument("--keep", type=Path, help="Write the files here and leave them.")
    ap.add_argument("--only", choices=list(KINDS), action="append", help="These files only.")
    a = ap.parse_args()
    size = a.size_kb * 1024
    folder = a.keep or Path(tempfile.mkdtemp(prefix="drumd-midi-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    small = folder / "one_bar.mid"
    small.write_bytes(one_bar(0))
    base = {name: measure(args) for name, args in commands(small, folder).items()}
    print(f"target: an answer within {TARGET_S:g} s on any file up to {a.size_kb} KB; "
          "RSS beside the same command on a 1-bar file")
    print(f"{'file':<9} {'KB':>5}  {'command':<18} {'s':>6} {'of 5 s':>7} {'1-bar s':>7} "
          f"{'MB':>6} {'1-bar MB':>8} {'+MB':>5}  exit  answer")
    worst = 0.0
    for kind in a.only or KINDS:
        mid = folder / f"{kind}.mid"
        mid.write_bytes(KINDS[kind](size))
        for name, args in commands(mid, folder).items():
            s, mb, rc, last = measure(args)
            worst = max(worst, s / TARGET_S)
            note = " (reading only: no audio device)" if name == "audition" and "device" in last.lower() else ""
            print(f"{kind:<9} {mid.stat().st_size / 1024:5.0f}  {name:<18} {s:6.2f} "
                  f"{s / TARGET_S:7.0%} {base[name][0]:7.2f} {mb:6.0f} {base[name][1]:8.0f} "
                  f"{mb - base[name][1]:+5.0f}  {rc:>4}  {last[:80]}{note}")
    print(f"worst: {worst:.0%} of the {TARGET_S:g} s target")
    print("maps check: not run (it reads YAML drum maps, not MIDI files)")
    return 0 if worst <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
