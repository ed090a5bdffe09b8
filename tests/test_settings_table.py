"""`drumd serve` settings come from one table (daemon/cli/config.SETTINGS): its flags, the
`--config` file's checks and the README's table must all say the same."""
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import config, settings_table
from drumd.daemon.cli import serve as serve_mod
from drumd.daemon.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_table_is_the_settings_table():
    text = README.read_text(encoding="utf-8")
    assert settings_table.readme_with_table(text) == text, (
        "README.md's settings table differs from daemon/cli/config.SETTINGS: run "
        "python -m drumd.daemon.cli.settings_table README.md")
    for s in config.SETTINGS:
        assert f"| `{s.key}` |" in text


def test_the_generator_rewrites_a_stale_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# intro\n{settings_table.README_BEGIN}\n| old |\n{settings_table.README_END}\ntail\n")
    assert settings_table.main([str(readme)]) == 0
    new = readme.read_text()
    assert "| old |" not in new and "| `--bpm` | `bpm` | 20 – 400 | 120 |" in new
    assert new.startswith("# intro\n") and new.endswith(f"{settings_table.README_END}\ntail\n")
    readme.write_text("no markers\n")
    assert settings_table.main([str(readme)]) == 1 and readme.read_text() == "no markers\n"


def _serve_options() -> dict[str, click.Option]:
    return {p.name: p for p in serve_mod.serve.params}


def test_serve_has_one_flag_per_setting_in_the_tables_order():
    names = [p.name for p in serve_mod.serve.params]
    assert names == ["config_path"] + [s.key for s in config.SETTINGS if s.flag]
    opts = _serve_options()
    for s in config.SETTINGS:
        if not s.flag:
            continue
        opt = opts[s.key]
        assert opt.default is None  # not given: the file's value or the default applies
        if isinstance(s.kind, config.Flag):
            assert opt.is_flag and opt.opts == [s.option] and opt.secondary_opts == [f"--no-{s.option[2:]}"]
        else:
            assert opt.opts == [s.option]
    assert opts["mute"].multiple and not opts["bpm"].multiple


def _flag_value(setting, text):
    """The flag's value for `text`, or the ValueError-like failure click reports."""
    return _serve_options()[setting.key].type_cast_value(click.Context(serve_mod.serve), text)


# (key, accepted by flag and file, refused by both): the ranges that once lived twice
CASES = [
    ("bpm", [20, 400, 96.5], [19.9, 400.1]),
    ("seed", [0, 12345], [-1]),
    ("bars", [1, 16], [0, 17]),
    ("channel", [1, 16], [0, 17]),
    ("gate_ms", [1, 2000], [0.5, 2001]),
    ("temperature", [0.05, 5], [0.04, 5.1]),
    ("top_p", [0.01, 1], [0, 1.1]),
    ("density", [-10, 10], [-10.5, 11]),
    ("fill_every", [0, 64], [-1, 65]),
    ("audio_channel", [1, 64], [0, 65]),
    ("guitar_silence_bars", [0.25, 16], [0.2, 17]),
    ("mode", ["tap", "call"], ["solo"]),
    ("clock", ["link"], ["midi"]),
    ("meter", ["7/8", "12/8"], ["9/9", "four"]),
    ("velocity_curve", ["soft", 1.5], ["wobbly", -1, 0]),
    ("client", ["drumd-2"], [""]),
    ("synth_device", ["Scarlett", "default"], [""]),
]


@pytest.mark.parametrize("key, good, bad", CASES)
def test_flag_and_file_take_the_same_values(tmp_path, key, good, bad):
    setting = config.BY_KEY[key]
    cfg = tmp_path / "drumd.yaml"
    for v in good:
        cfg.write_text(f"{key}: {v}\n")
        from_file = config.load(cfg)[key]
        from_flag = _flag_value(setting, str(v))
        assert from_file == from_flag == (float(v) if isinstance(setting.kind, config.Number)
                                          and not setting.kind.integer else v)
    for v in bad:
        cfg.write_text(f"\n{key}: {v!r}\n" if v == "" else f"\n{key}: {v}\n")
        with pytest.raises(config.ConfigError, match=rf"drumd.yaml:2: {key}: expected .*, got"):
            config.load(cfg)
        with pytest.raises(click.BadParameter):
            _flag_value(setting, str(v))


@pytest.mark.parametrize("key", ["bpm", "density", "follow"])
def test_nan_is_no_number_for_flag_or_file(tmp_path, key):
    cfg = tmp_path / "drumd.yaml"
    cfg.write_text(f"{key}: .nan\n")
    with pytest.raises(config.ConfigError, match=rf"drumd.yaml:1: {key}: expected a number, got nan"):
        config.load(cfg)
    with pytest.raises(click.BadParameter, match="not a number"):
        _flag_value(config.BY_KEY[key], "nan")


def test_every_number_setting_was_checked_above():
    numbers = {s.key for s in config.SETTINGS if isinstance(s.kind, config.Number)}
    assert numbers - {k for k, _, _ in CASES} == {"silence_beats", "quantize", "variation", "follow"}


def test_help_shows_each_default_once():
    out = " ".join(CliRunner().invoke(main, ["serve", "--help"]).output.split())  # unwrapped
    assert "Internal clock tempo [120]." in out and "Output MIDI channel [10]." in out
    assert "--thru / --no-thru" in out and "--guitar-fill / --no-guitar-fill" in out
    assert "[on when stderr is a terminal]" in out
    from drumd.engine.data.encoding import METERS, meter_name
    assert all(meter_name(m) in config.BY_KEY["meter"].help for m in METERS)


def test_a_bad_flag_and_a_bad_file_line_are_one_line_each(tmp_path):
    r = CliRunner().invoke(main, ["serve", "--meter", "9/9"])
    assert r.exit_code == 2
    assert r.output.splitlines()[-1] == ("Error: Invalid value for '--meter': expected one of "
                                         "4/4, 3/4, 6/8, 12/8, 5/4, 7/8, 5/8, got '9/9'")
    cfg = tmp_path / "drumd.yaml"
    cfg.write_text("bpm: 96\nvelocity_curve: wobbly\n")
    r = CliRunner().invoke(main, ["serve", "--config", str(cfg)])
    assert r.exit_code == 1 and r.output == (
        f"Error: {cfg}:2: velocity_curve: expected linear, soft, hard or a gamma > 0, got 'wobbly'\n")


def test_ports_takes_the_api_settings_choices():
    from drumd.daemon.cli.serve import ports_cmd
    api = next(p for p in ports_cmd.params if p.name == "api")
    assert list(api.type.choices) == list(config.API.kind.options) and api.default == "auto"
