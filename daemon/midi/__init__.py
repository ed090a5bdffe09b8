"""MIDI ports through python-rtmidi, and the JACK helpers that keep them from blocking or sharing a buffer."""
