"""FASTQ input (Galaxy's fastqsanger, plain or gzip): the same records as the FASTA they came from."""

import gzip

import pytest
from dnalm.cli import main
from dnalm.errors import DnalmError
from dnalm.io.sequences import SequenceRecord, detect_format, read_sequences
from dnalm.io.token_table import read_token_table
from helpers import MICRO_ZIP, TEST_DATA

FASTQ = TEST_DATA / "hg38_windows_small.fastq"
FASTQ_GZ = TEST_DATA / "hg38_windows_small.fastq.gz"
FASTA = TEST_DATA / "hg38_windows_small.fa"


def first_fasta_records(count=10):
    return list(read_sequences(FASTA))[:count]


def test_fastq_is_detected_and_gives_the_fasta_records():
    # the FASTQ holds the first 10 windows of the FASTA, headers "@SNP1 hg38 window 1" ...
    assert detect_format(FASTQ) == "fastq"
    records = list(read_sequences(FASTQ))
    assert records == first_fasta_records()
    assert records[0].id == "SNP1" and len(records[0].sequence) == 201


def test_gzip_fastq_and_explicit_format():
    assert list(read_sequences(FASTQ_GZ)) == first_fasta_records()
    assert list(read_sequences(FASTQ_GZ, input_format="fastq")) == first_fasta_records()


def test_quality_lines_starting_with_at_or_plus_are_not_headers(tmp_path):
    # '@' (Q31) and '+' (Q10) are ordinary Phred+33 quality characters
    path = tmp_path / "tricky.fastq"
    path.write_text("@r1 first\nacgtN\n+r1 first\n@@+II\n@r2\nTTGA\n+\n+@@I\n\n")
    assert list(read_sequences(path)) == [SequenceRecord("r1", "ACGTN"), SequenceRecord("r2", "TTGA")]


def message_for(fastq_text, tmp_path):
    """The one-line error that reading ``fastq_text`` gives."""
    path = tmp_path / "input.fastq"
    path.write_text(fastq_text)
    with pytest.raises(DnalmError) as caught:
        list(read_sequences(path))
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_truncated_fastq_names_the_record(tmp_path):
    lines = FASTQ.read_text().splitlines(keepends=True)
    # records 1-3, then the @id and sequence of SNP4
    assert "FASTQ record 'SNP4' (record 4, line 13) is cut short" in message_for("".join(lines[:14]), tmp_path)
    # cut inside the quality line: lengths differ
    cut_quality = "".join(lines[:15]) + lines[15][:50] + "\n"
    assert ("FASTQ record 'SNP4' (record 4, line 13) has 201 bases but 50 quality characters"
            in message_for(cut_quality, tmp_path))


@pytest.mark.parametrize("text, expected", [
    ("@a\nACGT\n+\nIIII\n@b\nACGT\nIIII\n+\n", "FASTQ record 'b' (record 2, line 5) has no '+' line"),
    ("@a\nACGT\n+\nIIII\nb\nACGT\n+\nIIII\n", "line 5: FASTQ record 2 should start with '@'"),
    ("@a\nACGT\nIIII\n", "starts with '@' like FASTQ, but its first record has no '+' line"),
    ("@a\nACXT\n+\nIIII\n", "record 'a' (record 1) has 'X' at position 3"),
])
def test_malformed_fastq_records(tmp_path, text, expected):
    assert expected in message_for(text, tmp_path)


def test_tokenize_fastq_gives_the_fasta_token_ids(tmp_path):
    fasta_slice = tmp_path / "ten.fa"
    fasta_slice.write_text("".join(f">{r.id}\n{r.sequence}\n" for r in first_fasta_records()))
    tables = {}
    for name, source, options in (("fastq", FASTQ_GZ, ["--input-format", "fastq"]), ("fasta", fasta_slice, [])):
        out = tmp_path / f"{name}.parquet"
        assert main(["tokenize", str(source), "-o", str(out), *options]) == 0
        tables[name] = read_token_table(out)[0].to_pydict()
    assert tables["fastq"]["id"][:3] == ["SNP1", "SNP2", "SNP3"]
    assert tables["fastq"]["input_ids"] == tables["fasta"]["input_ids"]
    assert len(tables["fastq"]["input_ids"]) == 10


def test_truncated_fastq_fails_cleanly_in_the_cli(tmp_path, capsys):
    cut = tmp_path / "cut.fastq.gz"
    cut.write_bytes(gzip.compress("".join(FASTQ.read_text().splitlines(keepends=True)[:30]).encode()))
    outputs = tmp_path / "out"
    assert main(["tokenize", str(cut), "-o", str(outputs / "t.parquet"),
                 "--summary", str(outputs / "s.tsv")]) == 1
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1
    assert "FASTQ record 'SNP8' (record 8, line 29) is cut short" in stderr
    assert not outputs.exists() or list(outputs.iterdir()) == []


def test_embed_and_score_read_fastq(tmp_path):
    fasta_slice = tmp_path / "ten.fa"
    fasta_slice.write_text("".join(f">{r.id}\n{r.sequence}\n" for r in first_fasta_records()))
    for command in ("embed", "score"):
        outputs = {}
        for source in (FASTQ, fasta_slice):
            out = tmp_path / f"{command}_{source.suffix}.tsv"
            assert main([command, str(MICRO_ZIP), str(source), "-o", str(out)]) == 0
            outputs[source.suffix] = out.read_text()
        assert outputs[".fastq"] == outputs[".fa"]
        assert outputs[".fastq"].splitlines()[1].startswith("SNP1\t")
