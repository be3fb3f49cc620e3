"""dnalm.io.sequences: every input format yields the same real records, bad input fails clearly."""

import gzip

import pytest
from dnalm.errors import DnalmError
from dnalm.io.sequences import SequenceRecord, detect_format, read_sequences
from helpers import TEST_DATA

SMALL_FASTA = TEST_DATA / "hg38_windows_small.fa"


def fasta_records():
    return list(read_sequences(SMALL_FASTA))


def test_fasta_multiline_records_are_joined_in_order():
    records = fasta_records()
    assert len(records) == 80
    assert records[0].id == "SNP1"
    assert records[0].sequence.startswith("AAGGAAATTTCTCAAGGCACTGGGG")
    assert records[0].sequence.endswith("GTTGAAAACACATGGTTTAGGTACAGAATGGCTTCCCCGTT")
    assert all(len(r.sequence) == 201 for r in records)
    # the intron half repeats ids such as chr12: all kept, in order
    assert records[40].id == "chr12"
    assert sum(r.id == "chr12" for r in records) >= 2


def test_gzip_gives_the_same_records():
    assert list(read_sequences(TEST_DATA / "hg38_windows_small.fa.gz")) == fasta_records()


def test_gzip_is_detected_by_content_not_name(tmp_path):
    renamed = tmp_path / "windows.txt"
    renamed.write_bytes((TEST_DATA / "hg38_windows_small.fa.gz").read_bytes())
    assert list(read_sequences(renamed)) == fasta_records()


def test_csv_default_text_column_and_row_number_ids():
    records = list(read_sequences(TEST_DATA / "hg38_windows_small.csv"))
    expected = fasta_records()[:20]
    assert [r.sequence for r in records] == [r.sequence for r in expected]
    assert [r.id for r in records] == [str(i) for i in range(1, 21)]


def test_csv_id_column():
    records = list(read_sequences(TEST_DATA / "hg38_windows_small.csv", id_column="name"))
    assert records == fasta_records()[:20]


def test_tsv_sequence_column_detected():
    path = TEST_DATA / "hg38_windows_small.tsv"
    assert detect_format(path) == "tsv"
    records = list(read_sequences(path, column="sequence", id_column="name"))
    assert records == fasta_records()[:20]
    # without --column the "sequence" column is found by its name
    assert [r.sequence for r in read_sequences(path)] == [r.sequence for r in records]


def test_plain_text_one_sequence_per_line():
    path = TEST_DATA / "hg38_windows_small.txt"
    assert detect_format(path) == "txt"
    records = list(read_sequences(path))
    assert [r.sequence for r in records] == [r.sequence for r in fasta_records()[:20]]
    assert records[0].id == "1"


def test_soft_masked_bases_are_uppercased(tmp_path):
    path = tmp_path / "soft.fa"
    path.write_text(">a desc\nacgtN\nNNacg\n")
    assert list(read_sequences(path)) == [SequenceRecord("a", "ACGTNNNACG")]


def test_one_column_csv_with_header(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("sequence\nACGT\nTTGA\n")
    assert [r.sequence for r in read_sequences(path)] == ["ACGT", "TTGA"]


def error_of(path, **options):
    with pytest.raises(DnalmError) as caught:
        list(read_sequences(path, **options))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_bad_letter_names_record_and_position():
    message = error_of(TEST_DATA / "bad_letter.fa")
    assert "record 'SNP3'" in message
    assert "'X' at position 57" in message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.fa"
    path.write_text("")
    assert "empty" in error_of(path)


def test_zero_length_fasta_record(tmp_path):
    path = tmp_path / "zero.fa"
    path.write_text(">a\nACGT\n>b\n>c\nAC\n")
    assert "record 'b' (record 2) has an empty sequence" in error_of(path)


def test_zero_length_line_in_text(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("ACGT\n\nACGT\n")
    assert "line 2 is empty" in error_of(path)


def test_missing_column_lists_existing_columns():
    message = error_of(TEST_DATA / "hg38_windows_small.csv", column="dna")
    assert "no sequence column 'dna'" in message
    assert "columns: name, text" in message


def test_missing_id_column(tmp_path):
    message = error_of(TEST_DATA / "hg38_windows_small.tsv", id_column="chrom")
    assert "no id column 'chrom'" in message and "name, sequence, label" in message


def test_unreadable_gzip(tmp_path):
    data = gzip.compress(SMALL_FASTA.read_bytes())
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(data[: len(data) // 2])
    assert "cannot be read" in error_of(path)


def test_binary_file(tmp_path):
    path = tmp_path / "random.bin"
    path.write_bytes(bytes(range(256)) * 4)
    assert "not a text file" in error_of(path)
