"""Musical time and sending: the clocks (MIDI clock through its tick filter, JACK transport, Ableton
Link, internal) and the scheduler that sends each message at its time."""
