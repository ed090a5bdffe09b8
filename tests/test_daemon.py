"""Daemon pieces without ports: modes, controls, config, voicing, recording, the engine loop."""
import queue
import time

import mido
import pytest

from drumd.daemon.cli import config
from drumd.daemon.play.controls import LiveControls
from drumd.daemon.play.modes import Accompany, Call, Generate, PlayerLog
from drumd.daemon.play.record import Recorder
from drumd.daemon.play.status import format_status
from drumd.daemon.play.voicing import PlayerInput, Voicing, velocity_table
from drumd.engine.data.encoding import Hit, Step
from drumd.mappings.basics.midifile import MidiFileError

STYLES = ["funk", "jazz", "rock"]
C = LiveControls(STYLES, "rock").for_step(False)


class FakeSampler:
    """The engine's step API, recording how it was driven; plays a kick on every step."""

    def __init__(self, styles=STYLES):
        self.styles = styles
        self.default_style = "rock"  # as the shipped checkpoint's
        self.position = 0
        self.calls = []

    def reset(self, primer=(), style=None, bpm=120.0, step_index=0, meter=(4, 4)):
        self.calls.append(("reset", list(primer), style, step_index))
        self.meters = getattr(self, "meters", []) + [meter]
        self.position = step_index

    def step(self, controls, observed=None):
        self.calls.append(("step", self.position, controls))
        self.position += 1
        return Step((Hit(36, 100, 0.0),))

    def amend_last(self, hits):
        self.calls.append(("amend", self.position - 1, tuple(hits)))


# --- modes ---------------------------------------------------------------------------------
def test_generate_steps_every_step_and_accompany_feeds_the_player_back():
    s, log = FakeSampler(), PlayerLog()
    Generate().start(s, 0, "rock", 120, ())
    assert Generate().step(s, 0, C, log) is not None
    log.add(0.1, 38, 90)
    a = Accompany()
    a.start(s, 1, "rock", 120, ())
    a.step(s, 1, C, log)
    assert ("amend", 0, (Hit(38, 90, pytest.approx(0.1)),)) in s.calls


def play_phrase(log, bars, start=0):
    for b in range(bars):
        for beat in range(4):
            log.add(start + b * 16 + beat * 4 + 0.02, 36 if beat % 2 == 0 else 38, 100)


def test_call_listens_then_answers_from_the_next_bar_line_with_the_players_bars():
    s, log, m = FakeSampler(), PlayerLog(), Call(bars=2, silence_beats=1)
    m.start(s, 0, "rock", 120, ())
    play_phrase(log, 2)  # last hit at step 28.02
    assert [m.step(s, k, C, log) for k in range(32)] == [None] * 32
    out = m.step(s, 32, C, log)  # a beat of silence after the last (step 28)
    assert out is not None
    kind, primer, style, index = s.calls[0]
    assert kind == "reset" and index == 32 and len(primer) == 32
    assert [len(p.hits) for p in primer[::4]] == [1] * 8
    for k in range(33, 64):
        assert m.step(s, k, C, log) is not None  # answers two bars
    assert m.step(s, 64, C, log) is None       # then listens again


def test_call_waits_for_silence_unless_the_pedal_ends_the_phrase():
    s, log, m = FakeSampler(), PlayerLog(), Call(bars=1, silence_beats=2)
    m.start(s, 0, "rock", 120, ())
    play_phrase(log, 1)
    assert m.step(s, 16, C, log) is None            # only 3.98 steps of silence at bar 2
    assert m.step(s, 16, C, log, pedal=True) is not None


class ObservingSampler(FakeSampler):
    """FakeSampler that also records the steps it was told were played."""

    def step(self, controls, observed=None):
        self.calls.append(("observed", self.position, observed))
        return super().step(controls, observed)


def hit_steps(steps, pitch):
    return [t for t, p in enumerate(steps) if any(h.pitch == pitch for h in p.hits)]


@pytest.mark.parametrize("early", [0.0, 0.3])
def test_call_phrase_ending_with_a_crash_on_the_downbeat_is_primed_in_phase(early):
    s, log, m = ObservingSampler(), PlayerLog(), Call(bars=2, silence_beats=1)
    m.start(s, 0, "rock", 120, ())
    play_phrase(log, 2)                  # kick on beats 1 and 3, snare on 2 and 4, bars 1-2
    log.add(32 - early, 49, 110)         # and a crash on bar 3's downbeat (on it, or a bit early)
    assert [m.step(s, k, C, log) for k in range(48)] == [None] * 48
    assert m.step(s, 48, C, log) is not None  # a beat of silence after the crash: answer
    kind, primer, style, index = s.calls[0]
    # the phrase's two bars, then the crash's bar as played, fed at their own positions 0-47
    assert kind == "reset" and index == 48 and len(primer) == 48
    assert hit_steps(primer, 36) == [0, 8, 16, 24] and hit_steps(primer, 38) == [4, 12, 20, 28]
    assert hit_steps(primer, 49) == [32] and not any(p.hits for p in primer[33:])
    assert ("observed", 48, None) in s.calls  # the answer's first step is the model's, not a replay


