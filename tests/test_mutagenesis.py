"""dnalm mutagenesis: every substitution's effect equals score-variants on the same substitution
(causal LM), or plain transformers and tangermeme's ISM (classifier); tracks read back; bad
regions are one line and no output."""

import importlib.util

import numpy as np
import pytest
import torch
from dnalm.cli import main
from dnalm.inference.mutagenesis import substitutions
from dnalm.io.sequences import BASES
from helpers import MICRO_ZIP, MISTRAL_DNA, TEST_DATA, expect_error, read_fasta, read_rows, write_fasta

WINDOWS = TEST_DATA / "hg38_windows_small.fa"
VCF_HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="module")
def regions():
    """Two real hg38 windows, cut to 40 bp (120 substitutions each)."""
    return [(name, sequence[:40]) for name, sequence in read_fasta(WINDOWS, 2)]


# A causal LM's Δ log-likelihood, and the masked marginal of masked LMs of each tokenization:
# NT's 6-mers (ESM), DNABERT's overlapping 6-mers (BERT) and single bases (ModernBERT).
EFFECT_COLUMNS = {MICRO_ZIP: "delta_log_likelihood",
                  **{TEST_DATA / f"masked_{name}.zip": "masked_effect"
                     for name in ("esm", "bert", "modernbert")}}


@pytest.mark.parametrize("model", EFFECT_COLUMNS, ids=lambda path: path.stem)
@pytest.mark.parametrize("strand", ["forward", "both"])
def test_every_effect_equals_score_variants_on_the_same_substitution(tmp_path, regions, strand,
                                                                      model):
    """Each region its own contig, every substitution a VCF record and the window the region."""
    genome = write_fasta(tmp_path / "genome.fa", regions)
    calls = tmp_path / "ism.vcf"
    calls.write_text(VCF_HEADER + "".join(
        f"{name}\t{s.position + 1}\t.\t{s.ref}\t{s.alt}\t.\t.\t.\n"
        for name, sequence in regions for s in substitutions(sequence)))
    ism, variants = tmp_path / "ism.tsv", tmp_path / "variants.tsv"
    assert main(["mutagenesis", str(model), "--sequences", str(genome), "-o", str(ism),
                 "--strand", strand]) == 0
    assert main(["score-variants", str(model), str(calls), "--genome", str(genome),
                 "--window", "40", "--strand", strand, "-o", str(variants)]) == 0
    ours, theirs = read_rows(ism), read_rows(variants)
    assert len(ours) == len(theirs) == 240
    assert [(r["chrom"], r["pos"], r["ref"], r["alt"]) for r in ours] == \
        [(r["CHROM"], r["POS"], r["REF"], r["ALT"]) for r in theirs]
    assert all(r["window_start"] == "1" for r in theirs)  # the window is the whole region
    difference = max(abs(float(a["effect"]) - float(b[EFFECT_COLUMNS[model]]))
                     for a, b in zip(ours, theirs))
    assert difference <= 1e-6 + 1e-9  # both written to 1e-6
    assert len({r["effect"] for r in ours}) > 200  # the effects really differ


