"""`drumd serve` through real JACK MIDI: a DAW clock, a player and a recorder as JACK clients.

Timing is judged against the clock ticks the recording client receives. Both drumd and the
recorder get a tick in the same JACK period, and drumd's note, sent at the predicted grid
time, is delivered at the start of the next period; so a note lands between its tick and one
period after it (JACK MIDI has no sub-period timing), plus 2 ms of Python callback/scheduling
jitter on each side (measured: drumd's sender p99 0.2 ms with SCHED_FIFO, the recorder's
callback runs in JACK's thread). Notes after a dummy-driver xrun (the box is shared; an xrun
shifts JACK's timeline by tens of ms) cannot be judged and are left out (see first_xrun).
"""
import re
import time

import mido
import numpy as np
import pytest

from jackstack import PERIOD_S, RATE, Daw, Drumd, Listener, Player, judged

pytestmark = pytest.mark.jack

TOLERANCE = PERIOD_S + 0.002 + 0.002
NOTE_ON, CC = 0x90, 0xB0


def wiring(jack, daw_port, drumd, listener, player=None):
    jack.connect(daw_port, drumd.in_port)
    jack.connect(daw_port, listener.port)
    jack.connect(drumd.out_port, listener.port)
    if player is not None:
        jack.connect(player.port, drumd.in_port)
    time.sleep(0.3)


def roll(jack, daw, drumd, listener, seconds: float):
    """Wire, play the DAW for `seconds`, stop, then end drumd with SIGTERM: (what the listener
    heard, drumd's output). The DAW's clock and the listener are closed either way."""
    try:
        wiring(jack, daw.port, drumd, listener)
        daw.play(listener)
        time.sleep(seconds)
        daw.command("stop")
        time.sleep(0.3)
        events = listener.snapshot()
        return events, drumd.terminate()
    finally:
        daw.close()
        listener.close()


def note_ons(events, channel=9):
    return [(t, m) for t, m in events if m[0] == NOTE_ON | channel and m[2] > 0]


def ticks(events):
    return np.array([t for t, m in events if m[0] == 0xF8])


def first_xrun(tick_times, tick_period):
    """Time of the first disturbance of JACK's timeline: a hole in the tick stream, or the
    tick phase wandering off by more than a period (a dummy-driver xrun on this shared box,
    sometimes spread over several short stalls). A shift of about one tick cannot be told from
    a dropped tick by any receiver (drumd takes it for a drop), so the grid before and after
    it differ by a tick depending on the reading; notes after it are not judged."""
    gaps = np.flatnonzero(np.diff(tick_times) > tick_period + 2 * PERIOD_S + 0.003)
    phase = tick_times - np.arange(len(tick_times)) * tick_period
    ref = np.median(phase[:24])
    local = np.array([np.median(phase[max(0, i - 3):i + 4]) for i in range(len(phase))])
    drift = np.flatnonzero(np.abs(local - ref) > PERIOD_S + 0.002)
    firsts = [tick_times[g[0]] for g in (gaps, drift) if len(g)]
    return min(firsts) if firsts else np.inf


def grid_errors(events, tick_period):
    """For each note-on before the first xrun, but those of the first 16th: time from the
    nearest 16th of the tick stream (every 6th tick counted from Start, as drumd counts them).
    The first 16th is not judged, as drumd does not judge it (planner.StepPlan.judged): its
    time is known only once the first tick after Start has come, and its notes land two or three
    periods after it (9-15 ms in four runs; it failed a CI run that had every later 16th on time)."""
    ts = ticks(events)
    start = next(t for t, m in events if m[0] == 0xFA)
    ts = ts[ts >= start]
    count = np.arange(len(ts))
    until = first_xrun(ts, tick_period)
    errs = []
    for t, _ in note_ons(events):
        if t > until:
            break
        near = (ts > t - 0.5) & (ts <= t + 0.05)  # the local grid: robust line of the last ticks
        phase = np.median(ts[near] - count[near] * tick_period)
        k = np.round((t - phase) / (6 * tick_period))
        if k > 0:  # the 16th's number from Start (the first tick after it is 0)
            errs.append(t - (phase + k * 6 * tick_period))
    return np.array(errs)


def last_channel_message(events):
    return [m for _, m in events if m[0] < 0xF0][-1]


def paired(events):
    """Every note-on is closed by exactly one note-off before the next note-on of its key."""
    open_notes = {}
    for i, (t, m) in enumerate(events):
        kind = m[0] & 0xF0
        if kind not in (0x80, 0x90):
            continue
        key = (m[0] & 0x0F, m[1])
        before = [(round(1000 * (u - t), 2), n) for u, n in events[max(0, i - 12):i + 3]
                  if n[0] & 0xF0 in (0x80, 0x90)]  # ms from this message: what led up to it
        if kind == 0x90 and m[2] > 0:
            assert key not in open_notes, f"note-on {key} while sounding: {before}"
            open_notes[key] = True
        else:
            assert open_notes.pop(key, None), f"note-off {key} without a note-on: {before}"
    return open_notes


