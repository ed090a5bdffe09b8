"""One GM pitch -> class table (maps/gm.yaml, mappings.gm_classes): the engine's model classes
and the synth's voices are reductions of it, they agree with each other, and the model's
classes of every pitch the Groove MIDI Dataset plays are those the shipped checkpoint was
trained with."""
import io

import pytest
import torch

from drumd.daemon.sound.synth import VOICE_OF_CLASS, VOICES, voice_of
from drumd.engine.data.encoding import (CLASS_NAMES, CLASS_PITCH, DRUM_CLASSES, MODEL_CLASS,
                                        PITCH_TO_CLASS)
from drumd.engine.model.checkpoint import same_drum_classes, shipped_path
from drumd.mappings import CLASSES, GM_RANGE, gm_classes, load_map

# The model class of each GM pitch the Groove MIDI Dataset plays (its Roland TD-11 notes
# through the roland-td map), as the shipped checkpoint was trained: drums_rnn's table.
GMD_TRAINED = {36: "kick", 37: "snare", 38: "snare", 40: "snare", 42: "closed_hh",
               43: "low_tom", 44: "closed_hh", 45: "low_tom", 46: "open_hh", 48: "mid_tom",
               49: "crash", 51: "ride", 53: "ride", 57: "crash", 59: "ride"}
# The model class a synth voice sounds like.
VOICE_CLASS = {"kick": "kick", "rim": "snare", "snare": "snare", "closed_hh": "closed_hh",
               "pedal_hh": "closed_hh", "open_hh": "open_hh", "low_tom": "low_tom",
               "mid_tom": "mid_tom", "high_tom": "high_tom", "crash": "crash", "ride": "ride"}


def shipped_table():
    payload = torch.load(io.BytesIO(shipped_path().read_bytes()), map_location="cpu",
                         weights_only=True)
    return payload["drum_classes"]


def test_gm_yaml_classes_every_gm_pitch():
    table = gm_classes()
    assert sorted(table) == list(GM_RANGE) and set(table.values()) <= set(CLASSES)
    assert table[54] == "tambourine" and table[42] == "closed_hh" and table[45] == "low_tom"


def test_engine_and_synth_are_reductions_of_the_one_table():
    assert set(MODEL_CLASS) == set(CLASSES) and set(VOICE_OF_CLASS) == set(CLASSES)
    assert set(VOICE_OF_CLASS.values()) <= set(VOICES)
    for pitch, cls in gm_classes().items():
        model = MODEL_CLASS[cls]
        assert PITCH_TO_CLASS.get(pitch) == (CLASS_NAMES.index(model) if model else None), pitch
        assert voice_of(pitch) == VOICE_OF_CLASS[cls], pitch
    assert set(PITCH_TO_CLASS) <= set(GM_RANGE)  # nothing outside GM 35-81


def test_the_synth_plays_each_pitch_as_the_model_hears_it():
    for pitch, c in PITCH_TO_CLASS.items():
        assert VOICE_CLASS[voice_of(pitch)] == CLASS_NAMES[c], pitch
    for c, pitch in enumerate(CLASS_PITCH):  # what the model plays comes back as its class
        assert PITCH_TO_CLASS[pitch] == c


def test_note_54_agrees_everywhere():
    assert gm_classes()[54] == "tambourine"
    assert CLASS_NAMES[PITCH_TO_CLASS[54]] == "closed_hh" and voice_of(54) == "closed_hh"


def test_the_groove_midi_dataset_pitches_keep_their_trained_classes():
    roland = load_map("roland-td")
    played = {art.gm for note, art in roland.notes.items() if art.gm is not None}
    assert set(GMD_TRAINED) <= played
    assert {p: CLASS_NAMES[PITCH_TO_CLASS[p]] for p in GMD_TRAINED} == GMD_TRAINED
    stored = {p: name for name, pitches in shipped_table() for p in pitches}
    assert {p: stored[p] for p in GMD_TRAINED} == GMD_TRAINED


def test_the_shipped_checkpoint_agrees_and_a_different_table_does_not():
    stored = shipped_table()
    assert same_drum_classes(stored)
    assert same_drum_classes([[n, list(p)] for n, p in DRUM_CLASSES])
    moved = [[n, [p for p in ps if p != 45] + ([45] if n == "mid_tom" else [])]
             for n, ps in stored]  # the Low Tom trained as a mid tom
    assert not same_drum_classes(moved)
    assert not same_drum_classes(stored[::-1]) and not same_drum_classes(None)


@pytest.mark.parametrize("pitch", [22, 26, 34, 82, 127])
def test_pitches_outside_gm_have_no_model_class(pitch):
    assert pitch not in PITCH_TO_CLASS
