"""`drumd maps` and `drumd remap`."""
COMMANDS = []
