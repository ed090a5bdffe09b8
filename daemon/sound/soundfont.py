"""A SoundFont (.sf2) kit played by FluidSynth, as a sound source beside the built-in synth.

`FluidSource` has VoiceMixer's interface (schedule GM hits at frames, render blocks, busy,
tail_frames, late), so `drumd render` and `drumd audition` (and SynthOutput) take either one:
the same code path with another sound. FluidSynth comes through pyfluidsynth (ctypes over the
system's libfluidsynth), imported only here and only when a SoundFont is asked for, so the
built-in kit needs neither.

Timing: FluidSynth starts a voice at the start of one of its 64-frame blocks
(FLUID_BUFSIZE); a hit is started on the block boundary nearest its frame, within 32 frames
(0.67 ms at 48 kHz) of it. The built-in kit stays sample-accurate.
"""
from __future__ import annotations

import contextlib
import heapq
import io
import os
import sys
from ctypes import c_int, c_void_p
from pathlib import Path

import numpy as np

from drumd.mappings.basics.errors import DrumdError

FLUIDSYNTH_MISSING = ("--soundfont needs the FluidSynth library, which is not installed "
                      "(Debian/Ubuntu: apt-get install libfluidsynth3; Fedora: dnf install "
                      "fluidsynth-libs; macOS: brew install fluid-synth)")
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0 as FluidSynth does
FLUID_BLOCK = 64  # FluidSynth's internal block (FLUID_BUFSIZE): a voice starts on its boundaries
# drumd serve sends each note-off this long after its note-on (daemon.scheduler.Scheduler's
# default gate); FluidSynth honours note-offs (a crash's release starts), so hits are gated alike.
GATE_S = 0.06
GAIN = 1.0  # FluidSynth's synth.gain: FluidR3's kick at velocity 110 peaks near the built-in kit's
SILENT = 1e-4  # -80 dBFS: below it a block with no voice left ends the reverb's tail
MAX_TAIL_S = 20.0  # a sustained (looped) sample never keeps a render going longer than this
_TAIL_BLOCK_S = 0.05  # past the last event, rendering goes on this much at a time while it sounds


class SoundFontError(DrumdError):
    """A SoundFont cannot be played: FluidSynth is missing, the file is unreadable or no
    SoundFont, or it has no preset. One line naming the file."""


_write_float = None  # fluid_synth_write_float, once FluidSynth is loaded


def load_fluidsynth():
    """pyfluidsynth, with FluidSynth's own log silenced (drumd reports its errors in one line).
    Raises SoundFontError where the library is missing."""
    global _write_float
    try:
        # pyfluidsynth prints where it found the library when $CI is set (as in CI): not ours
        with contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth
    except (ImportError, OSError):  # pyfluidsynth raises ImportError when libfluidsynth is absent
        raise SoundFontError(FLUIDSYNTH_MISSING) from None
    if _write_float is None:
        set_log = fluidsynth.cfunc("fluid_set_log_function", c_void_p, ("level", c_int, 1),
                                   ("fun", c_void_p, 1), ("data", c_void_p, 1))
        if set_log is not None:
            for level in range(5):  # FLUID_PANIC .. FLUID_DBG: no function, no output
                set_log(level, None, None)
        # float output: pyfluidsynth wraps only the 16-bit writer
        _write_float = fluidsynth.cfunc(
            "fluid_synth_write_float", c_int, ("synth", c_void_p, 1), ("len", c_int, 1),
            ("lout", c_void_p, 1), ("loff", c_int, 1), ("lincr", c_int, 1),
            ("rout", c_void_p, 1), ("roff", c_int, 1), ("rincr", c_int, 1))
    return fluidsynth


