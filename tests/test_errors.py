"""One DrumdError base and one CLI handler (#16): every user-facing error class derives from it,
and a DrumdError escaping any command is one line and exit status 1, never a traceback."""
import click
import pytest
from click.testing import CliRunner

from drumd.daemon.cli import DrumdGroup, main as drumd
from drumd.mappings.basics.errors import DrumdError


def user_errors():
    from drumd.daemon.sound.audio import AudioError
    from drumd.daemon.sound.soundfont import SoundFontError
    from drumd.daemon.timing.jacktransport import TransportError
    from drumd.engine.data.gmd import DataError
    from drumd.engine.model.checkpoint import CheckpointError
    from drumd.mappings.basics.files import OutputPathError
    from drumd.mappings.basics.midifile import MidiFileError
    from drumd.mappings.basics.settingsfile import SettingsFileError
    from drumd.mappings.drummaps.drummap import MapError
    return [AudioError, SoundFontError, TransportError, DataError, CheckpointError, OutputPathError,
            MidiFileError, SettingsFileError, MapError]


@pytest.mark.parametrize("cls", user_errors(), ids=lambda c: c.__name__)
def test_every_user_error_is_a_drumd_error(cls):
    assert issubclass(cls, DrumdError)


def group_raising(exc):
    @click.group(cls=DrumdGroup)
    def g():
        pass

    @g.command()
    def go():
        raise exc
    return g


def test_the_handler_prints_one_line_and_exits_1():
    r = CliRunner().invoke(group_raising(DrumdError("song.mid: not a MIDI file (expected MThd)")), ["go"])
    assert r.exit_code == 1
    assert r.output == "Error: song.mid: not a MIDI file (expected MThd)\n"


def test_a_bug_is_not_dressed_as_a_user_error():
    # anything else escaping a command is drumd's bug: its traceback stays (CliRunner keeps it)
    r = CliRunner().invoke(group_raising(KeyError("oops")), ["go"])
    assert r.exit_code == 1 and isinstance(r.exception, KeyError) and "Error:" not in r.output


def test_drumd_is_that_group(tmp_path):
    # a real command whose error is no longer caught by the command itself: a missing map
    (tmp_path / "a.mid").write_bytes(b"not midi")
    r = CliRunner().invoke(drumd, ["maps", "check", str(tmp_path / "a.mid")])
    assert isinstance(drumd, DrumdGroup)
    assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1, r.output
    assert "Traceback" not in r.output