def test_quantized_notes_land_on_the_clock_grid_in_the_output_map(jack, transport, drumd_checkpoint):
    bpm = 120.0
    mark = jack.log_mark()
    daw = Daw(jack, transport, bpm=bpm, force_bpm=True)  # exact ticks: 1000 frames apart
    listener = Listener("grid-rec")
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "external",
                  "--quantize", "1", "--out-map", "ezdrummer2", "--seed", "1", client="drumd-grid")
    events, out = roll(jack, daw, drumd, listener, 4.0)
    ons = note_ons(events)
    assert len(ons) >= 20, (out, [m for _, m in events if m[0] != 0xF8][:20])
    # EZdrummer 2 notes for the model's classes (GM 42 -> 22, 46 -> 25, 49 -> 55 ...)
    from drumd.daemon.play.voicing import Voicing
    from drumd.engine.data.encoding import CLASS_PITCH
    ezd = {Voicing("ezdrummer2").note_on(p, 100)[1] for p in CLASS_PITCH}
    assert {m[1] for _, m in ons} <= ezd
    with judged(jack, mark, drumd.client):  # timing and note pairs
        errs = grid_errors(events, 1000 / RATE)
        assert len(errs) >= 8, "xruns from the first second: the box is too busy to judge timing"
        # The reference grid is a line through period-quantised tick arrivals, so it can sit up to
        # half a period after a tick; a stray late wake on this shared 2-core box is tolerated
        # (1 in 10), a systematic offset or drift is not.
        on_grid = (errs > -PERIOD_S / 2 - 0.002) & (errs < TOLERANCE)
        assert on_grid.mean() >= 0.9, np.round(errs * 1000, 2)
        assert 0 <= np.median(errs) <= PERIOD_S + 0.002, np.round(errs * 1000, 2)
        assert paired(events) == {}


def status_lines(out):
    return [line for line in out.splitlines() if "BPM" in line]


def test_transport_tempo_and_shutdown(jack, transport, drumd_checkpoint, tmp_path):
    mark = jack.log_mark()
    daw = Daw(jack, transport, bpm=120.0)  # jack_transport is timebase master: Song Position, tempo changes
    listener = Listener("transport-rec")
    take = tmp_path / "take.mid"
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "external",
                  "--quantize", "1", "--status", "--record", str(take), "--seed", "2",
                  client="drumd-transport")
    # The run goes to the end whatever is seen; then what drumd itself wrote (its take, its
    # status line) is asserted, and last what reached the listener, judged (JACK drops a cycle's
    # MIDI when a client misses it on a busy box).
    heard = {}  # what the listener got: check -> passed
    try:
        wiring(jack, daw.port, drumd, listener)
        daw.play(listener)
        time.sleep(2.0)
        # stop: silence within a period or two, and nothing more until we play again
        t_stop = time.perf_counter()
        daw.command("stop")
        time.sleep(1.0)
        written_on_stop = take.is_file()
        ev = listener.snapshot()
        stop_at = next((t for t, m in ev if m[0] == 0xFC and t >= t_stop), t_stop)
        heard["no note-on after stop"] = not [t for t, _ in note_ons(ev) if t > stop_at + 0.02]
        heard["all notes off on stop"] = any(m == (CC | 9, 123, 0) for t, m in ev if t >= stop_at)
        heard["every note closed on stop"] = paired(ev) == {}
        # relocate to 4 s in: Song Position, then Continue, playing from there
        listener.clear()
        daw.play(listener, frame=4 * RATE)
        time.sleep(1.2)
        daw.command("tempo 150")
        time.sleep(2.5)
        ev = listener.snapshot()
        spp = [m for _, m in ev if m[0] == 0xF2]
        heard["song position and continue sent"] = bool(spp) and any(m[0] == 0xFB for _, m in ev)
        heard["notes after continue"] = bool(note_ons(ev))
        _, final, out = drumd.sigterm_while_heard(listener)
    finally:
        daw.close()
        listener.close()
    # drumd's own output: the take and the status line
    assert written_on_stop  # the take was written on transport stop
    lines = status_lines(out)
    assert spp, "the master sent no Song Position: nothing to judge the relocation by"
    resume_bar = (spp[-1][1] | spp[-1][2] << 7) // 16 + 1  # the master's bar 3, in 16ths
    assert resume_bar >= 3
    bars = [int(m.group(1)) for line in lines if (m := re.search(r"\s(\d+):(\d)\s", line))]
    # resumed where the Song Position said, not from bar 1
    assert resume_bar in bars and 1 not in bars[bars.index(resume_bar):], lines
    mid = mido.MidiFile(take)
    assert [t.name for t in mid.tracks] == ["tempo", "drumd out", "player in"]
    ons = sum(1 for m in mid.tracks[1] if m.type == "note_on" and m.velocity > 0)
    offs = sum(1 for m in mid.tracks[1] if m.type == "note_off" or (m.type == "note_on" and m.velocity == 0))
    assert ons == offs > 0  # the take closes every note it opens
    tempi = [mido.tempo2bpm(m.tempo) for m in mid.tracks[0] if m.type == "set_tempo"]
    assert max(tempi) > 140
    # the tempo change was followed: drumd's tempo (its status line) matches the tick rate
    # stop, relocation and SIGTERM's all-notes-off: not timing, never excused
    judged_apart = ("no note-on after stop", "every note closed on stop")
    assert [k for k, ok in heard.items() if not ok and k not in judged_apart] == []
    assert last_channel_message(final) == (CC | 9, 123, 0)
    assert ons >= len(note_ons(final)) > 0
    with judged(jack, mark, drumd.client):  # when notes came, and note-offs a late recorder lost
        assert [k for k in judged_apart if not heard[k]] == []
        tick_bpm = 60 / (np.median(np.diff(ticks(final)[-48:])) * 24)
        assert float(lines[-1].split()[0]) == pytest.approx(tick_bpm, rel=0.05) and tick_bpm > 140
        assert paired(final) == {}  # SIGTERM: every note closed


