"""Reading inputs and writing outputs: sequences, genome windows, token tables, model archives and checkpoints, embeddings; every output written all-or-nothing."""
