"""dnalm score-variants: windows from a VCF and a genome, exact against dnalm score's pairs.

The exactness test lays the zero-shot tutorial's pairs (test-data/zeroshot_*: 201-bp
windows, the substitution at offset 100) end to end on one contig with N spacers and
puts one VCF record at each window's centre: with W = 201 every effect must equal
`dnalm score --ref --alt --pair-by order` on the same pairs.
"""

import gzip
import re
from pathlib import Path

import pysam
import pytest
from dnalm.cli import main
from dnalm.errors import DnalmError
from dnalm.io.reference_genome import open_genome
from dnalm.io.variant_calls import read_variant_calls
from dnalm.io.variant_windows import VariantWindowCounts, variant_windows
from dnalm.io.windows import reverse_complement
from helpers import expect_error, read_rows, write_fasta
from make_zeroshot_vcf import zeroshot_genome_and_vcf

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "test-data"
MISTRAL_DNA_ZIP = TEST_DATA / "mistral_dna_1m_tf0.zip"  # the real checkpoint, no LM head
MICRO_ZIP = TEST_DATA / "micro_model.zip"  # with an LM head: log-likelihoods
HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"

# A small genome: chr1 of 600 bp (its first 60 soft-masked), chr2 of 150 bp.
BASES = "ACGTTGCAAGCTTCGAGGATCCATGCAGTCAGTACGATCGGCTAGCTTAACGGTACCATGG"
CHR1 = (BASES * 10)[:600]
CHR2 = (BASES[::-1] * 3)[:150]


@pytest.fixture
def genome(tmp_path):
    return write_fasta(tmp_path / "genome.fa", [("chr1", CHR1[:60].lower() + CHR1[60:]),
                                                ("chr2", CHR2)])


def vcf(tmp_path, lines, name="calls.vcf", header=HEADER):
    path = tmp_path / name
    path.write_text(header + "".join("\t".join(map(str, line)) + "\n" for line in lines))
    return path


def windows_of(vcf_path, genome_path, width=201, **options):
    counts = VariantWindowCounts()
    with open_genome(genome_path) as genome:
        found = list(variant_windows(read_variant_calls(vcf_path), genome, width,
                                     counts=counts, **options))
    return found, counts


def record(chrom, pos, ref, alt, variant_id="."):
    return (chrom, pos, variant_id, ref, alt, ".", ".", ".")


# --- exactness ------------------------------------------------------------------------

def zeroshot_as_genome(tmp_path, groups):
    """The pairs of ``groups`` laid on one contig, and as two FASTA files for dnalm score."""
    genome, calls, pairs = zeroshot_genome_and_vcf(tmp_path, groups)
    ref_fa = write_fasta(tmp_path / "ref.fa", [(f"v{i}", ref) for i, (ref, _) in enumerate(pairs)])
    alt_fa = write_fasta(tmp_path / "alt.fa", [(f"v{i}", alt) for i, (_, alt) in enumerate(pairs)])
    return genome, calls, ref_fa, alt_fa


def test_committed_zeroshot_vcf_is_what_the_script_makes(tmp_path):
    genome, calls, _ = zeroshot_genome_and_vcf(tmp_path)
    assert genome.read_text() == (TEST_DATA / "zeroshot_genome.fa").read_text()
    assert calls.read_text() == (TEST_DATA / "zeroshot_variants.vcf").read_text()


