"""dnalm score --distance: the tutorial's zero-shot effect, exact against plain transformers.

The real Mistral-DNA checkpoint (a MixtralForSequenceClassification, no LM head) on the
GTN zero-shot tutorial's own files (test-data/zeroshot_*.fasta.gz: its first 100 exon
pairs and 100 intron pairs, ref ids SNP1... or chr12..., alt ids chr1... repeated), which
pair by position only.
"""


import numpy as np
import pytest
import torch
from dnalm.cli import main
from transformers import AutoModel, AutoModelForCausalLM
from helpers import MICRO_ZIP, MISTRAL_DNA, TEST_DATA, expect_error, read_fasta, read_rows

EXON_REF, EXON_ALT = TEST_DATA / "zeroshot_exon_ref.fasta.gz", TEST_DATA / "zeroshot_exon_alt.fasta.gz"


def pooled(model, tokenizer, sequence, pooling="max", logits=False):
    """One sequence alone (no padding), all its tokens pooled, as the tutorial does."""
    ids = torch.tensor([tokenizer.encode(sequence).ids])
    with torch.no_grad():
        output = model(ids)
    vectors = (output.logits if logits else output.last_hidden_state)[0].double()
    return vectors.max(dim=0).values if pooling == "max" else vectors.mean(dim=0)


@pytest.fixture(scope="module")
def exon_effects(tmp_path_factory):
    """The tool on the tutorial's 100 exon pairs: paired by order, both distances."""
    out = tmp_path_factory.mktemp("exon") / "effects.tsv"
    assert main(["score", str(MISTRAL_DNA), "--ref", str(EXON_REF), "--alt", str(EXON_ALT),
                 "--pair-by", "order", "--distance", "l2", "cosine", "-o", str(out)]) == 0
    return read_rows(out)


def test_tutorial_files_pair_by_order_in_input_order(exon_effects):
    refs, alts = read_fasta(EXON_REF), read_fasta(EXON_ALT)
    assert len(refs) == len(alts) == len(exon_effects) == 100
    assert list(exon_effects[0]) == ["id", "l2_distance", "cosine_distance"]  # no LM head: no LLs
    assert [row["id"] for row in exon_effects] == [record_id for record_id, _ in refs]
    assert exon_effects[0]["id"] == "SNP1" and alts[0][0] == "chr1"


def test_distances_equal_plain_transformers(exon_effects, mistral_dna_reference):
    """AutoModel, one sequence at a time, max over positions, L2 and cosine by hand (fp32)."""
    model, tokenizer = mistral_dna_reference[0], mistral_dna_reference[1].backend_tokenizer
    refs, alts = read_fasta(EXON_REF), read_fasta(EXON_ALT)
    for row, (_, ref), (_, alt) in list(zip(exon_effects, refs, alts))[:25]:
        ref_vector = pooled(model, tokenizer, ref)
        alt_vector = pooled(model, tokenizer, alt)
        l2 = torch.linalg.norm(alt_vector - ref_vector).item()
        cosine = 1 - torch.nn.functional.cosine_similarity(ref_vector, alt_vector, dim=0).item()
        assert float(row["l2_distance"]) == pytest.approx(l2, abs=1e-5)
        assert float(row["cosine_distance"]) == pytest.approx(cosine, abs=1e-5)
    assert min(float(row["l2_distance"]) for row in exon_effects) > 0  # every SNP moves the vector


def test_mean_pooling_equals_plain_transformers(tmp_path, mistral_dna_reference):
    model, tokenizer = mistral_dna_reference[0], mistral_dna_reference[1].backend_tokenizer
    refs, alts = read_fasta(EXON_REF)[:5], read_fasta(EXON_ALT)[:5]
    ref_fa, alt_fa = tmp_path / "ref.fa", tmp_path / "alt.fa"
    ref_fa.write_text("".join(f">{i}\n{s}\n" for i, s in refs))
    alt_fa.write_text("".join(f">{i}\n{s}\n" for i, s in alts))
    out = tmp_path / "effects.tsv"
    assert main(["score", str(MISTRAL_DNA), "--ref", str(ref_fa), "--alt", str(alt_fa),
                 "--distance", "l2", "--distance-pooling", "mean", "-o", str(out)]) == 0
    for row, (_, ref), (_, alt) in zip(read_rows(out), refs, alts):
        expected = torch.linalg.norm(pooled(model, tokenizer, alt, "mean")
                                     - pooled(model, tokenizer, ref, "mean")).item()
        assert float(row["l2_distance"]) == pytest.approx(expected, abs=1e-5)


