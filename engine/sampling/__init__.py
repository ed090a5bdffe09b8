"""Playing the model: the stateful step API (sampler.py) shared by `generate` and the daemon, and the
warm-up grooves."""
