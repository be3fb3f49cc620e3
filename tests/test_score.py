"""dnalm score: log-likelihoods equal a direct computation; variant effects; bad input."""

import math

import pytest
import torch
from dnalm.cli import main
from dnalm.inference.model_loading import load_causal_lm
from dnalm.inference.scoring import token_log_likelihoods
from dnalm.io.model_archive import open_model
from helpers import MICRO_ZIP, MISTRAL_DNA, read_rows


REF = "AAGGAAATTTCTCAAGGCACTGGGGTGATTTTGTGTTTCTTTAGCATGAGTTACCGGAAAGCTTCC"
ALT = REF[:30] + "C" + REF[31:]  # one substitution, T -> C at position 31
OTHER_REF = "TTGACCAGTAGGACCATTAGACGATTACGGACAGATTTACAGGGACA"
OTHER_ALT = OTHER_REF[:-1] + "T"


@pytest.fixture(scope="module")
def micro():
    with open_model(MICRO_ZIP) as files:
        tokenizer = files.tokenizer()
        yield load_causal_lm(files, "cpu"), tokenizer


def direct_log_likelihood(model, tokenizer, sequence):
    """Sum of log p(token_i | tokens before i), one sequence, no padding, by hand."""
    ids = tokenizer.encode(sequence).ids
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    return sum(log_probs[i, ids[i + 1]].item() for i in range(len(ids) - 1)), len(ids) - 1


def test_scores_equal_a_direct_computation(tmp_path, micro):
    model, tokenizer = micro
    fasta = tmp_path / "seqs.fa"
    fasta.write_text(f">ref\n{REF}\n>other\n{OTHER_REF}\n>short\nACGTAC\n")
    out = tmp_path / "scores.tsv"
    assert main(["score", str(MICRO_ZIP), str(fasta), "-o", str(out)]) == 0
    rows = read_rows(out)
    assert [row["id"] for row in rows] == ["ref", "other", "short"]
    assert list(rows[0]) == ["id", "n_tokens", "log_likelihood", "log_likelihood_per_token",
                             "perplexity"]
    for row, sequence in zip(rows, (REF, OTHER_REF, "ACGTAC")):
        expected, count = direct_log_likelihood(model, tokenizer, sequence)
        assert int(row["n_tokens"]) == count
        assert float(row["log_likelihood"]) == pytest.approx(expected, abs=1e-3)
        assert float(row["log_likelihood_per_token"]) == pytest.approx(expected / count, abs=1e-4)
        assert float(row["perplexity"]) == pytest.approx(math.exp(-expected / count), rel=1e-4)


def test_padding_does_not_change_scores(micro):
    model, tokenizer = micro
    sequences = [tokenizer.encode(s).ids for s in (REF, OTHER_REF, "ACGTAC")]
    alone = [token_log_likelihoods(model, [ids], 3, "cpu")[0][0] for ids in sequences]
    for side in ("right", "left"):
        sums, counts = token_log_likelihoods(model, sequences, 3, "cpu", side)
        assert sums == pytest.approx(alone, abs=1e-3)
        assert counts == [len(ids) - 1 for ids in sequences]


def test_variant_effect_from_two_fasta_files_matched_by_id(tmp_path, micro):
    model, tokenizer = micro
    ref, alt = tmp_path / "ref.fa", tmp_path / "alt.fa"
    ref.write_text(f">snp1\n{REF}\n>snp2\n{OTHER_REF}\n")
    alt.write_text(f">snp2\n{OTHER_ALT}\n>snp1\n{ALT}\n")  # other order: matched by id
    out = tmp_path / "effects.tsv"
    assert main(["score", str(MICRO_ZIP), "--ref", str(ref), "--alt", str(alt), "-o", str(out)]) == 0
    rows = read_rows(out)
    assert [row["id"] for row in rows] == ["snp1", "snp2"]
    for row, (r, a) in zip(rows, ((REF, ALT), (OTHER_REF, OTHER_ALT))):
        expected = direct_log_likelihood(model, tokenizer, a)[0] - direct_log_likelihood(model, tokenizer, r)[0]
        assert float(row["delta_log_likelihood"]) == pytest.approx(expected, abs=2e-3)
        assert float(row["delta_log_likelihood"]) == pytest.approx(
            float(row["alt_log_likelihood"]) - float(row["ref_log_likelihood"]), abs=2e-6)
    assert float(rows[0]["delta_log_likelihood"]) != 0.0


