"""Make test-data/masked_{esm,bert,modernbert}.zip: tiny random masked LMs of the three layouts
that published DNA masked LMs use, each with the tokenizer files such a model ships.

- ``masked_esm.zip``: ``EsmForMaskedLM`` with a Nucleotide Transformer (v1) vocabulary:
  ``vocab.txt`` of 6 specials, the 4,096 6-mers and single letters, read by ``EsmTokenizer``.
- ``masked_bert.zip``: ``BertForMaskedLM`` with a DNABERT-1 vocabulary: ``vocab.txt`` of
  5 specials and the 4,096 6-mers, read by ``BertTokenizer`` as overlapping 6-mers.
- ``masked_modernbert.zip``: ``ModernBertForMaskedLM`` on single nucleotides (dnalm's ``char``
  tokenizer.json), the layout of a GPN-like single-base model.

Two layers of width 16: the tool tests run in seconds and each zip stays under 1 MB. The
weights are random (initializer_range 0.5, so outputs depend on the input): they test
plumbing and exactness, not biology.

    python tests/make_masked_models.py     # writes the three zips into test-data/
"""

import argparse
import itertools
import json
import tempfile
from pathlib import Path

import torch
from dnalm.io.model_archive import pack_model_directory
from dnalm.tokenization.loading import load_tokenizer, to_transformers
from transformers import (
    BertConfig,
    BertForMaskedLM,
    EsmConfig,
    EsmForMaskedLM,
    ModernBertConfig,
    ModernBertForMaskedLM,
)

SIX_MERS = ["".join(letters) for letters in itertools.product("ACGT", repeat=6)]
SMALL = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
             initializer_range=0.5)
# Nucleotide Transformer v1's vocabulary order: specials, 6-mers, then single letters.
NT_VOCAB = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>", *SIX_MERS, "A", "T", "C", "G", "N"]
DNABERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *SIX_MERS]


def _write_vocab(model_dir, words, tokenizer_config):
    (model_dir / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    (model_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")


def build_esm(model_dir):
    config = EsmConfig(vocab_size=len(NT_VOCAB), pad_token_id=1, mask_token_id=2,
                       max_position_embeddings=130, position_embedding_type="absolute", **SMALL)
    EsmForMaskedLM(config).save_pretrained(model_dir)
    _write_vocab(model_dir, NT_VOCAB, {
        "tokenizer_class": "EsmTokenizer", "model_max_length": 128, "unk_token": "<unk>",
        "pad_token": "<pad>", "mask_token": "<mask>", "cls_token": "<cls>", "eos_token": "<eos>"})


def build_bert(model_dir):
    config = BertConfig(vocab_size=len(DNABERT_VOCAB), pad_token_id=0, max_position_embeddings=128,
                        **SMALL)
    BertForMaskedLM(config).save_pretrained(model_dir)
    _write_vocab(model_dir, DNABERT_VOCAB, {
        "tokenizer_class": "BertTokenizer", "do_lower_case": False, "model_max_length": 128})


def build_modernbert(model_dir):
    tokenizer = load_tokenizer("char")
    ids = {name: tokenizer.token_to_id(token) for name, token in
           (("pad", "[PAD]"), ("cls", "[CLS]"), ("sep", "[SEP]"), ("mask", "[MASK]"))}
    config = ModernBertConfig(
        vocab_size=tokenizer.get_vocab_size(), max_position_embeddings=128,
        pad_token_id=ids["pad"], cls_token_id=ids["cls"], sep_token_id=ids["sep"],
        bos_token_id=ids["cls"], eos_token_id=ids["sep"], mask_token_id=ids["mask"],
        global_attn_every_n_layers=1, **SMALL)
    ModernBertForMaskedLM(config).save_pretrained(model_dir)
    to_transformers(tokenizer).save_pretrained(model_dir)


BUILDERS = {"masked_esm": build_esm, "masked_bert": build_bert, "masked_modernbert": build_modernbert}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-data", default=str(Path(__file__).resolve().parents[1] / "test-data"))
    args = parser.parse_args()
    for seed, (name, build) in enumerate(BUILDERS.items()):
        torch.manual_seed(seed)
        target = Path(args.test_data) / f"{name}.zip"
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp))
            pack_model_directory(tmp, target)
        print(f"wrote {target} ({target.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