def test_call_crash_on_the_answer_downbeat_is_heard_not_replayed():
    s, log, m = ObservingSampler(), PlayerLog(), Call(bars=2, silence_beats=1)
    m.start(s, 0, "rock", 120, ())
    play_phrase(log, 2, start=16)
    log.add(47.8, 49, 110)                   # a crash that rounds onto bar line 48
    out = m.step(s, 48, C, log, pedal=True)  # the pedal ends the phrase there
    assert out == Step()                     # the player plays it: drumd does not
    kind, primer, style, index = s.calls[0]
    assert index == 48 and len(primer) == 32  # the two bars before the crash, at 16-47
    assert hit_steps(primer, 38) == [4, 12, 20, 28] and hit_steps(primer, 49) == []
    (_, at, crash), = [c for c in s.calls if c[0] == "observed"]
    assert at == 48 and [h.pitch for h in crash.hits] == [49]
    assert m.step(s, 49, C, log) is not None  # and the answer goes on


# --- controls ------------------------------------------------------------------------------
def test_cc_controls():
    c = LiveControls(STYLES, "rock", cc={"temperature": 70})
    assert c.control_change(70, 127) == "temperature" and c.temperature == pytest.approx(2.0)
    assert c.control_change(20, 0) is None  # moved to 70
    c.control_change(21, 0)
    assert c.density == pytest.approx(-3.0)
    c.control_change(25, 127)
    assert c.quantize == 1.0
    c.control_change(23, 0)
    assert c.style == "funk"
    c.program_change(4)
    assert c.style == "jazz"
    c.control_change(24, 80)
    assert c.mode == "call"
    c.control_change(28, 127)
    c.control_change(30, 100)
    assert c.for_step(False).mute == frozenset({2, 3, 7, 8})
    c.control_change(28, 0)
    assert c.for_step(False).mute == frozenset({7, 8})
    assert c.control_change(87, 127) == "unison" and c.for_step(False).unison
    c.control_change(87, 10)
    assert not c.for_step(False).unison
    c.control_change(22, 127)
    assert c.fill_request.pending()
    c.control_change(64, 127)
    assert c.phrase_end_request.pending()
    assert c.for_step(True).fill and c.for_step(False).quantize == 1.0


# --- config --------------------------------------------------------------------------------
def test_config_file_then_flags(tmp_path):
    f = tmp_path / "drumd.yaml"
    f.write_text("bpm: 96\nmode: call\ncc:\n  temperature: 70\nmute: [hats]\n")
    s = config.resolve(str(f), {"bpm": 100.0, "mode": None})
    assert s["bpm"] == 100.0 and s["mode"] == "call" and s["cc"] == {"temperature": 70}
    assert s["mute"] == ["hats"] and s["channel"] == 10


@pytest.mark.parametrize("text, where", [
    ("bpm: 96\nchannel: 17\n", ":2: channel: expected an integer from 1 to 16, got 17"),
    ("bpm: fast\n", ":1: bpm: expected a number"),
    ("mode: solo\n", ":1: mode: expected one of generate, accompany, call"),
    ("tempo: 120\n", ":1: tempo: unknown setting"),
    ("\n\ncc:\n  temprature: 20\n", ":4: cc.temprature: unknown control"),
    ("cc:\n  fill: 300\n", ":2: cc.fill: expected a controller number"),
    ("bpm: [1\n", ": not valid YAML"),
    ("mute: [kick, bells]\n", ":1: mute: expected a list of"),
])
def test_config_errors_name_file_line_and_key(tmp_path, text, where):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(config.ConfigError) as e:
        config.load(f)
    assert str(e.value).startswith(str(f)) and where in str(e.value)


# --- voicing -------------------------------------------------------------------------------
def test_voicing_maps_gm_to_the_output_kit_and_channel():
    v = Voicing("ezdrummer2", channel=2)
    assert v.note_on(36, 100) == [0x91, 36, 100]
    assert v.note_on(42, 100) == [0x91, 22, 100]  # EZdrummer 2 closed hi-hat edge
    assert Voicing("gm").note_on(38, 64) == [0x99, 38, 64]