def test_variant_effect_from_a_table(tmp_path):
    table = tmp_path / "variants.tsv"
    table.write_text(f"name\tref\talt\nsnp1\t{REF}\t{ALT}\nsame\t{REF}\t{REF}\n")
    out = tmp_path / "effects.tsv"
    assert main(["score", str(MICRO_ZIP), str(table), "--ref-column", "ref", "--alt-column", "alt",
                 "--id-column", "name", "-o", str(out)]) == 0
    rows = read_rows(out)
    assert [row["id"] for row in rows] == ["snp1", "same"]
    assert float(rows[1]["delta_log_likelihood"]) == 0.0
    from_files = tmp_path / "files.tsv"
    ref, alt = tmp_path / "ref.fa", tmp_path / "alt.fa"
    ref.write_text(f">snp1\n{REF}\n")
    alt.write_text(f">snp1\n{ALT}\n")
    assert main(["score", str(MICRO_ZIP), "--ref", str(ref), "--alt", str(alt), "-o", str(from_files)]) == 0
    assert read_rows(from_files)[0] == rows[0]


def test_unmatched_pair_ids_are_refused(tmp_path, capsys):
    ref, alt = tmp_path / "ref.fa", tmp_path / "alt.fa"
    ref.write_text(f">snp1\n{REF}\n>snp2\n{OTHER_REF}\n")
    alt.write_text(f">snp1\n{ALT}\n")
    out = tmp_path / "effects.tsv"
    assert main(["score", str(MICRO_ZIP), "--ref", str(ref), "--alt", str(alt), "-o", str(out)]) == 1
    assert f"{ref}: id 'snp2' has no alternative in {alt}" in capsys.readouterr().err
    assert not out.exists()


def test_a_classifier_checkpoint_without_lm_head_is_refused(tmp_path, capsys):
    fasta = tmp_path / "seqs.fa"
    fasta.write_text(f">ref\n{REF}\n")
    out = tmp_path / "scores.tsv"
    assert main(["score", str(MISTRAL_DNA), str(fasta), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "MixtralForSequenceClassification checkpoint without a language-model head" in err
    assert not out.exists()


def test_long_sequences_split_adds_up_piece_scores(tmp_path, capsys):
    long_sequence = (REF + OTHER_REF) * 8  # about 180 tokens; the micro model's context is 128
    fasta = tmp_path / "long.fa"
    fasta.write_text(f">long\n{long_sequence}\n")
    out = tmp_path / "scores.tsv"
    assert main(["score", str(MICRO_ZIP), str(fasta), "-o", str(out)]) == 1
    assert "record 'long' has" in capsys.readouterr().err and not out.exists()
    assert main(["score", str(MICRO_ZIP), str(fasta), "-o", str(out), "--long-sequences", "split"]) == 0
    (row,) = read_rows(out)
    # two pieces, each with its own [CLS] ... [SEP]: two more scored tokens than the whole
    assert int(row["n_tokens"]) > 128


@pytest.mark.parametrize("family", ["llama", "mistral", "qwen2"])
def test_other_supported_families_embed_score_and_generate(tmp_path, family):
    """Tiny random checkpoints of each family, saved by transformers as a user would."""
    from dnalm.tokenization.loading import load_tokenizer, to_transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(
        family, vocab_size=4096, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, head_dim=8, max_position_embeddings=64,
        bos_token_id=1, eos_token_id=2, pad_token_id=3,
    )
    torch.manual_seed(0)
    model_dir = tmp_path / family
    AutoModelForCausalLM.from_config(config).save_pretrained(model_dir)
    to_transformers(load_tokenizer()).save_pretrained(model_dir)
    fasta = tmp_path / "seqs.fa"
    fasta.write_text(f">ref\n{REF}\n>other\n{OTHER_REF}\n")
    embeddings, scores, generated = tmp_path / "e.tsv", tmp_path / "s.tsv", tmp_path / "g.fa"
    assert main(["embed", str(model_dir), str(fasta), "-o", str(embeddings)]) == 0
    assert main(["score", str(model_dir), str(fasta), "-o", str(scores)]) == 0
    assert main(["generate", str(model_dir), "--length", "20", "-o", str(generated)]) == 0
    with open(embeddings) as stream:
        assert [line.split("\t")[0] for line in stream] == ["id", "ref", "other"]
    assert [row["id"] for row in read_rows(scores)] == ["ref", "other"]
    assert len(generated.read_text().splitlines()[1]) == 20