@pytest.mark.parametrize("model, groups, options, columns", [
    (MISTRAL_DNA_ZIP, ("exon", "intron"), ["--distance", "l2", "cosine"],
     ["l2_distance", "cosine_distance"]),
    (MICRO_ZIP, ("exon",), [], ["ref_log_likelihood", "alt_log_likelihood",
                                "delta_log_likelihood", "ref_n_tokens", "alt_n_tokens"]),
])
def test_vcf_effects_equal_the_pairs_effects(tmp_path, model, groups, options, columns):
    genome, calls, ref_fa, alt_fa = zeroshot_as_genome(tmp_path, groups)
    by_vcf, by_pairs = tmp_path / "vcf.tsv", tmp_path / "pairs.tsv"
    assert main(["score-variants", str(model), str(calls), "--genome", str(genome),
                 "-o", str(by_vcf)] + options) == 0
    assert main(["score", str(model), "--ref", str(ref_fa), "--alt", str(alt_fa),
                 "--pair-by", "order", "-o", str(by_pairs)] + options) == 0
    vcf_rows, pair_rows = read_rows(by_vcf), read_rows(by_pairs)
    assert len(vcf_rows) == len(pair_rows) == 100 * len(groups)
    for number, (vcf_row, pair_row) in enumerate(zip(vcf_rows, pair_rows)):
        assert pair_row["id"] == f"v{number}"
        assert vcf_row["ID"] == (f"exon{number + 1}" if number < 100 else f"intron{number - 99}")
        assert vcf_row["window_shift"] == "0"
        for column in columns:
            assert float(vcf_row[column]) == pytest.approx(float(pair_row[column]), abs=1e-6)
    assert len({row[columns[0]] for row in vcf_rows}) > 90  # real, varied effects


# --- windows --------------------------------------------------------------------------

def test_snv_window_puts_the_variant_at_the_centre(tmp_path, genome):
    found, counts = windows_of(vcf(tmp_path, [record("chr1", 301, CHR1[300], "A"
                                                     if CHR1[300] != "A" else "C")]), genome)
    (window,) = found
    assert window.start == 201 and window.shift == 0
    assert window.ref.sequence == CHR1[200:401]
    assert window.alt_window.sequence == CHR1[200:300] + window.alt + CHR1[301:401]
    assert counts["windows"] == 1 and counts["shifted"] == 0


def test_indels_keep_the_left_flank_and_fill_to_w(tmp_path, genome):
    deletion = record("chr1", 301, CHR1[300:305], CHR1[300])
    insertion = record("chr1", 301, CHR1[300], CHR1[300] + "GGGAAA")
    found, _ = windows_of(vcf(tmp_path, [deletion, insertion]), genome, width=51)
    deleted, inserted = found
    assert deleted.ref.sequence == CHR1[275:326]
    assert deleted.alt_window.sequence == CHR1[275:301] + CHR1[305:330]
    assert inserted.alt_window.sequence == CHR1[275:301] + "GGGAAA" + CHR1[301:320]
    assert all(len(w.alt_window.sequence) == 51 for w in found)


def test_multi_allelic_gives_one_window_per_alt_and_skips_symbolic(tmp_path, genome):
    ref = CHR1[99]
    alts = [base for base in "ACGT" if base != ref]
    lines = [record("chr1", 100, ref, ",".join(alts[:2] + ["<DEL>", "*"])),
             record("chr1", 120, CHR1[119], "G]chr2:5]"), record("chr1", 130, CHR1[129], ".")]
    found, counts = windows_of(vcf(tmp_path, lines), genome, width=21)
    assert [(w.alt, w.alt_index) for w in found] == [(alts[0], 0), (alts[1], 1)]
    assert [w.alt_window.sequence[10] for w in found] == alts[:2]
    assert counts["symbolic"] == 3 and counts["no_alt"] == 1 and counts["windows"] == 2


def test_windows_near_contig_ends_are_shifted_inside(tmp_path, genome):
    lines = [record("chr2", 3, CHR2[2], "A" if CHR2[2] != "A" else "C"),
             record("chr2", 149, CHR2[148:150], CHR2[148])]  # a deletion at the very end
    found, counts = windows_of(vcf(tmp_path, lines), genome, width=101)
    start, end = found
    assert start.start == 1 and start.shift == 48 and start.ref.sequence == CHR2[:101]
    assert start.alt_window.sequence == CHR2[:2] + start.alt + CHR2[3:101]
    # The alt window reads one base past REF's end: both windows end inside chr2.
    assert end.ref.sequence == CHR2[48:149] and end.shift == -(148 - 50 - 48)
    assert end.alt_window.sequence == CHR2[48:149]  # deleting the last base: the same W bp
    assert counts["shifted"] == 2


