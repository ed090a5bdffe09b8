"""Data: the step encoding, the Groove MIDI Dataset, a player's own library, and steps <-> MIDI files."""