@contextlib.contextmanager
def _stderr_silenced():
    """File descriptor 2 to /dev/null: a file FluidSynth cannot read as SF2 goes on to its DLS
    loader (libinstpatch), which prints GLib criticals there itself; drumd says it in one line."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def soundfont_problem(path) -> str | None:
    """Why `path` is no SoundFont drumd can play (one line naming it), or None. Checks the
    file and its RIFF 'sfbk' header here, and that FluidSynth can be loaded."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(12)
    except IsADirectoryError:
        return f"{p}: a folder, not a SoundFont (.sf2) file"
    except FileNotFoundError:
        return f"{p}: no such SoundFont file"
    except OSError as e:
        return f"{p}: cannot read ({e.strerror or e})"
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        return f"{p}: not a SoundFont 2 file (expected a RIFF 'sfbk' header, as .sf2 files have)"
    try:
        load_fluidsynth()
    except SoundFontError as e:
        return str(e)
    return None


class FluidSource:
    """GM hits played by FluidSynth from a SoundFont's drum kit, block by block.

    The kit is the SoundFont's GM drum kit (bank 128, preset 0), else its first drum bank
    preset, else its first preset (AVL Drumkits' SoundFonts have one kit in bank 0). Hits come
    in as GM pitches, as the built-in kit takes them; `kit_notes` (GM pitch -> the kit's note
    or None to leave it out, e.g. mappings.Translator("gm", map).note) plays them on a kit
    that is not General MIDI. Each hit is a note-on and, GATE_S later, its note-off on MIDI
    channel 10.

    Interface of synth.VoiceMixer: frames count from 0 at construction, `frame` is the first
    frame of the next block, render(n) returns (n,) float32 for mono or (n, channels),
    mono is the mean of FluidSynth's left and right. Raises SoundFontError (one line naming
    the file) when FluidSynth is missing or cannot load the file.
    """

    def __init__(self, path, samplerate: int = 48000, channels: int = 1, max_block: int = 8192,
                 kit_notes=None):
        problem = soundfont_problem(path)
        if problem:
            raise SoundFontError(problem)
        fs = load_fluidsynth()
        self._write = _write_float
        self.path, self.sr, self.channels = Path(path), int(samplerate), channels
        self._kit_notes = kit_notes
        # Dry, as a drum plugin is: FluidSynth's default reverb is a room a mix does not want,
        # and its echoes (FluidR3's kick again 180 ms later) read as hits of their own.
        self._synth = fs.Synth(gain=GAIN, samplerate=float(self.sr), channels=16,
                               **{"synth.reverb.active": 0, "synth.chorus.active": 0})
        if self._synth.get_setting("synth.sample-rate") != float(self.sr):  # refused: out of range
            self.close()
            raise SoundFontError(f"FluidSynth does not play at {self.sr} Hz (FluidSynth 2: "
                                 "8000-96000 Hz); give a rate it plays for --soundfont")
        with _stderr_silenced():
            sfid = self._synth.sfload(os.fspath(path))
        if sfid < 0:
            self.close()
            raise SoundFontError(f"{path}: FluidSynth cannot load this SoundFont (damaged or "
                                 "not a SoundFont 2 file)")
        found = self._find_kit(sfid)
        if found is None:
            self.close()
            raise SoundFontError(f"{path}: the SoundFont has no preset to play")
        self.bank, self.preset, self.kit_name = found
        self._synth.program_select(DRUM_CHANNEL, sfid, self.bank, self.preset)
        self.frame = 0
        self.late = 0
        # heap of (frame, seq, note, velocity; for a note-off 0 and the seq of its note-on)
        self._pending: list[tuple[int, int, int, int, int]] = []
        self._seq = 0
        self._last_on: dict[int, int] = {}  # note -> seq of its latest note-on sent
        self._last_event = 0
        self._loud = False  # the last block had sound above SILENT (a release's last samples)
        self._buf = np.zeros((max(max_block, FLUID_BLOCK), 2), np.float32)
        self._gate = max(1, round(GATE_S * self.sr))

    def _find_kit(self, sfid) -> tuple[int, int, str] | None:
        name = self._synth.sfpreset_name
        for bank in (128, *range(128)):
            for preset in range(128):
                n = name(sfid, bank, preset)
                if n:
                    return bank, preset, n
        return None

    @property
    def is_gm_kit(self) -> bool:
        """Whether the kit is in the GM drum bank (128): a GM kit, unless its maker says not."""
        return self.bank == 128

    def schedule(self, pitch: int, velocity: int, at_frame: int) -> None:
        """A GM hit at `at_frame` (velocity 1-127; 0 or less is no hit)."""
        if velocity <= 0:
            return
        note = int(pitch) if self._kit_notes is None else self._kit_notes(int(pitch))
        if note is None or not 0 <= note <= 127:
            return
        at, on = int(at_frame), self._seq
        heapq.heappush(self._pending, (at, on, note, min(int(velocity), 127), on))
        heapq.heappush(self._pending, (at + self._gate, on + 1, note, 0, on))
        self._seq += 2
        self._last_event = max(self._last_event, at + self._gate)

    @property
    def busy(self) -> bool:
        """True while a hit is pending, a voice sounds or the reverb's tail is audible."""
        return bool(self._pending) or self._synth.get_active_voice_count() > 0 or self._loud

    def tail_frames(self) -> int:
        """Frames still to render, as far as known now: to the last pending event and one
        tail block past it, one tail block while anything sounds, else 0 (also MAX_TAIL_S
        after the last event, whatever still sounds). render_blocks asks again after each
        block."""
        quantum = round(_TAIL_BLOCK_S * self.sr)
        if self._pending:
            return self._last_event - self.frame + quantum
        if self.frame - self._last_event > MAX_TAIL_S * self.sr or not self.busy:
            return 0
        return quantum

    def _boundary(self, at: int) -> int:
        # the FluidSynth block boundary nearest `at`: a note-on sent there starts there
        return (at + FLUID_BLOCK // 2) // FLUID_BLOCK * FLUID_BLOCK

    def render(self, nframes: int, out: np.ndarray | None = None) -> np.ndarray:
        """Render the next nframes (see the class). With `out` (nframes, channels), writes
        into it in place: the form for audio callbacks."""
        if nframes > len(self._buf):
            self._buf = np.zeros((nframes, 2), np.float32)
        buf = self._buf[:nframes]
        end = self.frame + nframes
        done = 0  # frames of this block rendered so far
        while self._pending and self._boundary(self._pending[0][0]) < end:
            at, _, note, vel, on = heapq.heappop(self._pending)
            start = max(self._boundary(at) - self.frame, done)
            if start > done:
                self._fill(buf, done, start)
                done = start
            if vel:
                self.late += at < self.frame
                self._synth.noteon(DRUM_CHANNEL, note, vel)
                self._last_on[note] = on
            elif self._last_on.get(note) == on:
                # a note-off releases every voice of its key: not one struck again since
                self._synth.noteoff(DRUM_CHANNEL, note)
        self._fill(buf, done, nframes)
        self.frame = end
        self._loud = bool(np.abs(buf).max() > SILENT) if nframes else False
        np.clip(buf, -1.0, 1.0, out=buf)
        if self.channels == 1:
            mono = buf.mean(axis=1)
            if out is None:
                return mono
            out[:] = mono[:, None]
            return out
        if out is None:
            out = np.empty((nframes, self.channels), np.float32)
        out[:, :2] = buf
        out[:, 2:] = 0.0
        return out

    def _fill(self, buf: np.ndarray, a: int, b: int) -> None:
        if b > a:  # interleaved stereo: left at even floats, right at odd ones
            ptr = buf[a:].ctypes.data
            self._write(self._synth.synth, b - a, ptr, 0, 2, ptr, 1, 2)

    def close(self) -> None:
        """Free FluidSynth and the SoundFont's samples."""
        synth, self._synth = getattr(self, "_synth", None), None
        if synth is not None:
            synth.delete()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
