"""Steps <-> MIDI files in any vendor drum map (through drumd.mappings)."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from drumd.engine.data.encoding import Step, quantize_hits, steps_of
from drumd.engine.data.gmd import DataError, read_onsets
from drumd.mappings.basics.grid import (STEP_TICKS, STEPS_PER_BEAT, nearest_step, steps_per_bar,
                                        steps_to_ticks)
from drumd.mappings.basics.midifile import Track, note_events, write_midi

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Primer:
    """A drum file measured in its own bars (see read_primer)."""
    steps: list[Step]        # whole bars from tick 0, trailing rests as empty steps
    carry: Step | None       # hits on the downbeat just after them: the continuation's first step
    bpm: float
    steps_per_bar: int       # 16ths per bar of the file's meter
    meter: tuple[int, int] = (4, 4)
    # the file's own hits in those bars, (time in steps, GM pitch, velocity): flams and drags
    # whole, pitches the model has no class for kept (write them back with write_steps(notes=))
    notes: tuple[tuple[float, int, int], ...] = ()

    @property
    def bars(self) -> int:
        """Whole bars of the file's meter in `steps`."""
        return len(self.steps) // self.steps_per_bar


def read_primer(path: Path, map_name: str | None = None, channel: int = 10,
                channel_option: str = "--channel", map_option: str = "--primer-map") -> Primer:
    """A drum MIDI file as whole bars of GM Steps, measured from its own bar lines.

    Its notes are read in the drum map `map_name`, else the one the file names (drumd writes
    it), else GM: mappings.loader.map_for_file, as render and remap choose; a `map_name` that
    disagrees with the file's map is logged as a warning.

    Bar lines: tick 0 is one; a bar is numerator * 16 / denominator 16ths of the first
    time_signature (4/4 without one). The file ends at its end_of_track (the latest over
    tracks), never at its last hit, so trailing rests count and are kept as empty steps.
    Hits go to the 16th they are nearest to (an early hit belongs to the next step).

    The rule, where E is the end of track and the last bar is the one E falls in (or ends at):
      - the last bar counts if E reaches its closing bar line, or if it holds a hit on any
        step after its downbeat (a partial bar: padded with empty steps to its end);
      - otherwise it is not a bar: what runs on past its bar line is note-offs and hi-hat
        pedal CCs ringing on (in the Groove MIDI Dataset these run up to 15.8 16ths past a
        drummer's final crash). The primer is the whole bars before it, and the hits on its
        downbeat step, if any (a crash on the next downbeat), are `carry`: the first step of
        the continuation, which starts on that bar line.
    A file whose last bar counts can still end with an early hit that rounds onto the next
    bar line; that step is the carry too. So a 2-bar beat whose last 16th is a rest is 32
    steps whether its end of track is at the last note-off or on the bar line; with a crash
    on bar 3's downbeat it is 32 steps and the crash; ending at 48 with no hit after step
    32 it is 48 steps (3 bars, the last one a crash and rests), as drumd writes such a file.

    Drums are read from `channel` (1-16). Raises DataError (naming the file) for an unreadable
    file, a file with no notes on that channel but notes on others, or a meter whose bar is
    not a whole number of 16ths.
    """
    from drumd.mappings import MapError, load_map
    from drumd.mappings.basics.midifile import MidiFileError, read_drum_notes
    from drumd.mappings.drummaps.loader import map_for_file
    try:
        named = read_drum_notes(path, channel, channel_option).map_name
    except MidiFileError as e:
        raise DataError(str(e)) from None
    try:
        m, _, warning = map_for_file(path, named, map_name, map_option)
    except MapError as e:
        raise DataError(str(e)) from None
    if warning:
        log.warning("%s", warning)
    m = m or load_map("gm")
    onsets, bpm, grid = read_onsets(Path(path), lambda n, cc4: m.to_gm(n, cc4=cc4), grid=True,
                                    channel=channel, channel_option=channel_option)
    try:
        per_bar = steps_per_bar(grid.numerator, grid.denominator)
    except ValueError as e:
        raise DataError(f"{path}: {e}") from None
    steps = steps_of(quantize_hits(onsets))
    end = Fraction(grid.end_tick * STEPS_PER_BEAT, grid.ticks_per_beat)  # in 16ths, exact
    n_bars = math.ceil(end / per_bar)
    last_bar = (n_bars - 1) * per_bar
    if n_bars and end < n_bars * per_bar and all(not s.hits for s in steps[last_bar + 1:]):
        n_bars -= 1  # note-offs and pedal CCs ringing into a bar that holds at most its downbeat
    n = n_bars * per_bar
    carry = steps[n] if n < len(steps) and steps[n].hits else None
    body = steps[:n] + [Step()] * max(0, n - len(steps))
    notes = tuple(o for o in onsets if 0 <= nearest_step(o[0]) < n)  # as quantize_hits steps them
    return Primer(body, carry, bpm, per_bar, (grid.numerator, grid.denominator), notes)


def write_steps(path: Path, steps: list[Step], bpm: float, map_name: str = "gm",
                channel: int = 10, gate_steps: float = 0.5,
                meters: tuple[tuple[int, int, int], ...] = ((0, 4, 4),),
                notes: tuple[tuple[float, int, int], ...] = ()) -> int:
    """Write Steps as a type-0 MIDI file in a vendor map; returns the number of notes written.

    Step 0 is at tick 0; the file runs to the end of the last step, names `map_name`, and is
    written through the one MIDI writer (mappings.midifile.write_midi: atomic, the file
    appears complete or not at all; MidiFileError naming the file if it cannot be written).
    `notes`: hits written as they are, (time in steps, GM pitch, velocity), beside the steps
    (a primer's own notes: Primer.notes). `meters`: (step, numerator, denominator) of each
    time signature, the first at step 0 (a 3/4 primer before a 4/4 continuation:
    ((0, 3, 4), (24, 4, 4))). Hits the map cannot play are skipped.
    """
    from drumd.mappings import load_map
    m = load_map(map_name)
    hits = [(max(0, steps_to_ticks(at)), m.from_gm(pitch), velocity)
            for at, pitch, velocity in list(notes) + [(t + h.offset, h.pitch, h.velocity)
                                                      for t, step in enumerate(steps)
                                                      for h in step.hits]]
    hits = [h for h in hits if h[1] is not None]
    events = note_events(hits, channel, gate_ticks=steps_to_ticks(gate_steps))
    write_midi(path, [Track("drumd", events, m.name)], tempos=((0, bpm),),
               meters=tuple((at * STEP_TICKS, num, den) for at, num, den in meters),
               end_tick=len(steps) * STEP_TICKS)
    return len(hits)
