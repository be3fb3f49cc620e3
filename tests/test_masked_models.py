"""Masked LMs as published (ESM/Nucleotide Transformer, BERT/DNABERT-1, ModernBERT): their
tokenizer files read id-exact against transformers' own classes, and their weights load."""

import random
import tempfile
from pathlib import Path

import pytest
import torch
from dnalm.errors import DnalmError
from dnalm.inference.model_loading import load_base_model, load_causal_lm, load_masked_lm
from dnalm.io.model_archive import extract_model_zip, open_model
from dnalm.io.model_tokenizers import OverlappingKmerTokenizer
from helpers import MICRO_ZIP, TEST_DATA

MASKED_ZIPS = {name: TEST_DATA / f"masked_{name}.zip" for name in ("esm", "bert", "modernbert")}


def dna(length, rng, letters="ACGT"):
    return "".join(rng.choice(letters) for _ in range(length))


@pytest.fixture(scope="module")
def sequences():
    rng = random.Random(7)
    # Plain DNA of lengths around k, N runs, and a letter outside every vocabulary.
    return ([dna(n, rng) for n in (1, 5, 6, 7, 12, 13, 61)] + [dna(40, rng, "ACGTN")]
            + ["ACGTACXACGTAC", "NNNNNN", "ACGTAN" * 3])


def extracted(name, tmp_path):
    return extract_model_zip(MASKED_ZIPS[name], tmp_path)


def test_esm_vocab_reads_as_esm_tokenizer_does(tmp_path, sequences):
    from transformers import EsmTokenizer

    model_dir = extracted("esm", tmp_path)
    reference = EsmTokenizer.from_pretrained(str(model_dir))
    with open_model(MASKED_ZIPS["esm"]) as files:
        ours = files.tokenizer()
    for sequence in sequences:
        assert ours.encode(sequence).ids == reference(sequence)["input_ids"], sequence
    # A 6-mer where six letters follow, else one letter; <cls> first and <eos> last.
    assert ours.encode("ACGTACGTA").tokens == ["<cls>", "ACGTAC", "G", "T", "A", "<eos>"]


def test_bert_kmer_vocab_reads_overlapping_kmers_as_dnabert_does(tmp_path, sequences):
    from transformers import BertTokenizer

    model_dir = extracted("bert", tmp_path)
    reference = BertTokenizer.from_pretrained(str(model_dir))
    with open_model(MASKED_ZIPS["bert"]) as files:
        ours = files.tokenizer()
    assert isinstance(ours, OverlappingKmerTokenizer) and ours.k == 6
    for sequence in sequences:
        kmers = " ".join(sequence[i:i + 6] for i in range(max(len(sequence) - 5, 1)))
        assert ours.encode(sequence).ids == reference(kmers)["input_ids"], sequence
    assert ours.encode("ACGTACGT").tokens == ["[CLS]", "ACGTAC", "CGTACG", "GTACGT", "[SEP]"]
    # One token per position: a window of L bases gives L - 5 k-mers.
    assert len(ours.encode_batch(["A" * 50])[0].ids) == 50 - 5 + 2


def test_esm_context_counts_positions_after_padding_idx():
    with open_model(MASKED_ZIPS["esm"]) as files:
        assert files.config["max_position_embeddings"] == 130
        assert files.max_positions == 128  # positions 2..129: padding_idx 1 + 1 onwards


@pytest.mark.parametrize("name", sorted(MASKED_ZIPS))
def test_masked_lm_loads_with_trained_head_and_matches_transformers(name, tmp_path):
    from transformers import AutoModel, AutoModelForMaskedLM

    model_dir = extracted(name, tmp_path)
    with open_model(MASKED_ZIPS[name]) as files:
        assert files.is_masked_lm and files.has_lm_head and files.objective == "masked"
        ids = torch.tensor([files.tokenizer().encode("ACGTACGGTTACCA").ids])
        masked = load_masked_lm(files, device="cpu")
        base = load_base_model(files, device="cpu")
        with torch.no_grad():
            logits, hidden = masked(input_ids=ids).logits, base(input_ids=ids).last_hidden_state
    reference = AutoModelForMaskedLM.from_pretrained(str(model_dir)).eval()
    options = {"add_pooling_layer": False} if name != "modernbert" else {}
    reference_base = AutoModel.from_pretrained(str(model_dir), **options).eval()
    with torch.no_grad():
        torch.testing.assert_close(logits, reference(input_ids=ids).logits, rtol=0, atol=1e-6)
        torch.testing.assert_close(hidden, reference_base(input_ids=ids).last_hidden_state,
                                   rtol=0, atol=1e-6)
    assert logits.shape == (1, ids.shape[1], files.config["vocab_size"])


def test_masked_and_causal_loaders_refuse_each_others_models():
    with open_model(MASKED_ZIPS["modernbert"]) as files:
        with pytest.raises(DnalmError, match="is a masked LM .*need a causal LM"):
            load_causal_lm(files, device="cpu")
    with open_model(MICRO_ZIP) as files:
        assert not files.is_masked_lm and files.objective == "causal"
        with pytest.raises(DnalmError, match="is a causal LM .*need a masked LM"):
            load_masked_lm(files, device="cpu")


def test_masked_checkpoint_without_its_head_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    model_dir = extracted("bert", tmp_path)
    weights = load_file(str(model_dir / "model.safetensors"))
    save_file({k: v for k, v in weights.items() if not k.startswith("cls.")},
              str(model_dir / "model.safetensors"), metadata={"format": "pt"})
    with open_model(model_dir) as files:
        assert not files.has_lm_head
        with pytest.raises(DnalmError, match="without its masked-LM head"):
            load_masked_lm(files, device="cpu")
        load_base_model(files, device="cpu")  # the encoder alone still embeds


def test_vocab_for_an_unknown_tokenizer_class_is_refused(tmp_path):
    model_dir = extracted("esm", tmp_path)
    (model_dir / "tokenizer_config.json").write_text('{"tokenizer_class": "T5Tokenizer"}')
    with pytest.raises(DnalmError, match="tokenizer_class 'T5Tokenizer', which dnalm does not read"):
        with open_model(model_dir):
            pass
