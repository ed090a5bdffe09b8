"""`drumd train`: training from scratch, fine-tuning and resuming; configs/ holds the YAML defaults."""
