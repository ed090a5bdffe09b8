"""Primers on the beat (issue #12): a primer file is measured in bars from its own bar lines
(time signature, end of track), never from its last hit, and the continuation starts on the
bar line after it, carrying a hit on that downbeat as its first step."""
from pathlib import Path

import mido
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import main as drumd
from drumd.engine.data.encoding import Hit, Step
from drumd.engine.data.gmd import DataError
from drumd.engine.data.stepfiles import read_primer
from drumd.engine.model.checkpoint import load_checkpoint
from drumd.engine.sampling import generate as generate_module
from drumd.engine.sampling.generate import generate

TPB = 480
STEP = TPB // 4  # ticks per 16th
KICK, SNARE, HAT, CRASH = 36, 38, 42, 49


def rock_beat(bars=2, sixteenth_hats=False, steps_per_bar=16):
    """The issue's case: 8th hats, kick on 1, 3 and the "and" of 3, snare on 2 and 4; nothing on
    the last 16th (hats on every 16th: its last hit is on the bar's last step)."""
    notes = []
    for b in range(bars):
        for i in range(steps_per_bar):
            t = b * steps_per_bar + i
            if i % 2 == 0 or sixteenth_hats:
                notes.append((t, HAT, 80))
            if i in (0, 8, 10):
                notes.append((t, KICK, 100))
            if i in (4, 12):
                notes.append((t, SNARE, 100))
    return notes


def write_mid(path, notes, end_tick=None, meter=None, gate=STEP // 2, tail_ccs=(), bpm=110):
    """notes: (step, pitch, velocity[, offset ticks]); end_tick: where end_of_track goes
    (default: the last event); tail_ccs: ticks of hi-hat pedal CCs (they ring on past notes)."""
    ev = []
    for n in notes:
        t, p, v = n[:3]
        on = t * STEP + (n[3] if len(n) > 3 else 0)
        ev.append((on, 1, mido.Message("note_on", channel=9, note=p, velocity=v)))
        ev.append((on + gate, 0, mido.Message("note_off", channel=9, note=p, velocity=0)))
    ev += [(t, 2, mido.Message("control_change", channel=9, control=4, value=90)) for t in tail_ccs]
    ev.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))])
    if meter:
        track.append(mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1]))
    last = 0
    for t, _, m in ev:
        track.append(m.copy(time=t - last))
        last = t
    end = last if end_tick is None else end_tick
    assert end >= last
    track.append(mido.MetaMessage("end_of_track", time=end - last))
    mid = mido.MidiFile(ticks_per_beat=TPB)
    mid.tracks.append(track)
    mid.save(path)
    return Path(path)


def where(steps, pitch):
    return [t for t, s in enumerate(steps) if any(h.pitch == pitch for h in s.hits)]


# --- measuring a primer file ----------------------------------------------------------------
@pytest.mark.parametrize("end_tick", [None, 32 * STEP])  # the last note-off, or the bar line
def test_a_rest_on_the_last_16th_still_makes_two_whole_bars(tmp_path, end_tick):
    f = write_mid(tmp_path / "rock.mid", rock_beat(), end_tick=end_tick)  # last hit on step 30
    p = read_primer(f)
    assert len(p.steps) == 32 and p.bars == 2 and p.carry is None and p.steps_per_bar == 16
    assert where(p.steps, SNARE) == [4, 12, 20, 28]
    assert where(p.steps, KICK) == [0, 8, 10, 16, 24, 26]
    assert not p.steps[31].hits and p.bpm == pytest.approx(110)


