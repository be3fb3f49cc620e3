"""Training models: pretraining a causal LM from scratch (data, packing, presets, the Trainer recipe) and the metrics and reports of a run."""
