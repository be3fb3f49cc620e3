"""dnalm compare-sequences: novelty, ORFs and k-mer measures against brute force on small genomes;
the PCA fitted on the real windows; the command's tables; bad input."""

import csv
import re

import numpy as np
import pytest
from dnalm.analysis.generated_sequences import (
    GenomeKmers,
    kmer_counts,
    longest_orf,
    mean_kmer_variance,
)
from dnalm.cli import main
from dnalm.io.pca_plot import pca_basis, principal_components
from dnalm.io.windows import reverse_complement
from helpers import expect_error, write_fasta

RNG = np.random.default_rng(7)


def random_dna(length):
    return "".join(RNG.choice(list("ACGT"), length))


def brute_longest_match(query, contigs):
    best = 0
    for strand in (query, reverse_complement(query)):
        for start in range(len(strand)):
            for end in range(start + best + 1, len(strand) + 1):
                if any(strand[start:end] in contig for contig in contigs):
                    best = end - start
                else:
                    break
    return best


@pytest.fixture(scope="module")
def genome():
    contigs = [random_dna(3000), random_dna(1500) + "N" * 10 + random_dna(500)]
    return contigs, GenomeKmers(contigs)


def test_longest_match_and_absent_12mers_equal_brute_force(genome):
    contigs, index = genome
    queries = [random_dna(80),  # random: short chance matches only
               contigs[0][100:160] + random_dna(20),  # 60 bp from the genome, then new
               random_dna(10) + reverse_complement(contigs[1][200:245]) + random_dna(10),
               contigs[1][1490:1530].replace("N", "A")]  # across the N run: not one stretch
    for query in queries:
        assert index.longest_match(query) == brute_longest_match(query, contigs), query
    assert index.longest_match(queries[1]) >= 60 and index.longest_match(queries[2]) >= 45
    both_strands = {s[i:i + 12] for c in contigs for s in (c, reverse_complement(c))
                    for i in range(len(s) - 11) if "N" not in s[i:i + 12]}
    for query in queries:
        kmers = [query[i:i + 12] for i in range(len(query) - 11)]
        assert index.absent_share(query) == pytest.approx(
            sum(k not in both_strands for k in kmers) / len(kmers))


def brute_longest_orf(sequence):
    best = 0
    for strand in (sequence, reverse_complement(sequence)):
        for match in re.finditer(r"(?=(ATG(?:...)*?(?:TAA|TAG|TGA)))", strand):
            best = max(best, len(match.group(1)))
    return best


def test_longest_orf_equals_brute_force():
    for sequence in [random_dna(300) for _ in range(20)] + ["ATGAAATAA", "TTATTTCAT", "ATGCCC"]:
        assert longest_orf(sequence) == brute_longest_orf(sequence), sequence
    assert longest_orf("ATGAAATAA") == 9 and longest_orf("TTATTTCAT") == 9  # the other strand


def test_kmer_counts_and_variance():
    sequences = ["ACGTACGT", "AAAAAAAN", "ACGTNACG"]
    counts = kmer_counts(sequences, 2)
    assert counts.shape == (3, 16)
    assert counts[0, 0b0001] == 2 and counts[0, 0b0110] == 2 and counts[0].sum() == 7  # AC, CG
    assert counts[1, 0] == 6 and counts[1].sum() == 6  # AA six times; the N ends no 2-mer
    assert counts[2].sum() == 5
    frequencies = counts / counts.sum(axis=1, keepdims=True)
    assert mean_kmer_variance(counts) == pytest.approx(frequencies.var(axis=0).mean())


def test_the_pca_of_the_real_windows_is_their_own_and_others_are_projected():
    real = RNG.random((50, 16))
    points, explained = principal_components(real, 2)
    basis = pca_basis(real, 2)
    assert np.allclose(basis.project(real), points) and np.allclose(basis.explained, explained)
    other = RNG.random((5, 16))
    assert np.allclose(basis.project(other), (other - real.mean(0)) @ basis.vectors)


def write_numbered(path, sequences):
    return write_fasta(path, [(f"s{i}", s) for i, s in enumerate(sequences, start=1)])


def test_the_command_writes_a_row_per_set_real_first(tmp_path, genome):
    contigs, _ = genome
    genome_fa = tmp_path / "genome.fa"
    genome_fa.write_text("".join(f">c{i}\n{c}\n" for i, c in enumerate(contigs)))
    copied = write_numbered(tmp_path / "copied.fa", [contigs[0][i:i + 100] for i in (0, 500, 900)])
    new = write_numbered(tmp_path / "new.fa", [random_dna(100) for _ in range(4)])
    out, per_sequence, pca, pca_table = (tmp_path / name for name in
                                         ("s.tsv", "p.tsv", "pca.png", "pca.tsv"))
    assert main(["compare-sequences", "--generated", f"copied={copied}", f"new={new}",
                 "--genome", str(genome_fa), "--real-windows", "30", "-o", str(out),
                 "--per-sequence", str(per_sequence), "--pca", str(pca),
                 "--pca-table", str(pca_table)]) == 0
    with open(out) as stream:
        rows = {row["set"]: row for row in csv.DictReader(stream, delimiter="\t")}
    assert list(rows) == ["real", "copied", "new"]
    assert rows["real"]["sequences"] == "30" and rows["real"]["mean_length"] == "100.0"
    assert rows["copied"]["median_longest_match"] == "100"  # copied from the genome
    assert float(rows["copied"]["mean_absent_12mer_share"]) == 0
    assert float(rows["new"]["median_longest_match"]) < 20
    assert float(rows["new"]["mean_absent_12mer_share"]) > 0.5
    with open(per_sequence) as stream:
        lines = list(csv.DictReader(stream, delimiter="\t"))
    assert len(lines) == 37
    assert [int(l["longest_orf"]) for l in lines if l["set"] == "new"] == [
        longest_orf(s) for s in (line.split()[0] for line in new.read_text().splitlines()[1::2])]
    assert len(pca_table.read_text().splitlines()) == 38 and pca.read_bytes()[:4] == b"\x89PNG"


def test_bad_input_is_one_line_and_no_output(tmp_path, capsys):
    short_genome = tmp_path / "short.fa"
    short_genome.write_text(">c\nACGTACGTAC\n")
    generated = write_numbered(tmp_path / "g.fa", ["ACGT" * 25])
    out = tmp_path / "s.tsv"
    expect_error(capsys, ["compare-sequences", "--generated", f"t1={generated}", "--genome",
                          str(short_genome), "-o", str(out)],
                 "the genome has no contig of 100 bp or more, the generated sequences' length: no real "
                 "windows to compare with", [out])
    expect_error(capsys, ["compare-sequences", "--generated", str(generated), "--genome",
                          str(short_genome), "-o", str(out)], "write each set as NAME=FASTA",
                 [out])
    expect_error(capsys, ["compare-sequences", "--generated", f"real={generated}", "--genome",
                          str(short_genome), "-o", str(out)],
                 "the set name 'real' is taken by the real windows", [out])