def test_soft_masking_is_read_as_bases_and_n_windows_are_counted(tmp_path):
    genome = write_fasta(tmp_path / "g.fa", [("c", "acgtacgtac" + "N" * 5 + "GGCCAATTGG")])
    found, counts = windows_of(vcf(tmp_path, [record("c", 3, "G", "T")]), genome, width=5)
    assert found[0].ref.sequence == "ACGTA" and found[0].alt_window.sequence == "ACTTA"
    found, counts = windows_of(vcf(tmp_path, [record("c", 11, "N", "A")]), genome, width=5)
    assert counts["with_n"] == 1


def test_iupac_letters_read_as_n_and_other_letters_refused_as_tokenize_refuses_them(
        tmp_path, capsys):
    genome = write_fasta(tmp_path / "g.fa", [("c", "ACGTRCGTACGGCCXATTGG")])
    found, counts = windows_of(vcf(tmp_path, [record("c", 3, "G", "T")]), genome, width=5)
    assert found[0].ref.sequence == "ACGTN" and counts["with_n"] == 1
    # An X is no IUPAC letter: the window holding it stops the job, as tokenize stops
    message = "record 'c' (record 1) has 'X' at position 15: only the letters A, C, G, T, N"
    with pytest.raises(DnalmError, match=re.escape(message)):
        windows_of(vcf(tmp_path, [record("c", 13, "C", "T")]), genome, width=5)
    expect_error(capsys, ["tokenize", str(genome), "-o", str(tmp_path / "t.parquet"),
                          "--iupac-policy", "to-n"], message, [tmp_path / "t.parquet"])


def test_ref_mismatch_stops_or_is_skipped(tmp_path, genome):
    wrong = "A" if CHR1[199] != "A" else "C"
    calls = vcf(tmp_path, [record("chr1", 200, wrong, "G", "rs9"), record("chr1", 300, CHR1[299], "N")])
    with pytest.raises(DnalmError, match=f"chr1:200 \\(rs9\\): REF is '{wrong}' but the genome "
                                         f"has '{CHR1[199]}'"):
        windows_of(calls, genome)
    found, counts = windows_of(calls, genome, ref_mismatch="skip")
    assert [w.call.pos for w in found] == [300] and counts["ref_mismatch"] == 1


def test_missing_contig_names_the_chr_naming_and_the_option_maps_it(tmp_path, genome):
    calls = vcf(tmp_path, [record("1", 200, CHR1[199], "N")])
    with pytest.raises(DnalmError, match="contig '1' is not in the genome; the genome names it "
                                         "'chr1'.*--chr-prefix add"):
        windows_of(calls, genome)
    found, _ = windows_of(calls, genome, chr_prefix="add")
    assert found[0].ref.sequence == CHR1[99:300]
    with pytest.raises(DnalmError, match="contig 'chr7' is not in the genome \\(its contigs: chr1, chr2\\)"):
        windows_of(vcf(tmp_path, [record("chr7", 2, "A", "C")]), genome)


@pytest.mark.parametrize("packing", ["gzip", "bgzip"])
def test_compressed_genome_gives_the_same_windows_and_nothing_is_written_beside_it(
        tmp_path, genome, packing):
    packed = tmp_path / "packed" / "genome.fa.gz"
    packed.parent.mkdir()
    if packing == "gzip":
        packed.write_bytes(gzip.compress(genome.read_bytes()))
    else:
        pysam.tabix_compress(str(genome), str(packed))
    calls = vcf(tmp_path, [record("chr1", 250, CHR1[249], "T"), record("chr2", 100, CHR2[99], "AC")])
    assert windows_of(calls, packed)[0] == windows_of(calls, genome)[0]
    assert [p.name for p in packed.parent.iterdir()] == ["genome.fa.gz"]


