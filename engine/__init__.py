"""drumd.engine: encoding, model, training, sampling, evaluation (never touches ports)."""