def test_logit_distances_and_log_likelihoods_of_a_causal_lm(tmp_path):
    """The tutorial's own recipe (max-pooled logits) on a causal LM; its LLs stay as they were."""
    from dnalm.io.model_archive import open_model

    refs, alts = read_fasta(EXON_REF)[:4], read_fasta(EXON_ALT)[:4]
    ref_fa, alt_fa = tmp_path / "ref.fa", tmp_path / "alt.fa"
    ref_fa.write_text("".join(f">{i}\n{s}\n" for i, s in refs))
    alt_fa.write_text("".join(f">{i}\n{s}\n" for i, s in alts))
    plain, with_distance = tmp_path / "plain.tsv", tmp_path / "distance.tsv"
    common = ["score", str(MICRO_ZIP), "--ref", str(ref_fa), "--alt", str(alt_fa),
              "--pair-by", "order"]
    assert main(common + ["-o", str(plain)]) == 0
    assert main(common + ["--distance", "l2", "--distance-from", "logits", "-o",
                          str(with_distance)]) == 0
    rows, plain_rows = read_rows(with_distance), read_rows(plain)
    assert list(plain_rows[0]) == ["id", "ref_log_likelihood", "alt_log_likelihood",
                                   "delta_log_likelihood", "ref_n_tokens", "alt_n_tokens"]
    assert list(rows[0]) == list(plain_rows[0]) + ["l2_distance"]
    assert [{k: v for k, v in row.items() if k != "l2_distance"} for row in rows] == plain_rows
    with open_model(MICRO_ZIP) as files:
        model = AutoModelForCausalLM.from_pretrained(files.directory, dtype=torch.float32).eval()
        tokenizer = files.tokenizer()
        for row, (_, ref), (_, alt) in zip(rows, refs, alts):
            expected = torch.linalg.norm(pooled(model, tokenizer, alt, logits=True)
                                         - pooled(model, tokenizer, ref, logits=True)).item()
            assert float(row["l2_distance"]) == pytest.approx(expected, rel=1e-6, abs=1e-4)
        # hidden states of the same causal LM: its decoder stack, as AutoModel loads it
        hidden = tmp_path / "hidden.tsv"
        assert main(common + ["--distance", "l2", "-o", str(hidden)]) == 0
        base = AutoModel.from_pretrained(files.directory, dtype=torch.float32).eval()
        for row, (_, ref), (_, alt) in zip(read_rows(hidden), refs, alts):
            expected = torch.linalg.norm(pooled(base, tokenizer, alt)
                                         - pooled(base, tokenizer, ref)).item()
            assert float(row["l2_distance"]) == pytest.approx(expected, abs=1e-5)


def test_auto_pairing_uses_ids_when_both_files_share_them(tmp_path):
    refs, alts = read_fasta(EXON_REF)[:3], read_fasta(EXON_ALT)[:3]
    ref_fa, alt_fa, reordered = tmp_path / "ref.fa", tmp_path / "alt.fa", tmp_path / "alt2.fa"
    ref_fa.write_text("".join(f">v{n}\n{s}\n" for n, (_, s) in enumerate(refs)))
    alt_fa.write_text("".join(f">v{n}\n{s}\n" for n, (_, s) in enumerate(alts)))
    reordered.write_text("".join(f">v{n}\n{s}\n" for n, (_, s) in reversed(list(enumerate(alts)))))
    in_order, by_id = tmp_path / "a.tsv", tmp_path / "b.tsv"
    args = ["score", str(MISTRAL_DNA), "--ref", str(ref_fa), "--distance", "l2"]
    assert main(args + ["--alt", str(alt_fa), "-o", str(in_order)]) == 0
    assert main(args + ["--alt", str(reordered), "-o", str(by_id)]) == 0
    assert read_rows(in_order) == read_rows(by_id)
    assert [row["id"] for row in read_rows(by_id)] == ["v0", "v1", "v2"]