@pytest.mark.parametrize("crash_at, end_tick, ccs", [
    (0, None, ()),                            # on the bar line, ends at its note-off
    (-25, None, ()),                          # a little early: still bar 3's downbeat
    (20, 36 * STEP, ()),                      # late, and its note-off rings a beat on
    (0, None, range(33 * STEP, 47 * STEP, 240)),  # hi-hat pedal CCs nearly to the end of bar 3
])
def test_a_crash_on_the_next_downbeat_is_carried_not_a_bar(tmp_path, crash_at, end_tick, ccs):
    notes = rock_beat() + [(32, CRASH, 110, crash_at), (32, KICK, 100, crash_at)]
    f = write_mid(tmp_path / "crash.mid", notes, end_tick=end_tick, tail_ccs=ccs)
    p = read_primer(f)
    assert len(p.steps) == 32 and where(p.steps, SNARE) == [4, 12, 20, 28]
    assert p.carry is not None and sorted(h.pitch for h in p.carry.hits) == [KICK, CRASH]
    assert {h.velocity for h in p.carry.hits if h.pitch == CRASH} == {110}
    assert [round(h.offset * STEP) for h in p.carry.hits] == [crash_at, crash_at]


def test_an_early_hit_on_the_bar_line_at_the_end_of_track_is_carried(tmp_path):
    notes = rock_beat() + [(32, CRASH, 110, -30)]  # rounds onto step 32; the file ends on the bar line
    f = write_mid(tmp_path / "crash.mid", notes, end_tick=32 * STEP, gate=20)
    p = read_primer(f)
    assert len(p.steps) == 32 and [h.pitch for h in p.carry.hits] == [CRASH]


def test_note_offs_a_few_ticks_past_the_bar_line_are_not_a_bar(tmp_path):
    notes = rock_beat(sixteenth_hats=True)  # last hit on step 31, its note-off past the bar line
    f = write_mid(tmp_path / "tail.mid", notes, gate=STEP + 10)
    assert sum(m.time for m in mido.MidiFile(f).tracks[0]) == 32 * STEP + 10  # end of track
    p = read_primer(f)
    assert len(p.steps) == 32 and p.carry is None


@pytest.mark.parametrize("extra, end_tick, n", [
    ([], 48 * STEP, 48),                  # a whole bar of rest, to its bar line: a bar
    ([(36, SNARE, 90)], 37 * STEP, 48),   # a hit after bar 3's downbeat: a partial bar, padded
    ([(32, CRASH, 110)], 48 * STEP, 48),  # a crash and the rest of its bar (drumd writes these)
    ([], 40 * STEP, 32),                  # half a bar of nothing after the last bar line: a tail
])
def test_a_genuinely_longer_file_keeps_its_bars(tmp_path, extra, end_tick, n):
    f = write_mid(tmp_path / "long.mid", rock_beat() + extra, end_tick=end_tick)
    p = read_primer(f)
    assert len(p.steps) == n and p.carry is None
    assert where(p.steps, SNARE)[:4] == [4, 12, 20, 28] and not any(s.hits for s in p.steps[37:])


def test_a_three_four_primer_has_twelve_step_bars(tmp_path):
    notes = rock_beat(steps_per_bar=12)  # snare on 2 only, kick on 1 and 3 and its "and"
    notes = [n for n in notes if n[0] % 12 != 10] + [(24, CRASH, 110)]  # rest on the last 8th
    f = write_mid(tmp_path / "waltz.mid", notes, meter=(3, 4))
    p = read_primer(f)
    assert p.steps_per_bar == 12 and p.meter == (3, 4)
    assert len(p.steps) == 24 and where(p.steps, SNARE) == [4, 16]
    assert [h.pitch for h in p.carry.hits] == [CRASH]


