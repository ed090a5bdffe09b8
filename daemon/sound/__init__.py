"""Audio: the built-in synth and SoundFonts, audio devices, capture and the guitar listener."""