def test_player_in_a_vendor_map_through_call_and_response(jack, transport, drumd_checkpoint):
    bpm = 120.0
    step = 60 / bpm / 4
    mark = jack.log_mark()
    daw = Daw(jack, transport, bpm=bpm, force_bpm=True)
    listener = Listener("call-rec")
    player = Player("player")
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "external",
                  "--mode", "call", "--bars", "1", "--in-map", "ezdrummer2", "--thru",
                  "--density", "3", client="drumd-call")
    try:
        wiring(jack, daw.port, drumd, listener, player)
        t0 = daw.play(listener)  # step 0
        # a bar in EZdrummer 2 notes (kick 36, snare 38, closed hat edge 22) ending on beat 4,
        # so a beat of silence (--silence-beats 1) ends the phrase at the bar line
        phrase = [(s, 36 if s % 8 == 0 else 38 if s % 8 == 4 else 22) for s in range(0, 13, 2)]
        for s, note in phrase:
            time.sleep(max(0.0, t0 + s * step - time.perf_counter()))
            player.send([0x99, note, 100])
            player.send([0x89, note, 0])
        time.sleep(max(0.0, t0 + 40 * step - time.perf_counter()))
        daw.command("stop")
        time.sleep(0.3)
        events = listener.snapshot()
        drumd.terminate()
    finally:
        daw.close()
        player.close()
        listener.close()
    assert note_ons(events), "drumd played nothing"
    with judged(jack, mark, drumd.client):
        ons = note_ons(events)
        during = [m[1] for t, m in ons if t < t0 + 15.5 * step]
        answer = [t for t, m in ons if t0 + 15.5 * step <= t]
        # thru: the player's EZdrummer notes come out as GM; drumd itself stays quiet while listening
        assert sorted(set(during)) == [36, 38, 42] and len(during) == len(phrase)
        # the answer: one bar from the next bar line (step 16), then listening again
        assert answer, "drumd did not answer"
        assert min(answer) >= t0 + 15.5 * step and max(answer) < t0 + 32.5 * step
        assert paired(events) == {}


def sixteenths(events, tick_period):
    """The 16th (counted from Start, as drumd counts them) nearest each note-on: {k: [notes]}."""
    start = next(t for t, m in events if m[0] == 0xFA)
    out = {}
    for t, m in note_ons(events):
        out.setdefault(int(round((t - start) / (6 * tick_period))), []).append(m[1])
    return out


def test_phrase_fills_lead_into_a_crash_through_jack(jack, transport, drumd_checkpoint):
    """--fill-every 2 through the real stack: the downbeat after every second bar has a crash."""
    bpm = 240.0  # a bar a second
    mark = jack.log_mark()
    daw = Daw(jack, transport, bpm=bpm, force_bpm=True)
    listener = Listener("fill-rec")
    drumd = Drumd(jack, "--checkpoint", str(drumd_checkpoint), "--clock", "external",
                  "--quantize", "1", "--fill-every", "2", "--seed", "3", client="drumd-fill")
    events, out = roll(jack, daw, drumd, listener, 7.5)
    tick = 60 / (bpm * 24)
    with judged(jack, mark, drumd.client):  # a note moved by an xrun would land on another 16th
        at = sixteenths(events, tick)
        heard = max(at) if at else 0
        downbeats = [k for k in (32, 64, 96) if k < heard - 4]
        assert len(downbeats) >= 2, (heard, out)
        assert all(49 in at.get(k, []) for k in downbeats), {k: at.get(k) for k in downbeats}
