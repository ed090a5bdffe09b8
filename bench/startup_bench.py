"""Start-up time and memory of the player's commands, without torch and with it (issue #16).

    .venv/bin/python bench/startup_bench.py [--runs 5] [--serve-seconds 60] [--no-serve]

Each command runs as its own process, as a user runs it: median wall-clock seconds and peak
RSS (os.wait4) over --runs. Beside each, "with torch": the same command as drumd ran it before
#16, torch imported first (every command imported it through engine/model/lstm.py) and the model
read from the .pt with torch (a copy of the shipped .pt with no .safetensors beside it).
Baseline: `python -c 'import mido, yaml, click, numpy'`, drumd's own dependencies.

serve: `drumd serve` on its own clock at 120 BPM on a dummy JACK server (tests/jackstack.py),
its RSS read from /proc once it has played --serve-seconds.

Targets (#16): `maps list` within 3 times the baseline's start-up; serve RSS at most 220 MB
after a minute (stretch: 150 MB).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from drumd.engine.model.checkpoint import shipped_path  # noqa: E402

PY = sys.executable
BASELINE = [PY, "-c", "import mido, yaml, click, numpy"]
# drumd as before #16: torch imported by every command.
WITH_TORCH = "import sys, torch; sys.argv = ['drumd'] + sys.argv[1:]; from drumd.daemon.cli import main; main()"


def drumd(args, torch: bool) -> list[str]:
    exe = str(Path(PY).with_name("drumd"))
    return [PY, "-c", WITH_TORCH, *args] if torch else [exe, *args]


def run_once(cmd) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.decode(errors='replace')}")
    return seconds, usage.ru_maxrss / 1024


def median_of(cmd, runs: int) -> tuple[float, float]:
    results = [run_once(cmd) for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def serve_rss(checkpoint: Path, torch: bool, seconds: float) -> dict:
    """drumd serve's RSS (MB) after `seconds` of playing on its own clock: {"VmRSS": total,
    "RssAnon": its own memory, "RssFile": mapped files (libraries), "RssShmem": shared memory
    (JACK's)}."""
    from jackstack import JackServer
    jack = JackServer()
    log = tempfile.TemporaryFile()
    try:
        p = jack.spawn(drumd(["serve", "--api", "jack", "--client", "drumd-bench", "--bpm", "120",
                              "--checkpoint", str(checkpoint)], torch), stdout=log, stderr=log)
        try:
            jack.wait_port("drumd-bench:out", timeout=60)
            time.sleep(seconds)
        finally:
            if p.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"drumd serve exited:\n{log.read().decode(errors='replace')}")
        status = dict(line.split(":", 1) for line in Path(f"/proc/{p.pid}/status").read_text().splitlines())
        return {k: int(status[k].split()[0]) / 1024 for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem")}
    finally:
        jack.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--serve-seconds", type=float, default=60.0)
    ap.add_argument("--no-serve", action="store_true", help="Leave out serve (needs jackd).")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="drumd-startup-") as tmp:
        tmp = Path(tmp)
        pt_only = tmp / "drumd-gmd.pt"  # the .pt alone: read with torch, as before #16
        shutil.copy(shipped_path(), pt_only)
        out = str(tmp / "g.mid")
        rows = []
        base_s, base_mb = median_of(BASELINE, a.runs)
        rows.append(("python -c 'import mido, yaml, click, numpy'", (base_s, base_mb), None))
        for label, args, old_args in (
                ("drumd maps list", ["maps", "list"], ["maps", "list"]),
                ("drumd generate (1 bar)", ["generate", out, "--bars", "1", "--seed", "1"],
                 ["generate", out, "--bars", "1", "--seed", "1", "--checkpoint", str(pt_only)])):
            rows.append((label, median_of(drumd(args, False), a.runs),
                         median_of(drumd(old_args, True), a.runs)))
        print(f"median of {a.runs} runs; peak RSS (os.wait4)")
        print(f"{'':45s} {'without torch':>20s} {'with torch (before)':>22s}")
        for label, new, old in rows:
            line = f"{label:45s} {new[0]:8.2f} s {new[1]:6.0f} MB"
            if old:
                line += f" {old[0]:10.2f} s {old[1]:6.0f} MB"
            print(line)
        ratio = rows[1][1][0] / base_s
        print(f"maps list start-up: {ratio:.1f} x the dependencies' (target: at most 3 x)")
        if not a.no_serve:
            new = serve_rss(shipped_path(), False, a.serve_seconds)
            old = serve_rss(pt_only, True, a.serve_seconds)
            print(f"{f'drumd serve RSS after {a.serve_seconds:.0f} s':45s} {new['VmRSS']:17.0f} MB "
                  f"{old['VmRSS']:19.0f} MB   (target: at most 220 MB, stretch 150 MB)")
            for k, what in (("RssAnon", "its own"), ("RssFile", "mapped files"), ("RssShmem", "shared (JACK)")):
                print(f"{f'  of which {what}':45s} {new[k]:17.0f} MB {old[k]:19.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
