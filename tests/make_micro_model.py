"""Make test-data/micro_model.zip: a tiny, randomly initialised Mixtral causal LM.

Also writes test-data/pickle_only_model.zip, the same config with a (fake)
pickled ``pytorch_model.bin`` instead of safetensors: the tools must refuse it.

It has the real DNABERT-2 tokenizer (vocabulary 4096) and the archive layout of
'dnalm pretrain', but only 2 layers of width 16, so the Galaxy tool tests run
in seconds and the file stays under Galaxy's 1 MB test-data limit. Its
predictions are near-uniform: it tests plumbing, not biology.

    python tests/make_micro_model.py     # writes both zips into test-data/
"""

import argparse
import tempfile
import zipfile
from pathlib import Path

import torch
from dnalm.io.model_archive import pack_model_directory
from dnalm.tokenization.loading import load_tokenizer, to_transformers
from transformers import MixtralConfig, MixtralForCausalLM

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


def write_pickle_only_model(micro_zip, path):
    """A model zip whose only weights are a pickle (bytes that are never unpickled)."""
    with zipfile.ZipFile(micro_zip) as archive:
        config = archive.read("config.json")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", config)
        archive.writestr("pytorch_model.bin", b"\x80\x04 a pickle is never loaded")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-data", default=str(Path(__file__).resolve().parents[1] / "test-data"))
    args = parser.parse_args()
    micro_zip = Path(args.test_data) / "micro_model.zip"
    with tempfile.TemporaryDirectory() as tmp:
        pack_model_directory(build_micro_model(tmp), micro_zip)
    write_pickle_only_model(micro_zip, Path(args.test_data) / "pickle_only_model.zip")
    print(f"wrote {micro_zip} ({micro_zip.stat().st_size} bytes) and pickle_only_model.zip")


if __name__ == "__main__":
    main()