def test_velocity_curves():
    assert velocity_table("linear")[64] == 64
    assert velocity_table("soft")[64] < 64 < velocity_table("hard")[64]
    assert velocity_table(2.0)[127] == 127 and velocity_table(2.0)[1] == 1
    with pytest.raises(ValueError):
        velocity_table("loud")


def test_player_input_follows_the_hihat_pedal():
    p = PlayerInput("ezdrummer2")
    assert p.to_gm(9, 36) == 36
    assert p.to_gm(9, 7) == 42
    p.control(9, 4, 0)  # pedal open
    assert p.to_gm(9, 7) == 46


# --- recording -----------------------------------------------------------------------------
def test_recording_has_tracks_tempo_map_and_is_replaced_atomically(tmp_path):
    path = tmp_path / "take.mid"
    r = Recorder(path, start_time=100.0, bpm=120.0)
    r.add("drumd out", 100.5, [0x99, 36, 100])   # beat 1 at 120 BPM
    r.add("drumd out", 100.6, [0x89, 36, 0])
    r.tempo(101.0, 60.0)
    r.add("player in", 102.0, [0x99, 38, 90])    # 2 beats at 120, then 1 beat at 60
    r.write()
    mid = mido.MidiFile(path)
    assert [t.name for t in mid.tracks] == ["tempo", "drumd out", "player in"]
    tempos = [m for m in mid.tracks[0] if m.type == "set_tempo"]
    assert [round(mido.tempo2bpm(m.tempo)) for m in tempos] == [120, 60]
    assert sum(m.time for m in mid.tracks[1] if m.type == "note_on") == 480
    assert sum(m.time for m in mid.tracks[2] if m.type in ("note_on", "track_name")) == 480 * 3
    assert mid.length == pytest.approx(2.0, abs=0.01)
    assert not list(tmp_path.glob("*.tmp"))


