"""Train a BPE tokenizer on your own sequences, shaped like DNABERT-2's.

Same model type (BPE), same pre-tokenizer (``Whitespace``: a DNA sequence is
one word), same special tokens with ids 0-4 and the same ``[CLS] $A [SEP]``
post-processor, so the result is a drop-in replacement for the bundled
tokenizer in every dnalm tool.
"""

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from dnalm.chunking import chunked
from dnalm.errors import DnalmError
from dnalm.tokenization.fixed_vocabularies import cls_sep_template
from dnalm.tokenization.special_tokens import SPECIAL_TOKENS, UNK

ALPHABET = list("ACGTN")  # always in the vocabulary, even if N never occurs in training
MIN_VOCAB_SIZE = len(SPECIAL_TOKENS) + len(ALPHABET)
BATCH = 1000


def train_bpe_tokenizer(sequences, vocab_size=4096, min_frequency=2):
    """Return a trained ``tokenizers.Tokenizer`` from an iterable of DNA strings."""
    if vocab_size < MIN_VOCAB_SIZE:
        raise DnalmError(
            f"--vocab-size {vocab_size} is too small: the 5 special tokens and A, C, G, T, N "
            f"alone need {MIN_VOCAB_SIZE}"
        )
    if min_frequency < 1:
        raise DnalmError(f"--min-frequency must be at least 1, not {min_frequency}")
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),  # first, so they get ids 0-4
        initial_alphabet=ALPHABET,
        show_progress=False,
    )
    tokenizer.train_from_iterator(chunked(sequences, BATCH), trainer=trainer)
    tokenizer.post_processor = cls_sep_template(tokenizer)
    tokenizer.decoder = decoders.Fuse()  # decode back to plain DNA, no spaces
    return tokenizer