def test_bgzipped_vcf_gives_the_same_windows(tmp_path, genome):
    plain = vcf(tmp_path, [record("chr1", 250, CHR1[249], "NA")])
    packed = tmp_path / "calls.vcf.gz"
    pysam.tabix_compress(str(plain), str(packed))
    assert packed.read_bytes()[:4] == b"\x1f\x8b\x08\x04"  # BGZF, not plain text
    assert windows_of(packed, genome)[0] == windows_of(plain, genome)[0]


# --- the command ----------------------------------------------------------------------

def test_tsv_and_bgzipped_vcf_outputs_agree(tmp_path, genome):
    header = HEADER.replace("#CHROM", '##INFO=<ID=GENE,Number=1,Type=String,Description="g">\n#CHROM')
    lines = [("chr1", 300, "rs1", CHR1[299], "A,<DEL>", ".", ".", "GENE=abc"),
             ("chr1", 400, ".", CHR1[399:402], CHR1[399], ".", ".", ".")]
    calls = vcf(tmp_path, lines, header=header)
    table, out_vcf = tmp_path / "e.tsv", tmp_path / "e.vcf.gz"
    assert main(["score-variants", str(MICRO_ZIP), str(calls), "--genome", str(genome),
                 "-o", str(table), "--output-vcf", str(out_vcf), "--bgzip", "--distance", "l2",
                 "--info-fields", "GENE"]) == 0
    rows = read_rows(table)
    assert list(rows[0]) == ["CHROM", "POS", "ID", "REF", "ALT", "window_start", "window_shift",
                             "ref_log_likelihood", "alt_log_likelihood", "delta_log_likelihood",
                             "ref_n_tokens", "alt_n_tokens", "l2_distance", "GENE"]
    assert [(r["ID"], r["ALT"], r["GENE"]) for r in rows] == [("rs1", "A", "abc"),
                                                             (".", CHR1[399], ".")]
    with pysam.VariantFile(str(out_vcf)) as written:
        assert "DNALM_DELTA_LOG_LIKELIHOOD" in written.header.info
        records = list(written)
    assert records[0].info["DNALM_DELTA_LOG_LIKELIHOOD"][1] is None  # the <DEL> ALT
    assert records[0].info["DNALM_SKIPPED"] == (".", "symbolic")  # and it says why
    assert "DNALM_SKIPPED" not in records[1].info
    # the tabix index beside it: a region query finds the second record
    with pysam.TabixFile(str(out_vcf)) as indexed:
        assert [line.split("\t")[1] for line in indexed.fetch("chr1", 350, 450)] == ["400"]
    for row, written_record in zip(rows, records):
        for column in ("delta_log_likelihood", "l2_distance"):
            value = written_record.info[f"DNALM_{column.upper()}"][0]
            assert value == pytest.approx(float(row[column]), rel=1e-5)


def test_skipped_records_say_why_in_the_vcf(tmp_path, genome):
    wrong = "A" if CHR1[199] != "A" else "C"
    calls = vcf(tmp_path, [record("chr1", 200, wrong, "G", "rs_mismatch"),
                           record("chr2", 75, CHR2[74], "A" if CHR2[74] != "A" else "C", "rs_short"),
                           record("chr1", 300, CHR1[299], "A" if CHR1[299] != "A" else "C", "rs_ok")])
    table, out_vcf = tmp_path / "e.tsv", tmp_path / "e.vcf"
    assert main(["score-variants", str(MICRO_ZIP), str(calls), "--genome", str(genome),
                 "--ref-mismatch", "skip", "--window", "160", "-o", str(table),
                 "--output-vcf", str(out_vcf)]) == 0
    assert [row["ID"] for row in read_rows(table)] == ["rs_ok"]
    with pysam.VariantFile(str(out_vcf)) as written:
        assert "ref_mismatch: REF differs" in written.header.info["DNALM_SKIPPED"].description
        skipped = {r.id: r.info.get("DNALM_SKIPPED") for r in written}
    assert skipped == {"rs_mismatch": ("ref_mismatch",), "rs_short": ("short_contig",),
                       "rs_ok": None}
    assert not Path(f"{out_vcf}.tbi").exists()  # a plain VCF has no index


