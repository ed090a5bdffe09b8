"""The step model: its shape and inputs without torch (spec.py, features.py), the torch LSTM (lstm.py)
and checkpoints (weights as safetensors, read without torch)."""
