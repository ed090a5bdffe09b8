"""The shared basics of MIDI files: the SMF parser/writer, the one drum-hit reader/writer, the 16th grid,
atomic file saves and the settings-file reader."""
