"""Soak: `drumd serve` at 300 BPM through JACK for N minutes, judged from outside.

    .venv/bin/python bench/soak.py --minutes 10 [--hogs 2] [--json out.json]

jack_midi_clock is the DAW (300 BPM, exact ticks), drumd follows it with --quantize 1, and a
recording client hears both. Reported: stuck notes (a note-on with no note-off once drumd has
exited), note bookkeeping errors, late steps from drumd's own --stats dump, end-to-end timing
error of the notes against the clock grid the recorder received (up to the first dummy-driver
xrun, as in tests/test_daemon_jack.py), and drumd's RSS sampled from /proc every few seconds.
Uses the JACK helpers of the daemon tests (tests/jackstack.py).
"""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from jackstack import PERIOD_S, Daw, Drumd, JackServer, Listener, Transport  # noqa: E402
from test_daemon_jack import first_xrun, grid_errors, note_ons, ticks, wiring  # noqa: E402

from drumd.daemon.timing.clock import tick_period  # noqa: E402

BPM = 300.0
RSS_EVERY_S = 5.0
WARMUP_S = 20.0  # allocator and caches settle; the slope is fitted after this


def rss_mb(pid: int) -> float:
    """drumd's resident memory; its output is kept (tests/jackstack.Drumd) in case it dies."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def note_balance(events) -> tuple[int, int, int]:
    """(notes left sounding, note-offs with no sounding note, note-ons of a sounding note) over
    the whole take. Only the first is a stuck note; the others count bookkeeping slips."""
    sounding, orphan_offs, double_ons = set(), 0, 0
    for _, m in events:
        kind = m[0] & 0xF0
        if kind not in (0x80, 0x90):
            continue
        key = (m[0] & 0x0F, m[1])
        if kind == 0x90 and m[2] > 0:
            double_ons += key in sounding
            sounding.add(key)
        elif key in sounding:
            sounding.remove(key)
        else:
            orphan_offs += 1
    return len(sounding), orphan_offs, double_ons


def run(jack: JackServer, transport: Transport, minutes: float, checkpoint: str | None = None,
        client: str = "drumd-soak", extra: tuple[str, ...] = ()) -> dict:
    with tempfile.TemporaryDirectory(prefix="drumd-soak-") as folder:  # removed afterwards
        return _run(jack, transport, minutes, checkpoint, client, extra, Path(folder) / "stats.json")


def _run(jack, transport, minutes, checkpoint, client, extra, stats_path: Path) -> dict:
    mark = jack.log_mark()
    daw = Daw(jack, transport, bpm=BPM, force_bpm=True)
    listener = Listener(f"{client}-rec")
    args = ["--clock", "external", "--quantize", "1", "--seed", "1", "--stats", str(stats_path), *extra]
    if checkpoint:
        args += ["--checkpoint", str(checkpoint)]
    drumd = Drumd(jack, *args, client=client)
    rss: list[tuple[float, float]] = []
    try:
        wiring(jack, daw.port, drumd, listener)
        t0 = daw.play(listener)
        end = t0 + minutes * 60
        while (now := time.perf_counter()) < end and drumd.proc.poll() is None:
            rss.append((now - t0, rss_mb(drumd.proc.pid)))
            time.sleep(min(RSS_EVERY_S, max(0.0, end - now)))
        if drumd.proc.poll() is None:
            rss.append((time.perf_counter() - t0, rss_mb(drumd.proc.pid)))
        else:  # it died: say when and what it said, rather than fail reading /proc
            print(f"soak: drumd exited with {drumd.proc.returncode} after "
                  f"{time.perf_counter() - t0:.0f} s:\n{drumd.output()[-3000:]}", file=sys.stderr)
        daw.command("stop")
        time.sleep(0.5)
        drumd.proc.send_signal(signal.SIGTERM)
        out = drumd.terminate()
        time.sleep(0.2)
        events = listener.snapshot()
    finally:
        daw.close()
        listener.close()
    stats = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
    ts = ticks(events)
    errs = grid_errors(events, tick_period(BPM)) * 1000
    stuck, orphan_offs, double_ons = note_balance(events)
    t, mb = np.array(rss).T
    settled = t >= min(WARMUP_S, t[-1] / 2)
    slope = float(np.polyfit(t[settled] / 60, mb[settled], 1)[0]) if settled.sum() >= 3 else float("nan")
    judged_until = first_xrun(ts, tick_period(BPM))
    return {
        "minutes": round(float(t[-1]) / 60, 2), "bpm": BPM, "exit_code": drumd.proc.returncode,
        "note_ons": len(note_ons(events)), "stuck_notes": stuck, "orphan_note_offs": orphan_offs,
        "double_note_ons": double_ons,
        "late_steps": stats.get("late"), "steps": stats.get("steps"),
        "step_ms_p50": stats.get("p50"), "step_ms_p99": stats.get("p99"), "step_ms_max": stats.get("max"),
        "send_late_ms_p99": stats.get("send_late_p99"), "realtime_sender": stats.get("realtime_sender"),
        "grid_err_ms_p50": float(np.percentile(np.abs(errs), 50)) if len(errs) else None,
        "grid_err_ms_p99": float(np.percentile(np.abs(errs), 99)) if len(errs) else None,
        "grid_err_ms_max": float(np.abs(errs).max()) if len(errs) else None,
        "grid_notes_judged": len(errs),
        "grid_seconds_judged": round(float(min(judged_until, ts[-1]) - ts[0]), 1) if len(ts) else 0.0,
        "jack_period_ms": PERIOD_S * 1000, "jack_realtime": jack.realtime,
        "jack_lost_cycle_reports": len(jack.lost_cycles_since(mark)), "log_mark": mark,
        "rss_mb_start": float(mb[0]), "rss_mb_end": float(mb[-1]), "rss_mb_per_min": slope,
        "daemon_output_tail": out[-400:],
    }


def report(r: dict) -> str:
    deadline_ms = 60_000 / BPM / 4
    lines = [
        f"soak: {r['minutes']} min at {r['bpm']:.0f} BPM through JACK (period {r['jack_period_ms']:.2f} ms, "
        f"{'realtime' if r['jack_realtime'] else 'NOT realtime'} server); drumd exit code {r['exit_code']}",
        f"  note-ons {r['note_ons']}, stuck notes {r['stuck_notes']} (note-offs without a note-on "
        f"{r['orphan_note_offs']}, note-ons while sounding {r['double_note_ons']})",
        f"  late steps {r['late_steps']} of {r['steps']}; step compute in drumd p50/p99/max "
        f"{r['step_ms_p50']:.2f}/{r['step_ms_p99']:.2f}/{r['step_ms_max']:.2f} ms "
        f"(p99 = {r['step_ms_p99'] / deadline_ms:.1%} of the {deadline_ms:.0f} ms 16th)",
    ]
    if r["grid_err_ms_p50"] is not None:
        lines.append(
            f"  end-to-end |error| vs the clock grid p50/p99/max {r['grid_err_ms_p50']:.2f}/"
            f"{r['grid_err_ms_p99']:.2f}/{r['grid_err_ms_max']:.2f} ms (p99 = "
            f"{r['grid_err_ms_p99'] / r['jack_period_ms']:.2f} JACK periods; "
            f"{r['grid_notes_judged']} notes in the first {r['grid_seconds_judged']} s, up to the first xrun)")
    lines.append(f"  RSS {r['rss_mb_start']:.1f} MB at start, {r['rss_mb_end']:.1f} MB at the end, "
                 f"slope {r['rss_mb_per_min']:+.3f} MB/min after {WARMUP_S:.0f} s")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--checkpoint", help="default: the shipped checkpoint")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--hogs", type=int, default=0,
                    help="CPU burners beside it, as a DAW and its plugins would be")
    ap.add_argument("drumd_args", nargs="*", help="more `drumd serve` options (after --)")
    a = ap.parse_args()
    jack = JackServer()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.hogs)]
    try:
        r = run(jack, Transport(jack), a.minutes, a.checkpoint, extra=tuple(a.drumd_args))
    finally:
        for h in hogs:
            h.kill()
        jack.close()
    r["hogs"] = a.hogs
    print(report(r))
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=1))
    ok = r["stuck_notes"] == 0 and r["late_steps"] == 0 and r["exit_code"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
