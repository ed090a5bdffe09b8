"""The port classes (daemon/midi/ports.py) without a MIDI system: which class each system gets,
its names, and the plain rtmidi path (ALSA, CoreMIDI) on a stand-in rtmidi, so the ALSA path is
exercised on machines without /dev/snd/seq. JACK's own parts run on a real server in
test_jack_guard.py, test_jack_stall.py and test_fuzz_input_jack.py."""
import queue

import pytest
import rtmidi

from drumd.daemon.midi import ports
from drumd.daemon.midi.ports import AlsaPort, CoreMidiPort, JackPort, Port, PortError


class StandInMidi:
    """python-rtmidi's MidiIn/MidiOut as far as ports.py uses them, with two ports to connect to."""

    made: list["StandInMidi"] = []
    refuse = False

    def __init__(self, rtapi=None, name=None):
        if StandInMidi.refuse:
            raise rtmidi.SystemError("error creating ALSA sequencer client object")
        self.rtapi, self.name = rtapi, name
        self.callback, self.sent, self.opened = None, [], None
        self.ports = ["Keys:Keys MIDI 1 24:0", "Pads:Pads MIDI 1 28:0"]
        StandInMidi.made.append(self)

    def get_ports(self):
        return list(self.ports)

    def open_virtual_port(self, name):
        self.opened = ("virtual", name)

    def open_port(self, i, name):
        self.opened = ("port", self.ports[i], name)

    def close_port(self):
        self.opened = None

    def delete(self):
        pass

    def ignore_types(self, **_):
        pass

    def set_callback(self, fn):
        self.callback = fn

    def send_message(self, msg):
        self.sent.append(list(msg))


@pytest.fixture
def stand_in(monkeypatch):
    StandInMidi.made, StandInMidi.refuse = [], False
    monkeypatch.setattr(ports.rtmidi, "MidiIn", StandInMidi)
    monkeypatch.setattr(ports.rtmidi, "MidiOut", StandInMidi)
    return StandInMidi


def test_each_system_gets_its_class_and_names():
    assert ports.backend(rtmidi.API_UNIX_JACK) is JackPort
    assert ports.backend(rtmidi.API_LINUX_ALSA) is AlsaPort
    assert ports.backend(rtmidi.API_MACOSX_CORE) is CoreMidiPort
    assert ports.backend(None) is Port
    with pytest.raises(PortError, match="^drumd does not support the .* MIDI API; choose alsa"):
        ports.backend(rtmidi.API_WINDOWS_MM)
    assert ports.default_port_names(rtmidi.API_UNIX_JACK) == ("in", "out")
    assert ports.client_names(rtmidi.API_UNIX_JACK, "drumd") == ("drumd-in", "drumd")
    for api in (rtmidi.API_LINUX_ALSA, rtmidi.API_MACOSX_CORE):
        assert ports.default_port_names(api) == ("drumd in", "drumd out")
        assert ports.client_names(api, "drumd") == ("drumd", "drumd")


@pytest.mark.parametrize("cls", [AlsaPort, CoreMidiPort])
def test_plain_path_input_is_rtmidis_callback(stand_in, cls):
    inbox = queue.SimpleQueue()
    p = ports.open_input(cls.api, "drumd", "drumd in", None, inbox)
    midi = stand_in.made[-1]
    assert (midi.rtapi, midi.name, midi.opened) == (cls.api, "drumd", ("virtual", "drumd in"))
    assert midi.callback is not None  # no polling thread: rtmidi's own thread calls it
    midi.callback(([0x99, 36, 100], 0.0), None)
    t, msg = inbox.get_nowait()
    assert msg == [0x99, 36, 100] and t > 0
    assert p.server_alive() and p.check() is None
    p.close()
    assert p.closed and not p.abandoned and midi.opened is None


@pytest.mark.parametrize("cls", [AlsaPort, CoreMidiPort])
def test_plain_path_output_sends_straight_and_follows_its_target(stand_in, cls):
    p = ports.open_output(cls.api, "drumd", "drumd out", "Pads")  # a unique substring
    midi = stand_in.made[-1]
    assert midi.opened == ("port", "Pads:Pads MIDI 1 28:0", "drumd out")
    assert p.describe() == f"{cls.api_name()} out drumd:drumd out -> Pads:Pads MIDI 1 28:0"
    p.send([0x99, 38, 90])
    assert midi.sent == [[0x99, 38, 90]]  # no gate: nothing held back, nothing added

    midi.ports.remove("Pads:Pads MIDI 1 28:0")  # unplugged
    assert p.check() == "lost"
    p.send([0x99, 38, 90])
    assert midi.sent == [[0x99, 38, 90]]  # nowhere to send: dropped
    midi.ports.append("Pads:Pads MIDI 1 28:0")
    assert p.check() == "back"
    p.send([0x89, 38, 0])
    assert midi.sent[-1] == [0x89, 38, 0]


def test_connecting_to_no_port_lists_the_ports_there_are(stand_in):
    with pytest.raises(PortError) as e:
        ports.open_output(rtmidi.API_LINUX_ALSA, "drumd", "drumd out", "MIDI")  # two match
    assert str(e.value).splitlines() == [
        "no MIDI port matching 'MIDI'; available destinations:",
        "  Keys:Keys MIDI 1 24:0", "  Pads:Pads MIDI 1 28:0"]


def test_port_errors_are_drumd_errors():
    from drumd.mappings.basics.errors import DrumdError
    assert issubclass(PortError, DrumdError)  # the drumd command prints them in one line


def test_no_midi_system_is_one_line_naming_what_to_do(stand_in):
    stand_in.refuse = True
    with pytest.raises(PortError, match=r"^no ALSA sequencer \(/dev/snd/seq\): load it "
                                        r"\(modprobe snd-seq\), or pass --api jack$"):
        ports.open_input(rtmidi.API_LINUX_ALSA, "drumd", "drumd in", None, queue.SimpleQueue())
    with pytest.raises(PortError, match="^no ALSA sequencer"):
        ports.list_ports(rtmidi.API_LINUX_ALSA)
    with pytest.raises(PortError, match="^cannot open the .* MIDI system: error creating"):
        ports.open_output(rtmidi.API_MACOSX_CORE, "drumd", "drumd out", None)
