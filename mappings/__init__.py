"""drumd.mappings: vendor drum maps <-> General MIDI (pure data + functions)."""
