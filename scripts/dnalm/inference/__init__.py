"""Using a trained model: loading it, batching its inputs, and embedding, scoring or generating DNA."""
