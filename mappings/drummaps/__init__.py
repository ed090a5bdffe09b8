"""Drum maps: the DrumMap type, loading and validating YAML maps, note translation tables, and
import/export of DAW note-name files."""
