"""A masked LM's zero-shot scores (score, score-variants), exact against plain transformers.

The masked marginal is checked against the logits of ``AutoModelForMaskedLM`` at positions
masked by hand, the pseudo-log-likelihood against a loop that masks one position at a time,
both on the tiny random ESM (NT 6-mers), BERT (DNABERT-1 overlapping 6-mers) and ModernBERT
(single bases) models of test-data, in float32 on the CPU.
"""

import random

import pytest
import torch
from dnalm.cli import main
from dnalm.inference.pair_effects import EffectScorer, EffectSettings
from dnalm.io.model_archive import extract_model_zip, open_model
from dnalm.io.sequences import SequenceRecord
from dnalm.io.windows import reverse_complement
from helpers import MICRO_ZIP, TEST_DATA, expect_error, read_rows, write_fasta

MASKED_ZIPS = {name: TEST_DATA / f"masked_{name}.zip" for name in ("esm", "bert", "modernbert")}


def dna(length, rng):
    return "".join(rng.choice("ACGT") for _ in range(length))


def substituted(sequence, position, letters):
    return sequence[:position] + letters + sequence[position + len(letters):]


def flipped(letters):
    return "".join({"A": "C", "C": "G", "G": "T", "T": "A"}[b] for b in letters)


@pytest.fixture(scope="module")
def windows():
    """A 60-bp window with an SNV in the middle, at each end, an MNV, a deletion and an
    insertion: the substitutions keep every tokenizer's token count, the indels do not."""
    rng = random.Random(29)
    ref = dna(60, rng)
    alts = {"snv": substituted(ref, 30, flipped(ref[30])),
            "first": substituted(ref, 0, flipped(ref[0])),
            "last": substituted(ref, 59, flipped(ref[59])),
            "mnv": substituted(ref, 20, flipped(ref[20:23])),
            "deletion": ref[:25] + ref[28:],
            "insertion": ref[:40] + "GGT" + ref[40:]}
    return [(SequenceRecord(name, ref), SequenceRecord(name, alt)) for name, alt in alts.items()]


class Reference:
    """The model and tokenizer through transformers alone (DNABERT's input as overlapping k-mers)."""

    def __init__(self, name, tmp_path):
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        model_dir = extract_model_zip(MASKED_ZIPS[name], tmp_path)
        self.name = name
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModelForMaskedLM.from_pretrained(str(model_dir)).eval()

    def ids(self, sequence):
        if self.name == "bert":
            sequence = " ".join(sequence[i:i + 6] for i in range(len(sequence) - 5))
        return self.tokenizer(sequence)["input_ids"]

    @torch.no_grad()
    def log_probs(self, ids, positions):
        masked = torch.tensor([ids])
        masked[0, positions] = self.tokenizer.mask_token_id
        return torch.log_softmax(self.model(input_ids=masked).logits[0], dim=-1)

    def marginal(self, ref, alt):
        ref_ids, alt_ids = self.ids(ref), self.ids(alt)
        assert len(ref_ids) == len(alt_ids)
        positions = [i for i, (r, a) in enumerate(zip(ref_ids, alt_ids)) if r != a]
        log_probs = self.log_probs(ref_ids, positions)
        return sum(float(log_probs[p, alt_ids[p]]) - float(log_probs[p, ref_ids[p]])
                   for p in positions), len(positions)

    def pll(self, sequence):
        ids = self.ids(sequence)
        special = set(self.tokenizer.all_special_ids)
        scored = [p for p, token in enumerate(ids) if token not in special]
        return sum(float(self.log_probs(ids, [p])[p, ids[p]]) for p in scored), len(scored)


def effects(name, pairs, strand="forward", **settings):
    with open_model(MASKED_ZIPS[name]) as files:
        scorer = EffectScorer(files, EffectSettings(batch_size=7, **settings), "score")
        return scorer.effects(pairs, strand)


@pytest.mark.parametrize("name", sorted(MASKED_ZIPS))
def test_masked_marginal_and_pll_difference_equal_transformers_by_hand(name, windows, tmp_path):
    reference = Reference(name, tmp_path)
    rows = effects(name, windows)
    for (ref, alt), row in zip(windows, rows):
        if alt.id in ("deletion", "insertion"):
            assert row["masked_effect_method"] == "pll_difference", alt.id
            expected = reference.pll(alt.sequence)[0] - reference.pll(ref.sequence)[0]
            assert row["masked_effect"] == pytest.approx(expected, abs=1e-6), alt.id
            continue
        effect, masked = reference.marginal(ref.sequence, alt.sequence)
        assert row["masked_effect_method"] == "masked_marginal", alt.id
        assert row["masked_effect"] == pytest.approx(effect, abs=1e-6), alt.id
        assert row["masked_tokens"] == masked, alt.id
    by_id = {alt.id: row for (_, alt), row in zip(windows, rows)}
    # One token holds a base (NT's 6-mers, single bases); DNABERT's k = 6 overlapping tokens
    # hold a middle base, and 6 + 2 hold three adjacent ones; an end base sits in one k-mer.
    expected_masked = {"esm": (1, 1), "modernbert": (1, 3), "bert": (6, 8)}[name]
    assert (by_id["snv"]["masked_tokens"], by_id["mnv"]["masked_tokens"]) == expected_masked
    assert by_id["first"]["masked_tokens"] == by_id["last"]["masked_tokens"] == 1
    assert len({round(row["masked_effect"], 6) for row in rows}) == len(rows)  # all differ


