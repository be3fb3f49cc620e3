"""Reading inputs and writing outputs: sequences, genome windows, token tables, model archives, embeddings; every output written all-or-nothing."""
