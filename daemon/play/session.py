"""A running drumd: the threads and what flows between them.

Threads (names as `threading` shows them):
  MIDI input           ALSA: rtmidi's callback thread timestamps and enqueues each message;
                       JACK: a poller of ours ("drumd-midi-in") drains rtmidi's queue every
                       0.5 ms instead, so JACK's process thread never waits for the GIL
                       (midi/ports.py)
  input thread         "drumd-input": clock messages -> Clock; notes -> PlayerLog (+ thru);
                       CC -> controls (one-shot fill and phrase-end requests: controls.OneShot)
  engine thread        "drumd-engine": one step ahead: computes step k+1 while step k sounds,
                       hands the hits to the sender by musical position. What to do at each
                       step (resync, mode, fills, guitar gate, when) is decided by a pure
                       StepPlanner (planner.py); this thread waits, computes and sends
  sender thread        "drumd-sender": sends at the clock-predicted times (scheduler.py),
                       SCHED_FIFO if allowed
  (--clock jack|link)  "drumd-transport": reads JACK transport twice per JACK period, or the
                       Link session every 2 ms, into the Clock (jacktransport.py,
                       linkclock.py); MIDI clock bytes are then ignored. --clock auto reads
                       JACK transport too where a server runs, beside MIDI clock: the Clock
                       lets whichever started first lead. Link runs its own threads inside
                       its library
  (--synth)            the audio host's callback thread (PortAudio; JACK's process thread on
                       JACK) mixes the SynthOutput: it only drains a deque that the engine
                       thread (hits, at their predicted times; one step ahead is enough lead
                       for the audio latency) and the input thread (thru) fill (sound/audio.py)
  (--audio-in)         a child process captures the guitar (sound/capture.py: its audio
                       callback writes to a pipe, never waiting for our GIL); the worker
                       "drumd-guitar" reads the pipe, analyses and publishes an immutable
                       GuitarState (sound/guitar.py); the engine thread reads it once per step
                       (follow.py) and, with riff lock, tells the guitar's accents to the
                       sampler as taps (Sampler.tap) before the step is computed
  main thread          status line, reconnecting ports, signals, shutdown
The model never runs on the input or sender threads, so neither waits for it (beyond the GIL,
whose switch interval is cut to 0.5 ms so a waiting sender gets it quickly).

Locks, outermost first (a thread holding one takes only those below it):
  Sender.cond          the sender's queues and sounding notes (scheduler.py); held while
                       sending, so it asks the clock (Session._time_of) and records under it
  Session.cond         the Clock, the grid epoch the sender's plan belongs to, Link peers;
                       notified on transport changes. Never held while calling the sender
  Recorder.lock        the take's events (record.py)
  Port.lock            one port's send/poll against its reopening (midi/ports.py)
  StatusLine.lock      the status line and log lines written above it (status.py)
Without locks: LiveControls (one attribute assignment per change; one-shots count up, see
controls.OneShot), the GuitarState (replaced whole), the SynthOutput's deque.

When step k is computed, and when it is late: planner.py.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import queue
import sys
import threading
import time

from drumd.daemon.play.controls import LiveControls
from drumd.daemon.play.follow import RIFF_MODES, biased_density, effect, scaled_velocity
from drumd.daemon.play.modes import PlayerLog, make_mode
from drumd.daemon.play.planner import Bars, Resync, StepPlanner
from drumd.daemon.play.record import TEMPO_CHANGE
from drumd.daemon.play.status import percentile_ms
from drumd.daemon.timing.clock import STOP, TICK, TICKS_PER_STEP, Clock
from drumd.daemon.timing.scheduler import Sender
from drumd.engine.data.encoding import parse_meter
from drumd.mappings.basics.midifile import MidiFileError

log = logging.getLogger(__name__)

AUTO_CLOCK_GRACE = 1.0  # s to wait for a DAW's clock before playing on our own (--clock auto)
# --guitar-tempo follows estimate changes above this; smaller ones are the estimate wobbling
# as onsets enter and leave its window.
GUITAR_TEMPO_STEP = 1.0


class Session:
    """A running drumd: the threads listed above, over one clock, sampler, ports and sender.

    `settings`: the resolved serve settings (daemon/cli/config.py); `inbox`: the input port's
    queue of (perf_counter s, bytes); `now`: the time source (s), injectable for tests. start()
    starts the threads, stop() asks them to end (returns at once), shutdown() closes every note,
    stops them and writes the take."""

    def __init__(self, settings: dict, sampler, in_port, out_port, inbox: queue.SimpleQueue,
                 voicing, player_input, recorder=None, status=None, now=time.perf_counter,
                 synth=None, guitar=None, transport=None):
        self.cfg = settings
        self.sampler, self.in_port, self.out_port, self.inbox = sampler, in_port, out_port, inbox
        self.voicing, self.player_input, self.recorder, self.status = voicing, player_input, recorder, status
        self.synth, self.guitar = synth, guitar  # SynthOutput, GuitarFollower (or None)
        self.transport = transport  # JackTransport (--clock jack), LinkTransport (link), or None
        self.peers: int | None = None  # Link peers at the latest query (None: not Link)
        self.now = now
        self.clock = Clock(bpm=settings["bpm"])
        # bars of the session's meter from song position 0 (MIDI clock carries no meter)
        self.meter = parse_meter(settings.get("meter", "4/4"))
        self.planner = StepPlanner(self.meter, settings["send_clock"])  # the engine thread's
        self.bars: Bars = self.planner.bars
        self.steps_per_bar = self.bars.steps_per_bar
        self._mode = None  # the mode playing (engine thread only)
        if transport is not None:
            self.clock.source = transport.source  # the status line says what drumd waits for
        self.cond = threading.Condition()  # guards the clock; notified on transport changes
        style = settings["style"] or sampler.default_style  # none given: the checkpoint's main style
        self.controls = LiveControls(sampler.styles, style, settings["mode"],
                                     settings["temperature"], settings["density"],
                                     settings["quantize"], settings["top_p"], settings["mute"],
                                     settings["cc"], settings["variation"], settings["fill_every"],
                                     settings["follow"], settings["unison"])
        self.player = PlayerLog()
        on_sent = self._record_sent if recorder else None
        self.sender = Sender(out_port.send, self._time_of, gate=settings["gate_ms"] / 1000,
                             now=now, on_sent=on_sent)
        self.played: dict[int, object] = {}  # song step -> Step drumd played (primer on resume)
        # The clock epoch the sender's queue was planned in. Until the engine thread has
        # dropped the old plan (a jump: Start, Continue, a Song Position while running), the
        # sender is told the transport is stopped: an old note keyed by position would
        # otherwise sound at that position on the new grid.
        self._grid_epoch: int | None = None
        self.compute_s: collections.deque[float] = collections.deque(maxlen=1024)
        self.late_steps = 0
        self.steps_done = 0
        self.riff_taps = 0  # riff lock: the guitar accents (16ths) told for the latest step
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.t_started = now()
        self._threads: list[threading.Thread] = []

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the sender, input, engine (and transport) threads; returns at once."""
        sys.setswitchinterval(0.0005)
        self.sender.start()
        loops = [(self._input_loop, "drumd-input"), (self._engine_loop, "drumd-engine")]
        if self.transport is not None:
            loops.append((self._transport_loop, "drumd-transport"))
        for target, name in loops:
            t = threading.Thread(target=self._guarded(target), name=name, daemon=True)
            t.start()
            self._threads.append(t)
        if self.cfg["clock"] == "internal":
            self._start_internal()

    def _guarded(self, fn):
        def run():
            try:
                fn()
            except BaseException as e:  # a crashed thread ends the session the careful way
                self.error = e
                self.stopping.set()
        return run

    def run_until_stopped(self, poll_s: float = 0.25) -> None:
        """Main-thread loop: status line and port watching until stop() or a thread fails."""
        while not self.stopping.wait(poll_s):
            for port, what in ((self.in_port, "input"), (self.out_port, "output")):
                change = port.check()
                if change == "lost":
                    self.sender.silence()
                    log.warning("%s port %r went away; waiting for it", what, port.target)
                elif change == "back":
                    log.info("%s port %r is back", what, port.target)
            if self.status is not None:
                self.status.show(self.snapshot())

    def stop(self) -> None:
        """Ask every thread to end; returns at once. shutdown() then closes it all."""
        self.stopping.set()

    def shutdown(self) -> None:
        """Silence the output, stop the threads, write the recording. Safe to call twice."""
        self.stopping.set()
        with self.cond:
            self.cond.notify_all()
        self.inbox.put((self.now(), None))
        for t in self._threads:
            t.join(timeout=2)
        self.sender.close()
        if self.cfg["send_clock"] and self.clock.running and self.clock.source == "internal":
            self.out_port.send([STOP])
        try:
            if self.recorder is not None:
                self.recorder.write()  # MidiFileError: serve's caller says the take was lost
        finally:
            if self.status is not None:
                self.status.close()

    # --- clock access for other threads --------------------------------------------------
    def _time_of(self, pos: float) -> float | None:
        with self.cond:
            if not self.clock.running or self.clock.epoch != self._grid_epoch:
                return None
            return self.clock.time_of(pos)

    def _record_sent(self, t: float, msg, pos: float | None) -> None:
        """Sender thread (its lock held): keep what was sent at `t` in the take, at the grid
        position it was queued for, else at the clock's position at `t` while it runs."""
        if pos is None:
            with self.cond:
                if self.clock.running and self.clock.epoch == self._grid_epoch:
                    pos = self.clock.position_at(t)
        self.recorder.add("drumd out", t, msg, pos)

    def _start_internal(self) -> None:
        with self.cond:
            # A little lead so the first step can be computed before it sounds.
            self.clock.start_internal(self.now() + 0.1, 0)
            self.cond.notify_all()

    # --- input thread --------------------------------------------------------------------
    def _input_loop(self) -> None:
        follow_clock = self.cfg["clock"] in ("auto", "external")  # MIDI clock
        while True:
            t, msg = self.inbox.get()
            if msg is None:
                return
            status = msg[0]
            if status >= 0xF0:
                if follow_clock:
                    self._clock_message(msg, t)
                continue
            if self.recorder is not None:
                with self.cond:
                    pos = self.clock.position_at(t) if self.clock.running else None
                self.recorder.add("player in", t, msg, pos)
            kind, ch = status & 0xF0, status & 0x0F
            if kind == 0x90 and len(msg) == 3 and msg[2] > 0:
                self._player_hit(t, ch, msg[1], msg[2])
            elif kind == 0xB0 and len(msg) == 3:
                self.player_input.control(ch, msg[1], msg[2])
                self.controls.control_change(msg[1], msg[2])
            elif kind == 0xC0 and len(msg) >= 2:
                self.controls.program_change(msg[1])

    def _clock_message(self, msg, t: float) -> None:
        with self.cond:
            changed = self.clock.message(msg, t)
            if changed:
                self.cond.notify_all()
            if msg[0] == TICK and self.recorder is not None and self.clock.beat_tick():
                self.recorder.tempo(t, self.clock.bpm, self.clock.position_at(t))
        self.sender.wake()  # a new tick refines the predicted times of what is queued

    # --- transport thread (--clock jack, --clock link) ------------------------------------
    def _transport_loop(self) -> None:
        """Read the transport (JACK transport, Link) every `transport.poll_s` into the clock."""
        interval = self.transport.poll_s
        meter_said, bbt_said = self.meter, False
        recorded_bpm = None
        while not self.stopping.wait(interval):
            state = self.transport.query()
            with self.cond:
                self.peers = state.peers
                # (--clock auto: a master there while stopped means a DAW drumd waits for)
                changed = self.clock.transport(state.time, state.position, state.bpm, state.rolling,
                                               self.transport.source, master=state.meter is not None)
                if changed:
                    self.cond.notify_all()
                following = self.clock.running and self.clock.source == self.transport.source
                if (self.recorder is not None and following and not changed and recorded_bpm
                        and abs(state.bpm / recorded_bpm - 1) >= TEMPO_CHANGE):
                    self.recorder.tempo(state.time, state.bpm, state.position)
                recorded_bpm = state.bpm
            self.sender.wake()  # the grid moved to the transport's latest position
            if following and state.meter is None and not bbt_said:
                bbt_said = True
                log.warning("JACK transport has no bar/beat position (no timebase master): "
                            "drumd counts its frames at %.1f BPM from frame 0", state.bpm)
            elif following and state.meter is not None and state.meter != meter_said:
                meter_said = state.meter
                log.warning("JACK transport is in %d/%d; drumd plays %d/%d (--meter) and counts "
                            "16ths from the song's start, so its bar lines drift from the transport's",
                            *state.meter, *self.meter)

    def _player_hit(self, t: float, ch: int, note: int, velocity: int) -> None:
        # Tap mode: any key is a tap, kept by its own note (not a drum: never echoed by --thru)
        tap = self.controls.mode == "tap"
        gm = note if tap else self.player_input.to_gm(ch, note)
        if gm is None:
            return
        with self.cond:
            pos = self.clock.position_at(t) if self.clock.running else None
        if pos is not None:
            self.player.add(pos, gm, velocity)
        if self.cfg["thru"] and not tap:
            out = self.voicing.note_on(gm, velocity)
            if out is not None:
                self.sender.at(t, out)
                if self.synth is not None:
                    self.synth.play(gm, velocity)  # already due: the next audio block

    # --- engine thread -------------------------------------------------------------------
    def _engine_loop(self) -> None:
        """Wait for the clock, then carry out the planner's resync or step (planner.py)."""
        while not self.stopping.is_set():
            self._check_clock()
            with self.cond:
                now = self.now()
                view = self.clock.view()
                resync = self.planner.resync(view, self.controls.mode)
                due = deadline = None
                if resync is None and view.running:
                    due = self.clock.time_of(self.planner.compute_at())
                    deadline = self.clock.time_of(self.planner.deadline())
                if resync is None and (due is None or due > now):
                    self.cond.wait(0.1 if due is None else min(due - now, 0.1))
                    continue
            if resync is not None:
                self._resync(resync)
            else:
                self._play_step(view.internal, deadline)

    def _check_clock(self) -> None:
        """Fall back to our own clock when an external one vanished; --clock auto: play on
        our own once no DAW's clock came within AUTO_CLOCK_GRACE."""
        with self.cond:
            now = self.now()
            if self.clock.poll(now):
                log.warning("clock lost; playing on at %.1f BPM", self.clock.bpm)
            no_daw = (self.cfg["clock"] == "auto" and self.clock.epoch == 0
                      and not self.clock.external_seen and now - self.t_started > AUTO_CLOCK_GRACE)
        if no_daw:
            self._start_internal()

    def _resync(self, r: Resync) -> None:
        """The transport moved: drop what was planned, then (running) restart the mode at
        r.start, primed with what drumd played before it."""
        self.sender.silence()  # every sounding note closed, the old plan dropped
        with self.cond:
            self._grid_epoch = r.epoch
        if r.start is None:  # stopped
            if self.recorder is not None:
                try:
                    self.recorder.write()
                except MidiFileError as e:  # the take is kept; drumd exit tries again
                    log.error("%s; the take so far was not saved, drumd tries again when it "
                              "exits", e)
            return
        k = r.start
        if self.recorder is not None:  # the song position the take (re)starts from
            with self.cond:
                if self.clock.epoch == r.epoch:
                    self.recorder.started(self.clock.time_of(k), k, r.bpm)
        self._mode = make_mode(r.mode, self.cfg["bars"], self.cfg["silence_beats"], self.meter)
        primer = [self.played[s] for s in r.primer_steps if s in self.played]
        self._mode.start(self.sampler, k, self.controls.style, r.bpm,
                         primer if len(primer) == len(r.primer_steps) else ())
        if r.clock_message is not None:
            self.sender.on_grid(k, [r.clock_message])

    def _play_step(self, internal: bool, deadline: float) -> None:
        """Compute step k as planned, count it (late: done after `deadline`, perf_counter s)
        and hand it to the sender."""
        k, wanted = self.planner.k, self.controls.mode
        if self.planner.switch_mode(wanted):
            self._mode = make_mode(wanted, self.cfg["bars"], self.cfg["silence_beats"], self.meter)
            self._mode.start(self.sampler, k, self.controls.style, self.clock.bpm, ())
        mode = self._mode
        guitar = self._follow_guitar(mode.name)
        plan = self.planner.plan_step(self.controls.fill_request.take(),
                                      None if guitar is None else guitar.play)
        pedal = self.controls.phrase_end_request.take()
        controls, velocity = self.controls.for_step(plan.fill), 1.0
        if guitar is not None:
            controls = dataclasses.replace(
                controls, density=biased_density(controls.density, guitar.density))
            velocity = guitar.velocity
        t0 = self.now()
        if plan.fresh:  # the guitar is back: a fresh groove from this step
            mode.start(self.sampler, k, self.controls.style, self.clock.bpm, ())
        if plan.play and guitar is not None:
            for pos, v in guitar.taps:  # riff lock; one told again is harmless (Sampler.tap)
                self.sampler.tap(pos, v)
            self.riff_taps = len(guitar.taps)
        step = mode.step(self.sampler, k, controls, self.player, pedal) if plan.play else None
        done = self.now()
        self.compute_s.append(done - t0)
        self.steps_done += 1
        if plan.judged and done > deadline:
            self.late_steps += 1
        self._emit(k, step, internal, velocity)

    def _follow_guitar(self, mode: str):
        """Read the guitar for the next step: its GuitarEffect (None without --audio-in). Sizes
        its bars by the clock; with --guitar-tempo its tempo drives our own clock."""
        if self.guitar is None:
            return None
        with self.cond:
            self.guitar.bpm = self.clock.bpm
            ours = self.clock.source == "internal" and not self.clock.fallback
        state = self.guitar.snapshot()
        tempo = state.tempo_bpm
        if self.cfg["guitar_tempo"] and ours and tempo and abs(tempo - self.guitar.bpm) > GUITAR_TEMPO_STEP:
            with self.cond:
                now = self.now()
                self.clock.set_internal_bpm(tempo, now)
                if self.recorder is not None:
                    self.recorder.tempo(now, tempo, self.clock.position_at(now))
            self.sender.wake()
        riff = None
        if self.cfg["riff_lock"]:
            with self.cond:
                bar_s = self.steps_per_bar * self.clock.step_duration
            riff = (bar_s, self._position_at)
        e = effect(state, mode, self.cfg["guitar_fill"], riff)
        if e.fill:
            self.controls.fill_request.request()
        return e

    def _position_at(self, t: float) -> float | None:
        """The song position (16ths) at perf_counter time `t`; None while stopped."""
        with self.cond:
            return self.clock.position_at(t) if self.clock.running else None

    def _emit(self, k: int, step, internal: bool, velocity: float = 1.0) -> None:
        if self.cfg["send_clock"] and internal:
            for i in range(TICKS_PER_STEP):
                self.sender.on_grid(k + i / TICKS_PER_STEP, [TICK])
        if step is None:
            return
        self.played[k] = step
        self.played.pop(k - 4 * self.steps_per_bar, None)
        when = [None] * len(step.hits)
        if self.synth is not None:  # the predicted times; later ticks may still move them a little
            with self.cond:
                if self.clock.running:
                    when = [self.clock.time_of(k + hit.offset) for hit in step.hits]
        for hit, t in zip(step.hits, when):
            v = scaled_velocity(hit.velocity, velocity)
            msg = self.voicing.note_on(hit.pitch, v)
            if msg is not None:
                self.sender.on_grid(k + hit.offset, msg)
                if self.synth is not None:
                    self.synth.play(hit.pitch, v, t)

    # --- status --------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """The status line's figures now: tempo (BPM), clock source, bar and beat, mode and
        controls, late steps, step compute p50/p99 (ms) and the sender's lateness p99 (ms)."""
        with self.cond:
            c = self.clock.view()
            pos = self.clock.position_at(self.now()) if c.running else 0.0
            peers = self.peers
        where = self.bars.position(int(pos // 1))
        return {"bpm": c.bpm, "source": c.source, "fallback": c.fallback, "running": c.running,
                "peers": peers, "bar": where.bar, "beat": where.beat,
                "mode": self.controls.mode, "temperature": self.controls.temperature,
                "density": self.controls.density, "quantize": self.controls.quantize,
                "variation": self.controls.variation, "fill_every": self.controls.fill_every,
                "follow": self.controls.follow, "unison": self.controls.unison,
                # riff lock on and steering (None: off, or not in a mode it steers)
                "riff": (self.riff_taps if self.guitar is not None and self.cfg["riff_lock"]
                         and self.controls.mode in RIFF_MODES else None),
                "late": self.late_steps, "steps": self.steps_done,
                "p50": percentile_ms(list(self.compute_s), 50),
                "p99": percentile_ms(list(self.compute_s), 99),
                "send_late_p99": percentile_ms([x / 1000 for x in self.sender.stats.late_ms], 99)}