def test_pairing_by_id_with_repeated_ids_says_to_pair_by_order(tmp_path, capsys):
    out = tmp_path / "effects.tsv"
    expect_error(capsys, ["score", str(MISTRAL_DNA), "--ref", str(EXON_REF), "--alt", str(EXON_ALT),
                          "--pair-by", "id", "--distance", "l2", "-o", str(out)],
                 f"{EXON_ALT}: id 'chr1' appears twice, so pairs cannot be matched by id: "
                 "pair by order (--pair-by order)", [out])


def test_different_counts_are_refused(tmp_path, capsys):
    ref_fa = tmp_path / "ref.fa"
    ref_fa.write_text("".join(f">{i}\n{s}\n" for i, s in read_fasta(EXON_REF)[:99]))
    out = tmp_path / "effects.tsv"
    for pair_by in ("order", "auto"):
        expect_error(capsys, ["score", str(MISTRAL_DNA), "--ref", str(ref_fa), "--alt", str(EXON_ALT),
                              "--pair-by", pair_by, "--distance", "l2", "-o", str(out)],
                     f"{ref_fa} has 99 sequences but {EXON_ALT} has 100: pairing by order needs "
                     "one alternative per reference", [out])


def test_ids_shared_only_in_part_are_refused_by_auto(tmp_path, capsys):
    ref_fa, alt_fa = tmp_path / "ref.fa", tmp_path / "alt.fa"
    ref_fa.write_text(">a\nACGTACGT\n>b\nACGTACGA\n")
    alt_fa.write_text(">a\nACGTACGA\n>c\nACGTACGG\n")
    out = tmp_path / "effects.tsv"
    expect_error(capsys, ["score", str(MISTRAL_DNA), "--ref", str(ref_fa), "--alt", str(alt_fa),
                          "--distance", "l2", "-o", str(out)],
                 f"{ref_fa}: id 'b' has no alternative in {alt_fa} (the files share only some ids",
                 [out])


def test_distance_needs_pairs_and_logits_need_an_lm_head(tmp_path, capsys):
    out = tmp_path / "effects.tsv"
    expect_error(capsys, ["score", str(MISTRAL_DNA), str(EXON_REF), "--distance", "l2", "-o", str(out)],
                 "--distance compares variant pairs", [out])
    expect_error(capsys, ["score", str(MISTRAL_DNA), "--ref", str(EXON_REF), "--alt", str(EXON_ALT),
                          "--distance", "l2", "--distance-from", "logits", "-o", str(out)],
                 "without a language-model head (no lm_head.weight): distances from logits need "
                 "next-token", [out])


def test_pairs_table_gives_distances_too(tmp_path):
    refs, alts = read_fasta(EXON_REF)[:3], read_fasta(EXON_ALT)[:3]
    table = tmp_path / "pairs.tsv"
    table.write_text("name\tref\talt\n" + "".join(
        f"{i}\t{r}\t{a}\n" for (i, r), (_, a) in zip(refs, alts)))
    ref_fa, alt_fa = tmp_path / "ref.fa", tmp_path / "alt.fa"
    ref_fa.write_text("".join(f">{i}\n{s}\n" for i, s in refs))
    alt_fa.write_text("".join(f">{i}\n{s}\n" for i, s in alts))
    from_table, from_files = tmp_path / "t.tsv", tmp_path / "f.tsv"
    assert main(["score", str(MISTRAL_DNA), str(table), "--ref-column", "ref", "--alt-column", "alt",
                 "--id-column", "name", "--distance", "l2", "-o", str(from_table)]) == 0
    assert main(["score", str(MISTRAL_DNA), "--ref", str(ref_fa), "--alt", str(alt_fa),
                 "--pair-by", "order", "--distance", "l2", "-o", str(from_files)]) == 0
    assert read_rows(from_table) == read_rows(from_files)
    assert np.isfinite([float(r["l2_distance"]) for r in read_rows(from_table)]).all()
