"""DrumdError: the base of every error a user can cause and mend (a bad file, port, device,
setting or checkpoint).

Its str() is one line that names the file (and line), port or device, and what was expected.
The `drumd` command prints it as `Error: <line>` and exits with status 1 (daemon/cli/__init__.py,
the one handler), so commands raise these and never format them themselves. Anything else that
escapes a command is a bug in drumd and keeps its traceback.

Subclasses (each module keeps its own, so callers catch what they can handle): MapError,
MidiFileError, SettingsFileError, OutputPathError (mappings); DataError, CheckpointError
(engine); ConfigError, PortError, TransportError, AudioError, SoundFontError (daemon).
"""


class DrumdError(Exception):
    """A user-facing error; str() is one line naming what was wrong and what was expected."""
