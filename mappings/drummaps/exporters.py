"""`drumd maps export`: a drum map's note names as a file a DAW reads, the other direction of
importers.py (which reads both formats back).

  MIDNAM  a MIDINameDocument (MIDI Manufacturers Association, MIDINameDocument10.dtd): one
          MasterDeviceNames with a ChannelNameSet whose one patch uses a NoteNameList of
          <Note Number= Name=>, on all 16 channels (as avldrums.lv2 gives its host)
  reaper  Reaper's note-name file: a "# MIDI note/CC name map" line, then "NOTE NAME" lines

Only what these formats carry is written: each note's number and the map's name for it. A
GM meaning is not part of either format; `drumd maps import` guesses it back from the name.
"""
from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from drumd.mappings.drummaps.drummap import DrumMap

FORMATS = ("midnam", "reaper")
SUFFIX = {"midnam": ".midnam", "reaper": ".txt"}


def _name(m: DrumMap, note: int) -> str:
    # one line, as both formats need ("desc: " marks a name the vendor did not give; it is
    # still the best name drumd has for the note)
    return " ".join(m.notes[note].name.split())


def midnam_text(m: DrumMap) -> str:
    """The map as a MIDINameDocument (XML text, UTF-8 declared)."""
    channels = range(1, 17)
    notes = "".join(f"      <Note Number=\"{n}\" Name={quoteattr(_name(m, n))}/>\n"
                    for n in sorted(m.notes))
    vendor = m.product.get("vendor") or "drumd"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE MIDINameDocument PUBLIC "-//MIDI Manufacturers Association//DTD '
        'MIDINameDocument 1.0//EN" "http://www.midi.org/dtds/MIDINameDocument10.dtd">\n'
        "<MIDINameDocument>\n"
        f"  <Author>drumd maps export ({escape(m.name)})</Author>\n"
        "  <MasterDeviceNames>\n"
        f"    <Manufacturer>{escape(vendor)}</Manufacturer>\n"
        f"    <Model>{escape(m.title)}</Model>\n"
        '    <CustomDeviceMode Name="Default">\n'
        "      <ChannelNameSetAssignments>\n"
        + "".join(f'        <ChannelNameSetAssign Channel="{c}" NameSet="Drums"/>\n' for c in channels)
        + "      </ChannelNameSetAssignments>\n"
        "    </CustomDeviceMode>\n"
        '    <ChannelNameSet Name="Drums">\n'
        "      <AvailableForChannels>\n"
        + "".join(f'        <AvailableChannel Channel="{c}" Available="true"/>\n' for c in channels)
        + "      </AvailableForChannels>\n"
        '      <PatchBank Name="Kit">\n'
        "        <PatchNameList>\n"
        '          <Patch Number="0" Name="Kit" ProgramChange="0">\n'
        '            <UsesNoteNameList Name="Drums"/>\n'
        "          </Patch>\n"
        "        </PatchNameList>\n"
        "      </PatchBank>\n"
        "    </ChannelNameSet>\n"
        '    <NoteNameList Name="Drums">\n'
        + notes
        + "    </NoteNameList>\n"
        "  </MasterDeviceNames>\n"
        "</MIDINameDocument>\n")


def reaper_text(m: DrumMap) -> str:
    """The map as a Reaper note-name file: a header, the map's title, then 'NOTE NAME' lines."""
    lines = ["# MIDI note/CC name map", f"# {m.title}"]
    lines += [f"{n} {_name(m, n)}" for n in sorted(m.notes)]
    return "\n".join(lines) + "\n"


def export_text(m: DrumMap, fmt: str) -> str:
    """The map in `fmt` (FORMATS); ValueError for another format."""
    if fmt == "midnam":
        return midnam_text(m)
    if fmt == "reaper":
        return reaper_text(m)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