def test_recording_failure_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "take.mid"
    r = Recorder(path, start_time=0.0)
    r.add("drumd out", 0.1, [0x99, 36, 100])
    r.write()
    before = path.read_bytes()
    monkeypatch.setattr(mido.MidiFile, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(MidiFileError, match="take.mid: cannot write \\(disk full\\)"):
        r.write()
    assert path.read_bytes() == before and not list(tmp_path.glob("*.tmp"))


# --- the whole session on fake ports --------------------------------------------------------
class FakePort:
    def __init__(self):
        self.sent = []

    def send(self, msg):
        self.sent.append((time.perf_counter(), list(msg)))

    def check(self):
        return None


def test_session_on_the_internal_clock_plays_the_grid_and_cleans_up(tmp_path):
    from drumd.daemon.play.session import Session
    settings = config.resolve(None, {"clock": "internal", "bpm": 240.0, "quantize": 1.0,
                                     "send_clock": True, "out_map": "ezdrummer2", "channel": 1})
    out = FakePort()
    rec = Recorder(tmp_path / "s.mid", time.perf_counter(), 240.0)
    s = Session(settings, FakeSampler(), FakePort(), out, queue.SimpleQueue(),
                Voicing("ezdrummer2", 1), PlayerInput("gm"), rec)
    s.start()
    time.sleep(1.0)
    s.shutdown()
    ons = [(t, m) for t, m in out.sent if m[0] == 0x90]
    offs = [m for t, m in out.sent if m[0] == 0x80]
    ticks = [t for t, m in out.sent if m == [0xF8]]
    assert len(ons) >= 12 and len(offs) == len(ons)
    msgs = [m for _, m in out.sent]
    assert msgs[-2:] == [[0xB0, 123, 0], [0xFC]] and msgs[0] == [0xFA]
    t0, step = s.clock.time_of(0), s.clock.step_duration
    for t, _ in ons:  # every kick on a 16th of the internal grid
        k = round((t - t0) / step)
        assert abs(t - (t0 + k * step)) < 0.015
    assert len(ticks) >= 6 * len(ons) - 6
    assert s.late_steps == 0 and s.error is None
    assert len(mido.MidiFile(tmp_path / "s.mid").tracks[1]) > 2 * len(ons)


def test_variation_and_fill_every_by_cc_flag_and_config(tmp_path):
    c = LiveControls(STYLES, "rock")
    assert (c.for_step(False).variation, c.for_step(False).fill_every) == (0.5, 8)
    assert c.control_change(31, 0) == "variation" and c.for_step(False).variation == 0.0
    c.control_change(31, 127)
    assert c.for_step(False).variation == 1.0
    assert c.control_change(85, 0) == "fill_every" and c.for_step(False).fill_every == 0
    c.control_change(85, 127)
    assert c.for_step(False).fill_every == 32
    c.control_change(85, 64)
    assert c.for_step(False).fill_every == 8
    cfg = tmp_path / "drumd.yaml"
    cfg.write_text("variation: 0.2\nfill_every: 4\n")
    settings = config.resolve(str(cfg), {"fill_every": 16})
    assert (settings["variation"], settings["fill_every"]) == (0.2, 16)
    cfg.write_text("variation: 2\n")
    with pytest.raises(config.ConfigError, match=r"drumd.yaml:1: variation"):
        config.load(cfg)


def test_follow_by_cc_flag_and_config(tmp_path):
    c = LiveControls(STYLES, "rock", mode="accompany")
    assert c.for_step(False).follow == 0.8
    assert c.control_change(86, 0) == "follow" and c.for_step(False).follow == 0.0
    c.control_change(86, 127)
    assert c.for_step(False).follow == 1.0
    cfg = tmp_path / "drumd.yaml"
    cfg.write_text("follow: 0.3\n")
    assert config.resolve(str(cfg), {})["follow"] == 0.3
    assert config.resolve(str(cfg), {"follow": 1.0})["follow"] == 1.0
    cfg.write_text("follow: 1.5\n")
    with pytest.raises(config.ConfigError, match=r"drumd.yaml:1: follow"):
        config.load(cfg)
    line = format_status({"bpm": 120.0, "source": "internal", "fallback": False, "running": True,
                          "bar": 1, "beat": 1, "mode": "accompany", "temperature": 1.0,
                          "density": 0.0, "quantize": 0.0, "variation": 0.5, "fill_every": 8,
                          "follow": 0.8, "late": 0, "p99": 0.3})
    assert "F 0.80" in line


def test_status_before_bar_one_says_starting():
    base = {"bpm": 120.0, "source": "internal", "fallback": False, "running": True, "bar": 0,
            "beat": 4, "mode": "generate", "temperature": 1.0, "density": 0.0, "quantize": 0.0,
            "variation": 0.5, "fill_every": 8, "late": 0, "p99": 0.3}
    assert "starting" in format_status(base) and "0:4" not in format_status(base)
    assert " 1:1 " in format_status({**base, "bar": 1, "beat": 1})


def test_a_one_shot_request_is_never_lost_between_read_and_clear():
    """A request made while the engine takes the previous one is taken at the next step (a
    boolean read then cleared lost it)."""
    from drumd.daemon.play.controls import OneShot
    r = OneShot()
    assert not r.take()
    r.request()
    r.request()  # two before a take: one fill
    assert r.take() and not r.take()
    made = r._made
    r.request()  # arrives "between" a take's read and its clear: the take saw `made`
    r._taken = made
    assert r.take()
    assert not r.take() and not r.pending()


def test_a_setting_given_twice_in_a_config_file_is_refused(tmp_path):
    cfg = tmp_path / "drumd.yaml"
    cfg.write_text("bpm: 96\nstyle: funk\nbpm: 300\n")
    with pytest.raises(config.ConfigError, match=r"drumd.yaml:3: bpm: set again \(first on line 1\)"):
        config.load(cfg)


def test_call_answers_from_the_next_three_four_bar_line():
    """--meter 3/4: bars of 12 16ths from song position 0; the phrase, the answer and the
    sampler's meter are all 3/4."""
    s, log, m = FakeSampler(), PlayerLog(), Call(bars=2, silence_beats=1, meter=(3, 4))
    m.start(s, 0, "rock", 120, ())
    for b in range(2):
        for beat in range(3):
            log.add(b * 12 + beat * 4 + 0.02, 36 if beat == 0 else 38, 100)  # last hit at 20.02
    assert [m.step(s, k, C, log) for k in range(24)] == [None] * 24
    assert m.step(s, 24, C, log) is not None  # bar 3 of 3/4, a beat after the last hit
    kind, primer, style, index = s.calls[0]
    assert index == 24 and len(primer) == 24 and s.meters == [(3, 4)]
    assert [len(p.hits) for p in primer[::4]] == [1] * 6
    assert all(m.step(s, k, C, log) is not None for k in range(25, 48))  # two 3/4 bars
    assert m.step(s, 48, C, log) is None
