"""Make test-data/micro_model.zip: a tiny, randomly initialised Mixtral causal LM.

It has the real DNABERT-2 tokenizer (vocabulary 4096) and the archive layout of
'dnalm pretrain', but only 2 layers of width 16, so the Galaxy tool tests run
in seconds and the file stays under Galaxy's 1 MB test-data limit. Its
predictions are near-uniform: it tests plumbing, not biology.

    python tests/make_micro_model.py            # writes test-data/micro_model.zip
"""

import argparse
import tempfile
from pathlib import Path

import torch
from transformers import MixtralConfig, MixtralForCausalLM

from dnalm.model_archive import pack_model_directory
from dnalm.tokenizer import load_tokenizer, to_transformers

MICRO_CONFIG = dict(
    vocab_size=4096,
    hidden_size=16,
    intermediate_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=2,
    head_dim=8,
    num_local_experts=4,
    num_experts_per_tok=2,
    max_position_embeddings=128,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=3,
    tie_word_embeddings=False,
    initializer_range=0.5,  # larger than usual, so the random model's outputs depend on its input
)


def build_micro_model(model_dir, seed=0):
    """Save the micro model and its tokenizer into ``model_dir``."""
    torch.manual_seed(seed)
    model = MixtralForCausalLM(MixtralConfig(**MICRO_CONFIG)).to(torch.float32)
    model.save_pretrained(model_dir)
    to_transformers(load_tokenizer()).save_pretrained(model_dir)
    return Path(model_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1] / "test-data" / "micro_model.zip"
    parser.add_argument("-o", "--output", default=str(default))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pack_model_directory(build_micro_model(tmp), args.output)
    print(f"wrote {args.output} ({Path(args.output).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