def test_bed_regions_on_a_genome_give_genome_coordinates_and_tracks(tmp_path, regions):
    """The same 40 bp as BED regions inside a larger genome: the effects of the FASTA route,
    at genome positions; the three tracks as bedGraph and bigWig agree with the table."""
    (name1, first), (name2, second) = regions
    genome = write_fasta(tmp_path / "genome.fa", [("chrA", "ACGT" * 5 + first + "TTGCA" * 4),
                                                  ("chrB", second + "GGATC" * 6)])
    bed = tmp_path / "regions.bed"
    bed.write_text("track name=promoters\nchrA\t20\t60\tfirst\nchrB\t0\t40\n")
    table, tracks, plots, report = (tmp_path / "e.tsv", tmp_path / "tracks", tmp_path / "plots",
                                    tmp_path / "r.html")
    assert main(["mutagenesis", str(MICRO_ZIP), "--regions", str(bed), "--genome", str(genome),
                 "-o", str(table), "--tracks", str(tracks), "--plots", str(plots),
                 "--report", str(report)]) == 0
    rows = read_rows(table)
    fasta_table = tmp_path / "f.tsv"
    assert main(["mutagenesis", str(MICRO_ZIP), "--sequences",
                 str(write_fasta(tmp_path / "r.fa", regions)), "-o", str(fasta_table)]) == 0
    by_fasta = read_rows(fasta_table)
    assert [r["effect"] for r in rows] == [r["effect"] for r in by_fasta]
    assert rows[0]["chrom"] == "chrA" and rows[0]["pos"] == "21" and rows[0]["ref"] == first[0]
    assert rows[120]["chrom"] == "chrB" and rows[120]["pos"] == "1"

    effects = {}
    for row in rows:
        effects.setdefault((row["chrom"], int(row["pos"]) - 1), []).append(float(row["effect"]))
    expected = {"mean_effect": {k: np.mean(v) for k, v in effects.items()},
                "max_abs_effect": {k: max(v, key=abs) for k, v in effects.items()},
                "importance": {k: -np.mean(v) for k, v in effects.items()}}
    import pyBigWig

    for track, values in expected.items():
        lines = (tracks / f"{track}.bedgraph").read_text().splitlines()
        assert lines[0].startswith("track type=bedGraph")
        read = {(c, int(s)): float(v) for c, s, _, v in (line.split("\t") for line in lines[1:])}
        assert read.keys() == values.keys()
        assert all(read[k] == pytest.approx(values[k], rel=1e-6, abs=1e-6) for k in values)
        bigwig = pyBigWig.open(str(tracks / f"{track}.bigwig"))
        assert bigwig.chroms() == {"chrA": 80, "chrB": 70}
        assert bigwig.values("chrA", 20, 60) == pytest.approx(
            [values[("chrA", p)] for p in range(20, 60)], rel=1e-6, abs=1e-6)
        assert np.isnan(bigwig.values("chrA", 0, 1)[0])  # outside the regions: no value
        bigwig.close()
    assert sorted(p.name for p in plots.iterdir()) == ["chrB_0-40.png", "first.png"]
    assert (plots / "first.png").read_bytes()[:4] == b"\x89PNG"
    text = report.read_text()
    assert "data:image/png;base64," in text and "Largest effects" in text


def classifier_logits(model, tokenizer, sequences):
    with torch.no_grad():
        return torch.cat([model(torch.tensor([tokenizer(s)["input_ids"]])).logits
                          for s in sequences]).double()