@pytest.mark.parametrize("make, message", [
    (lambda f: f.write_bytes(b"not midi"), "not a readable MIDI file"),
    (lambda f: write_mid(f, rock_beat(), meter=(7, 32)), "time signature 7/32"),
])
def test_bad_primers_fail_in_one_line_naming_the_file(tmp_path, make, message):
    f = tmp_path / "bad.mid"
    make(f)
    with pytest.raises(DataError, match=message) as e:
        read_primer(f)
    assert str(f) in str(e.value)
    r = CliRunner().invoke(drumd, ["generate", str(tmp_path / "out.mid"), "--primer", str(f)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.count("\n") == 1 and str(f) in r.output and message in r.output


# --- generating from a primer -----------------------------------------------------------------
class RecordingSampler:
    """The step API, recording the primer, positions and observed steps; plays a kick."""
    last = None

    def __init__(self, ckpt, seed=None):
        self.observed = []
        RecordingSampler.last = self

    def reset(self, primer=(), style=None, bpm=120.0, step_index=0, meter=(4, 4)):
        self.primer, self.step_index, self.meter = list(primer), step_index, meter

    def step(self, controls, observed=None):
        self.observed.append(observed)
        return observed if observed is not None else Step((Hit(KICK, 100),))


@pytest.mark.parametrize("length, meter, primer_meter, fed, index, out_steps", [
    (30, (4, 4), None, 32, 32, 32),   # not whole bars: padded to the bar line, not trimmed to 16
    (32, (4, 4), None, 32, 32, 32),
    (48, (4, 4), None, 48, 48, 32),
    (22, (3, 4), None, 24, 24, 24),   # 3/4: two 12-step bars, continued in 3/4
    (22, (4, 4), (3, 4), 24, 32, 32),  # a 3/4 primer continued in 4/4: its end meets a downbeat
    (30, (6, 8), None, 36, 36, 24),
])
def test_generate_pads_the_primer_to_its_bar_line(monkeypatch, length, meter, primer_meter, fed,
                                                 index, out_steps):
    monkeypatch.setattr(generate_module, "Sampler", RecordingSampler)
    primer = [Step((Hit(SNARE, 90),)) if t % 8 == 4 else Step() for t in range(length)]
    out = generate(None, 2, primer=primer, meter=meter, primer_meter=primer_meter)
    s = RecordingSampler.last
    assert len(s.primer) == fed and s.primer[:length] == primer and s.step_index == index
    assert s.meter == meter
    assert not any(x.hits for x in s.primer[length:])
    assert len(out) == out_steps and s.observed == [None] * out_steps


def test_generate_plays_the_carry_as_its_first_step(monkeypatch):
    monkeypatch.setattr(generate_module, "Sampler", RecordingSampler)
    crash = Step((Hit(CRASH, 110, -0.2),))
    out = generate(None, 2, primer=[Step()] * 32, carry=crash)
    assert out[0] == crash and len(out) == 32
    assert RecordingSampler.last.observed == [crash] + [None] * 31


def note_ons(path):
    t, out = 0, []
    for m in mido.MidiFile(path).tracks[0]:
        t += m.time
        if m.type == "note_on" and m.velocity > 0:
            out.append((t, m.note))
    return out


def test_include_primer_writes_the_continuation_from_the_next_bar_line(tmp_path):
    crash = write_mid(tmp_path / "crash.mid", rock_beat() + [(32, CRASH, 110), (32, KICK, 100)])
    rest = write_mid(tmp_path / "rest.mid", rock_beat())
    primer_ons = [(t * STEP, p) for t, p, _ in sorted(rock_beat())]
    for f, carry in ((rest, []), (crash, [(32 * STEP, KICK), (32 * STEP, CRASH)])):
        out = tmp_path / f"out-{f.stem}.mid"
        r = CliRunner().invoke(drumd, ["generate", str(out), "--primer", str(f), "--include-primer",
                                       "--bars", "2", "--seed", "3", "--quantize", "1"])
        assert r.exit_code == 0, r.output
        ons = note_ons(out)
        assert sorted(o for o in ons if o[0] < 32 * STEP) == sorted(primer_ons)  # the primer, in place
        after = [o for o in ons if o[0] >= 32 * STEP]
        assert after and all(t % STEP == 0 for t, _ in after)
        assert sorted(o for o in after if o[0] == 32 * STEP and o in carry) == sorted(carry)
        assert sum(m.time for m in mido.MidiFile(out).tracks[0]) == (32 + 32) * STEP
    # without --include-primer the file is the continuation: the crash on its tick 0
    out = tmp_path / "cont.mid"
    r = CliRunner().invoke(drumd, ["generate", str(out), "--primer", str(crash), "--bars", "1", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert {(0, KICK), (0, CRASH)} <= set(note_ons(out))


def time_signatures(path):
    sigs, t = [], 0
    for m in mido.MidiFile(path).tracks[0]:
        t += m.time
        if m.type == "time_signature":
            sigs.append((t, m.numerator, m.denominator))
    return sigs


def test_a_three_four_primer_is_continued_in_three_four(tmp_path):
    """Issue #14's case: a 4-bar 3/4 primer is continued in 3/4 (12-step bars), written out
    labelled 3/4, with a kick on the 3/4 downbeats; the shipped model, which learnt 4/4 only,
    says so in one line."""
    f = write_mid(tmp_path / "waltz.mid", rock_beat(bars=4, steps_per_bar=12), meter=(3, 4))
    on_one = bars = 0
    for seed in range(4):
        out = tmp_path / f"out{seed}.mid"
        r = CliRunner().invoke(drumd, ["generate", str(out), "--primer", str(f), "--include-primer",
                                       "--bars", "8", "--seed", str(seed), "--quantize", "1"])
        assert r.exit_code == 0, r.output
        assert "8 bars of 3/4" in r.stdout
        assert r.stderr.count("\n") == 1 and "learnt 4/4 only, not 3/4" in r.stderr
        assert time_signatures(out) == [(0, 3, 4)]
        assert sum(m.time for m in mido.MidiFile(out).tracks[0]) == (4 + 8) * 12 * STEP
        kicks = {t // STEP for t, p in note_ons(out) if p == KICK and t >= 48 * STEP}
        on_one += sum(48 + 12 * b in kicks for b in range(8))
        bars += 8
    assert on_one / bars >= 0.7, f"a kick on one in {on_one} of {bars} bars"


def test_meter_flag_overrides_the_primers_with_a_warning(tmp_path):
    f = write_mid(tmp_path / "waltz.mid", rock_beat(steps_per_bar=12), meter=(3, 4))
    out = tmp_path / "out.mid"
    r = CliRunner().invoke(drumd, ["generate", str(out), "--primer", str(f), "--include-primer",
                                   "--bars", "1", "--seed", "1", "--quantize", "1", "--meter", "4/4"])
    assert r.exit_code == 0, r.output
    assert "3/4" in r.stderr and "4/4" in r.stderr and r.stderr.count("\n") == 1
    assert time_signatures(out) == [(0, 3, 4), (24 * STEP, 4, 4)]


# --- the musical check (issue #12's target) ----------------------------------------------------
def backbeat_share(ckpt, primer, seeds, bars):
    """Of the continuation's snare hits, the share on beats 2 and 4 (pooled over seeds)."""
    on = total = 0
    for seed in seeds:
        out = generate(ckpt, bars, style="rock", primer=primer.steps, carry=primer.carry,
                       bpm=primer.bpm, seed=seed)
        snares = where(out, SNARE)
        on += sum(t % 16 in (4, 12) for t in snares)
        total += len(snares)
    return on / max(total, 1), total


def test_a_rest_ending_primer_keeps_the_backbeat_of_one_ending_on_step_31(tmp_path):
    ckpt = load_checkpoint(None)  # the shipped model
    rest = read_primer(write_mid(tmp_path / "rest.mid", rock_beat()))
    full = read_primer(write_mid(tmp_path / "full.mid", rock_beat(sixteenth_hats=True)))
    crash = read_primer(write_mid(tmp_path / "crash.mid", rock_beat() + [(32, CRASH, 110)]))
    assert (len(rest.steps), len(full.steps), len(crash.steps)) == (32, 32, 32)
    seeds, bars = range(16), 4
    ref, n_ref = backbeat_share(ckpt, full, seeds, bars)
    got, n_got = backbeat_share(ckpt, rest, seeds, bars)
    with_crash, n_crash = backbeat_share(ckpt, crash, seeds, bars)
    print(f"snare on 2 and 4: rest-ending {got:.0%} of {n_got}, 16th hats {ref:.0%} of {n_ref}, "
          f"rest-ending + crash {with_crash:.0%} of {n_crash}")
    assert min(n_ref, n_got, n_crash) >= 40
    assert got >= 0.9 * ref  # the target
    # A crash opens a new section, which may be played differently; out of phase it was a third.
    assert with_crash >= 0.75 * ref
