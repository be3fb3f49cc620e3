"""Bad input to dnalm tokenize: one line on stderr, exit 1, no output file left behind."""

import gzip

import pytest
from dnalm.cli import main
from helpers import TEST_DATA


def write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def half_a_gzip(path):
    data = gzip.compress((TEST_DATA / "hg38_windows_small.fa").read_bytes())
    return write(path, data[: len(data) // 2])


CASES = {
    "empty file": (lambda d: write(d / "empty.fa", ""), [], "empty"),
    "only blank lines": (lambda d: write(d / "blank.txt", "\n\n  \n"), [], "empty"),
    "letter outside ACGTN": (
        lambda d: TEST_DATA / "bad_letter.fa", [], "record 'SNP3' (record 3) has 'X' at position 57"
    ),
    "IUPAC code in text": (lambda d: write(d / "iupac.txt", "ACGT\nACRT\n"), [], "record '2' (record 2) has 'R' at position 3"),
    "zero-length record": (lambda d: write(d / "zero.fa", ">a\nACGT\n>b\n"), [], "record 'b' (record 2) has an empty sequence"),
    "zero-length csv cell": (lambda d: write(d / "zero.csv", "id,text\nx,ACGT\ny,\n"), ["--id-column", "id"], "record 'y' (record 2) has an empty sequence"),
    "missing column": (
        lambda d: TEST_DATA / "hg38_windows_small.csv", ["--column", "dna"], "no sequence column 'dna' (columns: name, text)"
    ),
    "no default column": (
        lambda d: write(d / "cols.csv", "name,dna\nx,ACGT\n"), [], "no sequence column 'text' or 'sequence' or 'seq' (columns: name, dna)"
    ),
    "missing id column": (
        lambda d: TEST_DATA / "hg38_windows_small.tsv", ["--id-column", "chrom"], "no id column 'chrom' (columns: name, sequence, label)"
    ),
    "unreadable gzip": (lambda d: half_a_gzip(d / "cut.fa.gz"), [], "cannot be read"),
    "not text": (lambda d: write(d / "x.bin", bytes(range(256)) * 8), [], "not a text file"),
    "missing input": (lambda d: d / "nope.fa", [], "cannot be opened"),
    "text before header": (lambda d: write(d / "pre.fa", "ACGT\n>a\nACGT\n"), ["--input-format", "fasta"], "line 1: sequence text before the first '>'"),
    "all windows dropped": (
        lambda d: write(d / "n.fa", ">chrN\n" + "N" * 500 + "\n"), ["--window", "200"], "no window of 200 bp is left"
    ),
    "bad tokenizer spec": (lambda d: TEST_DATA / "hg38_windows_small.fa", ["--tokenizer", "bpe"], "tokenizer 'bpe' is neither"),
    "bad k": (lambda d: TEST_DATA / "hg38_windows_small.fa", ["--tokenizer", "kmer:x"], "k must be a whole number"),
    "not a tokenizer.json": (
        lambda d: TEST_DATA / "hg38_windows_small.fa", ["--tokenizer", str(TEST_DATA / "hg38_windows_small.csv")], "is not a valid tokenizer.json"
    ),
    "max length too small": (lambda d: TEST_DATA / "hg38_windows_small.fa", ["--max-length", "2"], "leaves no room"),
    "window below 1": (lambda d: TEST_DATA / "tiny_genome.fa", ["--window", "0"], "--window must be at least 1"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_input_fails_cleanly(tmp_path, capsys, case):
    make_input, options, expected = CASES[case]
    source = make_input(tmp_path)
    outputs = tmp_path / "out"
    argv = ["tokenize", str(source), "-o", str(outputs / "t.parquet"),
            "--summary", str(outputs / "s.tsv"), "--histogram", str(outputs / "h.png"), *options]
    assert main(argv) == 1
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith("dnalm tokenize: error: ")
    assert expected in stderr
    left = list(outputs.iterdir()) if outputs.exists() else []
    assert left == []
