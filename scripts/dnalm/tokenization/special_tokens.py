"""DNABERT-2's special tokens, shared by every tokenizer the suite builds or reads."""

# In id order: ids 0-4 in DNABERT-2's vocabulary and in every vocabulary built here.
SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")
UNK, CLS, SEP, PAD, MASK = SPECIAL_TOKENS
