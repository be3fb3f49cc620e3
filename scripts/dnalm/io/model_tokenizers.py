"""The tokenizer a model folder ships, as one ``tokenizers.Tokenizer``, id-exact.

Causal DNA models (and every model dnalm makes) ship a ``tokenizer.json``. The
masked LMs people publish often ship only the files of a Python tokenizer:

* Nucleotide Transformer / AgroNT (``EsmTokenizer``): a ``vocab.txt`` of 6-mers
  plus single letters. EsmTokenizer cuts the text at the longest vocabulary
  word from the left, so a 6-mer where six A/C/G/T letters follow, else one
  letter. The same cut is a regular expression (``[ACGT]{6}|.``), so it becomes
  a plain WordLevel ``tokenizer.json``.
* DNABERT-1 (``BertTokenizer``): a ``vocab.txt`` of k-mers read as
  whitespace-separated words. Its authors feed a sequence as its overlapping
  k-mers (``ACGTAC CGTACG GTACGT ...``: one token per position), so
  ``OverlappingKmerTokenizer`` writes that text before encoding.

Both are checked against transformers' own tokenizer classes in the tests.
"""

import json
import re
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors

from dnalm.errors import DnalmError
from dnalm.io.sequences import BASES

VOCAB_FILE = "vocab.txt"
# The files a model's tokenizer is read from.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", VOCAB_FILE)
# Python tokenizers whose vocab.txt dnalm reads: the tokenizer_class of tokenizer_config.json.
VOCAB_TOKENIZERS = ("EsmTokenizer", "BertTokenizer", "BertTokenizerFast")
WHITESPACE_PRE_TOKENIZERS = ("BertPreTokenizer", "Whitespace", "WhitespaceSplit")


def model_tokenizer_json(model_dir, source):
    """The tokenizer JSON text of a model folder: its tokenizer.json, or one built from vocab.txt."""
    model_dir = Path(model_dir)
    path = model_dir / "tokenizer.json"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    if not (model_dir / VOCAB_FILE).is_file():
        raise DnalmError(
            f"model {source} has no tokenizer.json (nor a vocab.txt): the tokenizer must travel "
            "with the model"
        )
    settings = _tokenizer_config(model_dir, source)
    kind = settings.get("tokenizer_class")
    if kind == "EsmTokenizer":
        return esm_tokenizer(model_dir / VOCAB_FILE, settings).to_str()
    if kind in ("BertTokenizer", "BertTokenizerFast"):
        return bert_tokenizer(model_dir, settings).to_str()
    raise DnalmError(
        f"model {source} ships a vocab.txt for tokenizer_class '{kind}', which dnalm does not "
        f"read (it reads {', '.join(VOCAB_TOKENIZERS)}, or a tokenizer.json)"
    )


def _tokenizer_config(model_dir, source):
    path = model_dir / "tokenizer_config.json"
    if not path.is_file():
        raise DnalmError(f"model {source} has a vocab.txt but no tokenizer_config.json naming "
                         "its tokenizer class")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise DnalmError(f"model {source}: tokenizer_config.json is not valid JSON: {error}") from None


def _special(settings, name, default):
    """A special token of tokenizer_config.json: a string, or {"content": ...} as newer files write."""
    value = settings.get(name, default)
    return value.get("content") if isinstance(value, dict) else value


def esm_tokenizer(vocab_path, settings):
    """EsmTokenizer's cut as a WordLevel tokenizer: ``<cls> words <eos>`` (no <eos> if unset)."""
    words = Path(vocab_path).read_text(encoding="utf-8").splitlines()
    vocab = {word: i for i, word in enumerate(words) if word}
    unk, cls = _special(settings, "unk_token", "<unk>"), _special(settings, "cls_token", "<cls>")
    eos = _special(settings, "eos_token", "<eos>")
    specials = [word for word in vocab if word.startswith("<") and word.endswith(">")]
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(
        Regex(_longest_word_pattern([w for w in vocab if w not in specials])), behavior="isolated")
    tokenizer.add_special_tokens(specials)
    single = f"{cls} $A" + (f" {eos}" if eos in vocab else "")
    tokenizer.post_processor = processors.TemplateProcessing(
        single=single, special_tokens=[(token, vocab[token]) for token in (cls, eos) if token in vocab])
    return tokenizer


def _longest_word_pattern(words):
    """A regex that takes, at each place, the longest vocabulary word (else one character).

    A length whose words are every string over their letters (all 4,096 6-mers)
    is written as a character class; other words are listed, longest first.
    """
    alternatives = []
    for length in sorted({len(word) for word in words}, reverse=True):
        group = sorted(word for word in words if len(word) == length)
        letters = sorted(set("".join(group)))
        if length > 1 and len(group) == len(letters) ** length:
            alternatives.append(f"[{re.escape(''.join(letters))}]{{{length}}}")
        elif length > 1:
            alternatives.extend(re.escape(word) for word in group)
    return "|".join(alternatives + ["."])


def bert_tokenizer(model_dir, settings):
    """BertTokenizer's own ``tokenizers`` form (transformers builds it from vocab.txt)."""
    from transformers import BertTokenizer

    options = {name: _special(settings, name, None) for name in
               ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token")}
    return BertTokenizer(
        vocab=str(Path(model_dir) / VOCAB_FILE),
        do_lower_case=settings.get("do_lower_case", True),
        **{name: token for name, token in options.items() if token is not None},
    ).backend_tokenizer


def overlapping_kmer_size(tokenizer):
    """k when ``tokenizer`` reads whitespace-separated words and knows every DNA k-mer (k > 1):
    a DNABERT-1 vocabulary, which reads DNA only as overlapping k-mers. Else None."""
    pre_tokenizer = json.loads(tokenizer.to_str()).get("pre_tokenizer") or {}
    if pre_tokenizer.get("type") not in WHITESPACE_PRE_TOKENIZERS:
        return None
    vocab = tokenizer.get_vocab(with_added_tokens=False)
    lengths = {len(word) for word in vocab if set(word) <= set(BASES)}
    for k in sorted(lengths, reverse=True):
        if k > 1 and sum(len(w) == k and set(w) <= set(BASES) for w in vocab) == 4 ** k:
            return k
    return None


class OverlappingKmerTokenizer:
    """A ``tokenizers.Tokenizer`` fed a DNA sequence as its overlapping k-mers, as DNABERT-1's
    authors do; everything but encoding is the wrapped tokenizer's own."""

    def __init__(self, tokenizer, k):
        self._tokenizer, self.k = tokenizer, k

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)

    def words(self, sequence):
        """``ACGTACG`` -> ``ACGTAC CGTACG`` (k = 6); a sequence shorter than k stays one word."""
        last = max(len(sequence) - self.k + 1, 1)
        return " ".join(sequence[i:i + self.k] for i in range(last))

    def encode(self, sequence, *args, **kwargs):
        return self._tokenizer.encode(self.words(sequence), *args, **kwargs)

    def encode_batch(self, sequences, *args, **kwargs):
        return self._tokenizer.encode_batch([self.words(s) for s in sequences], *args, **kwargs)

    def encode_batch_fast(self, sequences, *args, **kwargs):
        return self._tokenizer.encode_batch_fast([self.words(s) for s in sequences], *args, **kwargs)


def dna_tokenizer(tokenizer):
    """``tokenizer`` ready for DNA: wrapped for overlapping k-mers where its vocabulary needs it."""
    k = overlapping_kmer_size(tokenizer)
    return OverlappingKmerTokenizer(tokenizer, k) if k else tokenizer
