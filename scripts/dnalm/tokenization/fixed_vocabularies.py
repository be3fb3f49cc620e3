"""Fixed vocabularies built on the fly: non-overlapping k-mers and single nucleotides.

Both are ordinary ``tokenizers`` JSON tokenizers shaped like DNABERT-2's: the
same special tokens with ids 0-4, and ``[CLS] $A [SEP]`` around every sequence.

- ``kmer:K`` cuts a sequence into consecutive K-letter words from its start.
  The vocabulary is every word over A, C, G, T: 4^K of them (k=6 gives the
  tutorial's 4,096). A word with N, or a last word shorter than K, is ``[UNK]``.
- ``char`` gives one token per nucleotide: A, C, G, T and N.
"""

import itertools

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors

from dnalm.errors import DnalmError
from dnalm.io.sequences import BASES
from dnalm.tokenization.special_tokens import CLS, SEP, SPECIAL_TOKENS, UNK

MAX_K = 10  # 4^10 = 1,048,576 words; larger vocabularies are not useful for a DNA LM


def build_fixed_vocabulary_tokenizer(spec):
    """Return the ``tokenizers.Tokenizer`` for ``kmer:K`` or ``char``."""
    if spec == "char":
        return _word_tokenizer(list(BASES + "N"), word_length=1)
    k = _parse_k(spec)
    words = ["".join(letters) for letters in itertools.product(BASES, repeat=k)]
    return _word_tokenizer(words, word_length=k)


def _parse_k(spec):
    text = spec.partition(":")[2]
    if not text.isdigit() or not 1 <= int(text) <= MAX_K:
        raise DnalmError(f"tokenizer '{spec}': k must be a whole number from 1 to {MAX_K}, as in kmer:6")
    return int(text)


def _word_tokenizer(words, word_length):
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for word in words:
        vocab[word] = len(vocab)
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    # Consecutive chunks of word_length letters from the start; a shorter tail stays its own chunk.
    tokenizer.pre_tokenizer = pre_tokenizers.Split(
        Regex(f".{{1,{word_length}}}"), behavior="isolated"
    )
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer.post_processor = cls_sep_template(tokenizer)
    tokenizer.decoder = decoders.Fuse()  # decode back to plain DNA, no spaces
    return tokenizer


def cls_sep_template(tokenizer):
    """DNABERT-2's post-processor: ``[CLS] $A [SEP]`` (and ``[CLS] $A [SEP] $B [SEP]``)."""
    cls_id, sep_id = tokenizer.token_to_id(CLS), tokenizer.token_to_id(SEP)
    return processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}",
        pair=f"{CLS} $A {SEP} $B:1 {SEP}:1",
        special_tokens=[(CLS, cls_id), (SEP, sep_id)],
    )