def test_classifier_effects_equal_plain_transformers(tmp_path, regions):
    """The real Mistral-DNA classifier, one sequence at a time: Δ logit and Δ probability."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    name, sequence = regions[0][0], regions[0][1][:20]
    out = tmp_path / "e.tsv"
    assert main(["mutagenesis", str(MISTRAL_DNA), "--sequences",
                 str(write_fasta(tmp_path / "r.fa", [(name, sequence)])), "-o", str(out),
                 "--target-class", "LABEL_1"]) == 0
    rows = read_rows(out)
    assert list(rows[0]) == ["chrom", "pos", "ref", "alt", "effect", "probability_change"]
    model = AutoModelForSequenceClassification.from_pretrained(MISTRAL_DNA, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(MISTRAL_DNA)
    changes = substitutions(sequence)
    mutants = [sequence[:s.position] + s.alt + sequence[s.position + 1:] for s in changes]
    logits = classifier_logits(model.eval(), tokenizer, [sequence] + mutants)
    probabilities = logits.softmax(-1)
    assert len(rows) == len(mutants) == 60
    for row, index in zip(rows, range(1, len(mutants) + 1)):
        assert float(row["effect"]) == pytest.approx((logits[index, 1] - logits[0, 1]).item(),
                                                     abs=1e-5)
        assert float(row["probability_change"]) == pytest.approx(
            (probabilities[index, 1] - probabilities[0, 1]).item(), abs=1e-6)


@pytest.mark.skipif(importlib.util.find_spec("tangermeme") is None,
                    reason="tangermeme (the peer ISM) is not installed")
def test_classifier_effects_equal_tangermeme_ism(tmp_path, regions):
    """tangermeme's saturation mutagenesis, on a module that reads one-hot DNA into the same
    classifier: its 4 × L prediction changes are our effects."""
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    sequence = regions[1][1][:24]
    model = AutoModelForSequenceClassification.from_pretrained(MISTRAL_DNA, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(MISTRAL_DNA)

    class OneHotClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model.eval()

        def forward(self, one_hot):
            texts = ["".join(BASES[i] for i in row.argmax(0).tolist()) for row in one_hot]
            return classifier_logits(self.model, tokenizer, texts).float()

    one_hot = torch.zeros(1, 4, len(sequence))
    one_hot[0, [BASES.index(b) for b in sequence], range(len(sequence))] = 1
    y0, y_hat = saturation_mutagenesis(OneHotClassifier(), one_hot, raw_outputs=True,
                                       fast=False, device="cpu", batch_size=16)
    theirs = (y_hat[0, :, :, 1] - y0[0, 1]).double().numpy()  # 4 × L, 0 at the reference base
    out = tmp_path / "e.tsv"
    assert main(["mutagenesis", str(MISTRAL_DNA), "--sequences",
                 str(write_fasta(tmp_path / "r.fa", [("r", sequence)])), "-o", str(out)]) == 0
    ours = np.zeros((4, len(sequence)))
    for row in read_rows(out):
        ours[BASES.index(row["alt"]), int(row["pos"]) - 1] = float(row["effect"])
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("bed, options, message", [
    ("chrA\t70\t90\n", [], "region 'chrA:70-90' ends at 90, past the end of 'chrA' (80 bp)"),
    ("chr9\t0\t10\tmine\n", [], "region 'mine' is on 'chr9', which is not in the genome "
                                "(its contigs: chrA)"),
    ("chrA\t0\t60\n", ["--max-region-length", "50"], "region 'chrA:0-60' is 60 bp, over the "
                                                       "cap of 50 bp"),
    ("chrA\t0\t30\nchrA\t20\t40\n", [], "regions 'chrA:0-30' and 'chrA:20-40' overlap"),
])
def test_bad_regions_are_one_line_and_no_output(tmp_path, capsys, bed, options, message):
    genome = write_fasta(tmp_path / "genome.fa", [("chrA", "ACGTTGCA" * 10)])
    regions_bed = tmp_path / "r.bed"
    regions_bed.write_text(bed)
    out, tracks = tmp_path / "e.tsv", tmp_path / "tracks"
    expect_error(capsys, ["mutagenesis", str(MICRO_ZIP), "--regions", str(regions_bed),
                          "--genome", str(genome), "-o", str(out), "--tracks", str(tracks)]
                 + options, message, [out, tracks / "importance.bigwig"])


def test_a_region_beyond_the_context_and_a_class_for_a_causal_lm_are_refused(tmp_path, capsys):
    long_record = write_fasta(tmp_path / "long.fa", [("long", "ACGTTGCAAT" * 80)])
    out = tmp_path / "e.tsv"
    expect_error(capsys, ["mutagenesis", str(MICRO_ZIP), "--sequences", str(long_record),
                          "-o", str(out)], "more than the model's context of 128", [out])
    expect_error(capsys, ["mutagenesis", str(MICRO_ZIP), "--sequences", str(long_record),
                          "--target-class", "x", "-o", str(out)],
                 "--target-class follows a classifier's class", [out])


def test_an_installed_model_names_its_weights_in_the_report(tmp_path, regions):
    """The test table's micro model folder carries its install record: the report quotes it."""
    report = tmp_path / "r.html"
    assert main(["mutagenesis", str(TEST_DATA / "micro_model"), "--sequences",
                 str(write_fasta(tmp_path / "r.fa", [(regions[0][0], regions[0][1][:10])])),
                 "-o", str(tmp_path / "e.tsv"), "--report", str(report)]) == 0
    assert "installed from zip:micro_model.zip; weights model.safetensors sha256:" in \
        report.read_text()
