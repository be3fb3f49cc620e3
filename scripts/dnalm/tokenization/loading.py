"""Which tokenizer turns DNA into ids, and how it travels with the data and the model.

Every tokenizer the suite uses is a Hugging Face ``tokenizers`` JSON document
(``tokenizer.json``): the bundled DNABERT-2 BPE (the tutorial's), k-mer and
single-nucleotide vocabularies built on the fly, a user's own file, or a model's
own tokenizer (io/model_tokenizers.py: also the vocab.txt of an ESM or BERT
model). The JSON text is stored in the tokenized Parquet and in the model
archive, so later tools can check that data and model speak the same vocabulary.
"""

import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from tokenizers import Tokenizer

from dnalm.errors import DnalmError
from dnalm.io.model_archive import extract_model_zip
from dnalm.io.model_tokenizers import TOKENIZER_FILES, dna_tokenizer, model_tokenizer_json
from dnalm.tokenization.fixed_vocabularies import build_fixed_vocabulary_tokenizer
from dnalm.tokenization.special_tokens import CLS, MASK, PAD, SEP, UNK

BUNDLED = {"dnabert2": "data/tokenizers/dnabert2/tokenizer.json"}


def bundled_tokenizer_path(name="dnabert2"):
    return Path(str(resources.files("dnalm").joinpath(BUNDLED[name])))


def load_tokenizer(spec="dnabert2"):
    """Return a ``tokenizers.Tokenizer`` for ``spec``.

    ``spec`` is ``dnabert2`` (bundled, the default), ``kmer:K`` (non-overlapping
    k-mers), ``char`` (single nucleotides), the path of a ``tokenizer.json``, or a
    model zip or folder, whose tokenizer is read as the model reads it.
    """
    if spec in BUNDLED:
        return Tokenizer.from_file(str(bundled_tokenizer_path(spec)))
    if spec == "char" or spec.startswith("kmer:"):
        return build_fixed_vocabulary_tokenizer(spec)
    path = Path(spec)
    if path.is_dir() or zipfile.is_zipfile(path):
        return model_tokenizer(path)
    if not path.is_file():
        raise DnalmError(
            f"tokenizer '{spec}' is neither dnabert2, kmer:K, char, a tokenizer.json file nor a "
            "model (zip or folder)"
        )
    return tokenizer_from_json(path.read_text(encoding="utf-8"), source=str(path))


def model_tokenizer(path):
    """The tokenizer of a model zip or folder, or of a folder of tokenizer files alone (a
    tokenizer.json, or vocab.txt + tokenizer_config.json), ready for DNA as the model gets it
    (``dna_tokenizer``: DNABERT-1's overlapping k-mers)."""
    path = Path(path)
    if path.is_dir():
        text = model_tokenizer_json(path, str(path))
    else:
        with tempfile.TemporaryDirectory(prefix="dnalm-tokenizer-") as tmp:
            folder = extract_model_zip(path, Path(tmp), only=TOKENIZER_FILES)
            text = model_tokenizer_json(folder, str(path))
    try:
        return dna_tokenizer(Tokenizer.from_str(text))
    except Exception as error:  # the Rust library raises plain Exception
        raise DnalmError(f"model {path}: its tokenizer is not valid: {error}") from None


def tokenizer_from_json(text, source="tokenizer.json"):
    try:
        tokenizer = Tokenizer.from_str(text)
    except Exception as error:  # the Rust library raises plain Exception
        raise DnalmError(f"{source} is not a valid tokenizer.json: {error}") from None
    missing = [token for token in (UNK, CLS, SEP, PAD) if tokenizer.token_to_id(token) is None]
    if missing:
        raise DnalmError(f"{source} lacks the special tokens {', '.join(missing)}")
    return tokenizer


def to_transformers(tokenizer):
    """Wrap a ``tokenizers.Tokenizer`` as ``PreTrainedTokenizerFast`` with DNABERT-2's specials."""
    from transformers import PreTrainedTokenizerFast

    specials = dict(unk_token=UNK, cls_token=CLS, sep_token=SEP, pad_token=PAD)
    if tokenizer.token_to_id(MASK) is not None:
        specials["mask_token"] = MASK
    # bos/eos map onto [CLS]/[SEP]: what the tutorial's config.json says (bos 1, eos 2).
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=CLS, eos_token=SEP, **specials
    )