@pytest.mark.parametrize("name", sorted(MASKED_ZIPS))
def test_pseudo_log_likelihood_equals_a_loop_masking_one_position_at_a_time(name, tmp_path):
    rng = random.Random(len(name))
    sequences = [dna(length, rng) for length in (9, 31, 60, 61)]
    path = write_fasta(tmp_path / "windows.fa", [(f"w{i}", s) for i, s in enumerate(sequences)])
    out = tmp_path / "scores.tsv"
    assert main(["score", str(MASKED_ZIPS[name]), str(path), "--batch-size", "5",
                 "-o", str(out)]) == 0
    rows = read_rows(out)
    assert list(rows[0]) == ["id", "n_tokens", "pseudo_log_likelihood",
                             "pseudo_log_likelihood_per_token", "pseudo_perplexity"]
    reference = Reference(name, tmp_path)
    for sequence, row in zip(sequences, rows):
        pll, n_tokens = reference.pll(sequence)
        assert int(row["n_tokens"]) == n_tokens
        assert float(row["pseudo_log_likelihood"]) == pytest.approx(pll, abs=1e-6)
        assert float(row["pseudo_log_likelihood_per_token"]) == pytest.approx(pll / n_tokens,
                                                                             abs=1e-6)
    # --masked-score pll: every pair's PLL difference, substitutions included.
    ref, alt = sequences[2], substituted(sequences[2], 10, "A" if sequences[2][10] != "A" else "C")
    (row,) = effects(name, [(SequenceRecord("v", ref), SequenceRecord("v", alt))],
                     masked_score="pll")
    assert row["ref_pll"] == pytest.approx(reference.pll(ref)[0], abs=1e-6)
    assert row["delta_pll"] == pytest.approx(reference.pll(alt)[0] - reference.pll(ref)[0],
                                             abs=1e-6)


@pytest.mark.parametrize("name", ["esm", "bert"])
def test_both_strands_are_the_mean_of_forward_and_reverse(name, windows):
    reverse = [(SequenceRecord(r.id, reverse_complement(r.sequence)),
                SequenceRecord(a.id, reverse_complement(a.sequence))) for r, a in windows]
    both = effects(name, windows, "both", distances=("l2",))
    forward, backward = effects(name, windows, distances=("l2",)), effects(name, reverse,
                                                                         distances=("l2",))
    for row, f, b in zip(both, forward, backward):
        assert set(row) == {"masked_effect", "masked_effect_method", "l2_distance"}
        assert row["masked_effect_method"] == f["masked_effect_method"] == b["masked_effect_method"]
        for column in ("masked_effect", "l2_distance"):
            assert row[column] == pytest.approx((f[column] + b[column]) / 2, abs=1e-9)


def test_distances_of_a_masked_lm_are_its_pooled_hidden_states(windows, tmp_path):
    from transformers import AutoModel

    reference = Reference("esm", tmp_path / "reference")
    encoder = AutoModel.from_pretrained(str(tmp_path / "reference"), add_pooling_layer=False).eval()
    rows = effects("esm", windows[:2], distances=("l2",), distance_pooling="mean")
    for (ref, alt), row in zip(windows[:2], rows):
        vectors = []
        for sequence in (ref.sequence, alt.sequence):
            ids = reference.ids(sequence)
            with torch.no_grad():
                hidden = encoder(input_ids=torch.tensor([ids])).last_hidden_state[0]
            vectors.append(hidden.double().mean(dim=0))  # <cls> and <eos> pooled too, as the tutorial
        assert row["l2_distance"] == pytest.approx(float((vectors[1] - vectors[0]).norm()),
                                                   abs=1e-5)


