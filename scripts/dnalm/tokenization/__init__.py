"""DNA to token ids: the bundled DNABERT-2 BPE, k-mer and single-nucleotide vocabularies, user tokenizers, BPE training, and the summary of a tokenize run."""