def test_both_strands_average_forward_and_reverse_complement(tmp_path, genome):
    lines = [record("chr1", 300, CHR1[299], "G" if CHR1[299] != "G" else "T"),
             record("chr1", 350, CHR1[349:351], CHR1[349])]
    calls = vcf(tmp_path, lines)
    both, forward = tmp_path / "both.tsv", tmp_path / "forward.tsv"
    assert main(["score-variants", str(MICRO_ZIP), str(calls), "--genome", str(genome),
                 "-o", str(both), "--strand", "both"]) == 0
    assert main(["score-variants", str(MICRO_ZIP), str(calls), "--genome", str(genome),
                 "-o", str(forward)]) == 0
    windows, _ = windows_of(calls, genome)
    ref_fa = write_fasta(tmp_path / "r.fa", [(str(i), reverse_complement(w.ref.sequence))
                                             for i, w in enumerate(windows)])
    alt_fa = write_fasta(tmp_path / "a.fa", [(str(i), reverse_complement(w.alt_window.sequence))
                                             for i, w in enumerate(windows)])
    reverse = tmp_path / "reverse.tsv"
    assert main(["score", str(MICRO_ZIP), "--ref", str(ref_fa), "--alt", str(alt_fa),
                 "-o", str(reverse)]) == 0
    both_rows = read_rows(both)
    assert "ref_n_tokens" not in both_rows[0]
    for mean, fwd, rev in zip(both_rows, read_rows(forward), read_rows(reverse)):
        expected = (float(fwd["delta_log_likelihood"]) + float(rev["delta_log_likelihood"])) / 2
        assert float(mean["delta_log_likelihood"]) == pytest.approx(expected, abs=2e-6)
        assert fwd["delta_log_likelihood"] != rev["delta_log_likelihood"]


def test_header_only_vcf_gives_an_empty_table(tmp_path, genome):
    table = tmp_path / "e.tsv"
    assert main(["score-variants", str(MICRO_ZIP), str(vcf(tmp_path, [])), "--genome",
                 str(genome), "-o", str(table)]) == 0
    assert table.read_text().splitlines() == [
        "CHROM\tPOS\tID\tREF\tALT\twindow_start\twindow_shift\tref_log_likelihood\t"
        "alt_log_likelihood\tdelta_log_likelihood\tref_n_tokens\talt_n_tokens"]


@pytest.mark.parametrize("case, message", [
    ("malformed", "record 2 (line after record 1) is not a valid VCF line"),
    ("not_vcf", "is not a VCF file"),
    ("empty_genome", "is empty: a FASTA reference genome is needed"),
    ("long_window", "more than the model's context of 128"),
    ("mismatch", "REF is 'T' but the genome has"),
])
def test_bad_input_is_one_line_and_no_output(tmp_path, genome, capsys, case, message):
    calls = vcf(tmp_path, [record("chr1", 300, CHR1[299], "A" if CHR1[299] != "A" else "C"),
                           ("chr1", "x300", ".", "A", "C", ".", ".", ".")])
    options = []
    if case != "malformed":
        calls = vcf(tmp_path, [record("chr1", 300, CHR1[299], "A" if CHR1[299] != "A" else "C")])
    if case == "not_vcf":
        calls.write_text("just text\n")
    if case == "empty_genome":
        genome = tmp_path / "empty.fa"
        genome.write_text("")
    if case == "long_window":
        options = ["--window", "590"]
    if case == "mismatch":
        calls = vcf(tmp_path, [record("chr1", 300, "T" if CHR1[299] != "T" else "G", "A")])
        message = f"{message} '{CHR1[299]}'"
    table, out_vcf = tmp_path / "e.tsv", tmp_path / "e.vcf"
    expect_error(capsys, ["score-variants", str(MICRO_ZIP), str(calls), "--genome", str(genome),
                          "-o", str(table), "--output-vcf", str(out_vcf)] + options,
                 message, [table, out_vcf])