def test_score_variants_on_a_vcf_equals_score_ref_alt(tmp_path):
    """An SNV, an MNV, a deletion and an insertion in a VCF: score-variants' effects equal
    score --ref --alt's on the same windows (as io.variant_windows cuts them). An indel's
    alternative window is filled to W bp, so its tokens match the reference's one for one:
    score-variants knows it is an indel and gives the PLL difference, which score gives
    for such pairs with --masked-score pll."""
    from dnalm.io.reference_genome import open_genome
    from dnalm.io.variant_calls import read_variant_calls
    from dnalm.io.variant_windows import variant_windows

    chrom = dna(200, random.Random(3))
    genome = write_fasta(tmp_path / "genome.fa", [("chr1", chrom)])
    changes = [(51, chrom[50], flipped(chrom[50])), (81, chrom[80:82], flipped(chrom[80:82])),
               (101, chrom[100:103], chrom[100]), (141, chrom[140], chrom[140] + "TT")]
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   + "".join(f"chr1\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.\n"
                             for pos, ref, alt in changes))
    with open_genome(genome) as opened:
        cut = list(variant_windows(read_variant_calls(vcf), opened, 41))
    refs = write_fasta(tmp_path / "ref.fa", [(f"v{i}", w.ref.sequence) for i, w in enumerate(cut)])
    alts = write_fasta(tmp_path / "alt.fa", [(f"v{i}", w.alt_window.sequence)
                                             for i, w in enumerate(cut)])
    columns = ["masked_effect", "masked_effect_method", "masked_tokens", "ref_n_tokens",
               "alt_n_tokens"]
    for name in ("esm", "bert"):
        variants, pairs = tmp_path / f"{name}_variants.tsv", tmp_path / f"{name}_pairs.tsv"
        plls = tmp_path / f"{name}_plls.tsv"
        assert main(["score-variants", str(MASKED_ZIPS[name]), str(vcf), "--genome", str(genome),
                     "--window", "41", "-o", str(variants)]) == 0
        assert main(["score", str(MASKED_ZIPS[name]), "--ref", str(refs), "--alt", str(alts),
                     "-o", str(pairs)]) == 0
        assert main(["score", str(MASKED_ZIPS[name]), "--ref", str(refs), "--alt", str(alts),
                     "--masked-score", "pll", "-o", str(plls)]) == 0
        ours, theirs, delta_plls = read_rows(variants), read_rows(pairs), read_rows(plls)
        assert list(theirs[0]) == ["id"] + columns
        assert list(delta_plls[0]) == ["id", "ref_pll", "alt_pll", "delta_pll", "ref_n_tokens",
                                       "alt_n_tokens"]
        assert [r["masked_effect_method"] for r in ours] == \
            ["masked_marginal"] * 2 + ["pll_difference"] * 2
        assert [[r[c] for c in columns] for r in ours[:2]] == \
            [[r[c] for c in columns] for r in theirs[:2]]
        assert [r["masked_effect"] for r in ours[2:]] == [r["delta_pll"] for r in delta_plls[2:]]
        # Filled to one length, score takes the indel pairs for substitutions of many tokens.
        assert [r["masked_effect_method"] for r in theirs] == ["masked_marginal"] * 4


def test_options_of_the_other_objective_are_refused_in_one_line(tmp_path, capsys):
    pairs = write_fasta(tmp_path / "pairs.fa", [("v", "ACGTACGTAC")])
    out = tmp_path / "effects.tsv"
    expect_error(capsys, ["score", str(MICRO_ZIP), "--ref", str(pairs), "--alt", str(pairs),
                          "--masked-score", "pll", "-o", str(out)],
                 "--masked-score is for masked LMs, but model", [out])
    expect_error(capsys, ["mutagenesis", str(MASKED_ZIPS["esm"]), "--sequences", str(pairs),
                          "--target-class", "x", "-o", str(out)],
                 "--target-class follows a classifier's class, but model", [out])


def test_score_variants_equals_gpn_run_vep_on_a_single_base_model(tmp_path):
    """The peer: GPN's own variant score (gpn.ss.run_vep, Benegas et al. 2023) masks the
    variant's base in a window centred on it and takes logit(alt) - logit(ref) there (the same
    as the log-probability difference), averaged over both strands: dnalm's masked marginal
    with --strand both on the single-base ModernBERT. Its [CLS] is GPN's n_prefix. GPN loads
    the model with trust_remote_code, inert here: the test model's config has no auto_map."""
    pytest.importorskip("gpn.ss.run_vep", reason="gpn[inference] (the peers extra) is not installed")
    import datasets
    from gpn.data import Genome
    from gpn.ss.run_vep import MLMforVEPModel, run_vep
    from transformers import AutoTokenizer

    rng = random.Random(5)
    chrom = dna(400, rng)
    genome = write_fasta(tmp_path / "genome.fa", [("chr1", chrom)])
    variants = [{"chrom": "chr1", "pos": pos, "ref": chrom[pos - 1], "alt": alt}
                for pos in (60, 151, 200, 333) for alt in "ACGT" if alt != chrom[pos - 1]]
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(
        f"{v['chrom']}\t{v['pos']}\t.\t{v['ref']}\t{v['alt']}\t.\t.\t.\n" for v in variants))
    out = tmp_path / "effects.tsv"
    assert main(["score-variants", str(MASKED_ZIPS["modernbert"]), str(vcf), "--genome",
                 str(genome), "--window", "101", "--strand", "both", "-o", str(out)]) == 0
    ours = [float(row["masked_effect"]) for row in read_rows(out)]

    model_dir = extract_model_zip(MASKED_ZIPS["modernbert"], tmp_path / "model")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    theirs = run_vep(datasets.Dataset.from_list(variants), Genome(str(genome)), 101, tokenizer,
                     MLMforVEPModel(str(model_dir)), n_prefix=1, per_device_batch_size=4,
                     dataloader_num_workers=0)
    assert len(ours) == len(theirs) == 12
    assert max(abs(a - float(b)) for a, b in zip(ours, theirs)) <= 1e-5
    assert len({round(value, 4) for value in ours}) == 12  # the effects really differ
