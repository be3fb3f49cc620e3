"""Genome mode reads records piece by piece: the same windows whatever the piece size,
the source record kept per row, and bad genomes refused with one line and no output."""

from pathlib import Path

import pyarrow as pa
import pytest
from dnalm.cli import main
from dnalm.errors import DnalmError
from dnalm.io.sequences import read_sequence_pieces, read_sequences
from dnalm.io.token_table import SOURCE_COLUMN, SOURCE_TYPE, read_token_table, row_sources
from dnalm.io.windows import GenomeWindowCounts, genome_windows

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
TINY_GENOME = TEST_DATA / "tiny_genome.fa"


def whole_record_windows(path, window, n_policy):
    """The windows cut from whole records, straight from the definition (no pieces)."""
    expected = []
    for record in read_sequences(path, iupac_policy="to-n"):
        sequence = record.sequence
        if n_policy == "drop":
            stretches = [(0, len(sequence))]
        else:
            stretches, start = [], None
            for i, base in enumerate(sequence + "N"):
                if base != "N" and start is None:
                    start = i
                elif base == "N" and start is not None:
                    stretches.append((start, i))
                    start = None
        for stretch_start, stretch_end in stretches:
            for start in range(stretch_start, stretch_end - window + 1, window):
                piece = sequence[start : start + window]
                if "N" not in piece:
                    expected.append((f"{record.id}:{start}-{start + window}", piece, record.id))
    return expected


@pytest.mark.parametrize("n_policy", ["drop", "split"])
@pytest.mark.parametrize("piece_bases", [1, 7, 60, 199, 200, 201, 1000, 1 << 20])
def test_pieces_give_the_windows_of_whole_records(n_policy, piece_bases):
    counts = GenomeWindowCounts()
    pieces = read_sequence_pieces(TINY_GENOME, iupac_policy="to-n", piece_bases=piece_bases)
    windows = [tuple(w) for w in genome_windows(pieces, 200, n_policy, counts)]
    assert windows == whole_record_windows(TINY_GENOME, 200, n_policy)
    assert counts.records == 2 and counts.kept == len(windows)
    assert counts.bp_in_n_runs == 150 + 75 + 30
    # split: chr1's stretches [150,1450) [1525,2225) [2255,2730), chr2's [0,650): four short tails
    assert counts.dropped_short == (4 if n_policy == "split" else 2)


def test_pieces_of_a_long_record_start_where_they_are(tmp_path):
    fasta = tmp_path / "long.fa"
    fasta.write_text(">c1 long\n" + "ACGTA\n" * 50 + ">c2\nGG\n")
    pieces = list(read_sequence_pieces(fasta, piece_bases=40))
    assert [(p.id, p.start, len(p.sequence), p.number) for p in pieces] == [
        ("c1", 0, 40, 1), ("c1", 40, 40, 1), ("c1", 80, 40, 1), ("c1", 120, 40, 1),
        ("c1", 160, 40, 1), ("c1", 200, 40, 1), ("c1", 240, 10, 1), ("c2", 0, 2, 2)]
    assert "".join(p.sequence for p in pieces[:-1]) == "ACGTA" * 50


def test_a_bad_letter_in_a_later_piece_is_placed_in_the_whole_record(tmp_path):
    fasta = tmp_path / "bad.fa"
    fasta.write_text(">c1\n" + "ACGTACGTAC\n" * 30 + "ACGXACGTAC\n")
    with pytest.raises(DnalmError, match=r"record 'c1' \(record 1\) has 'X' at position 304"):
        list(read_sequence_pieces(fasta, piece_bases=50))


def test_ambiguity_letters_count_once_per_record_across_pieces(tmp_path):
    from dnalm.io.sequences import LetterCounts

    fasta = tmp_path / "iupac.fa"
    fasta.write_text(">c1\n" + "ACGTRCGTAC\n" * 30 + ">c2\nACGT\n")
    counts = LetterCounts()
    pieces = list(read_sequence_pieces(fasta, iupac_policy="to-n", letter_counts=counts,
                                       piece_bases=50))
    assert counts == LetterCounts(ambiguous_bases=30, records_with_ambiguity=1)
    assert "".join(p.sequence for p in pieces if p.id == "c1") == "ACGTNCGTAC" * 30


def tokenize(tmp_path, *options):
    out = tmp_path / "t.parquet"
    assert main(["tokenize", *map(str, options), "-o", str(out), "--tokenizer", "kmer:3"]) == 0
    return read_token_table(out)[0]


def test_genome_mode_keeps_each_windows_record_as_a_dictionary(tmp_path):
    table = tokenize(tmp_path, TINY_GENOME, "--genome", "--n-policy", "split",
                     "--reverse-complement")
    source = table.column(SOURCE_COLUMN)
    assert source.type == SOURCE_TYPE
    ids = table.column("id").to_pylist()
    assert source.to_pylist() == [i.partition(":")[0] for i in ids]
    assert ids[:2] == ["chr1:150-350", "chr1:150-350(-)"]
    assert source.combine_chunks().dictionary.to_pylist() == ["chr1", "chr2"]


def test_records_mode_rows_are_their_own_source_unless_cut_by_bedtools(tmp_path):
    table = tokenize(tmp_path, TEST_DATA / "hg38_windows_small.fa")
    assert table.column(SOURCE_COLUMN).to_pylist() == table.column("id").to_pylist()
    fasta = tmp_path / "bedtools.fa"
    fasta.write_text(">chr2:100-110\nACGTACGTAC\n>chr2:110-120(-)\nACGTACGTAC\n>read:7\nACGT\n")
    table = tokenize(tmp_path, fasta)
    assert table.column(SOURCE_COLUMN).to_pylist() == ["chr2", "chr2", "read:7"]
    assert table.column(SOURCE_COLUMN).type == SOURCE_TYPE


def test_tables_without_a_source_derive_it_from_the_ids():
    ids = pa.array(["chrXV:0-200", "chrXV:200-400(-)", "scaffold_1:3-5", "read7", "a:b",
                    "chr1:10-20:30-40"])
    batch = pa.record_batch({"id": ids})
    sources = row_sources(batch)
    assert sources.type == SOURCE_TYPE
    assert sources.to_pylist() == ["chrXV", "chrXV", "scaffold_1", "read7", "a:b", "chr1:10-20"]
    assert sources.dictionary.to_pylist() == ["chrXV", "scaffold_1", "read7", "a:b", "chr1:10-20"]


BAD_GENOMES = {
    "empty record": (">chrI\nACGTACGT\n>chrII\n>chrIII\nACGT\n",
                     "record 'chrII' (record 2) has an empty sequence"),
    "only N": (">chrN\n" + "N" * 500 + "\n>chrM\nNNNN\n",
               "no window of 200 bp is left (n-policy drop)"),
    "too short": (">chrS\nACGTACGT\n", "no window of 200 bp is left"),
}


@pytest.mark.parametrize("case", BAD_GENOMES, ids=list(BAD_GENOMES))
def test_bad_genomes_fail_with_one_line_and_no_output(tmp_path, capsys, case):
    content, message = BAD_GENOMES[case]
    fasta = tmp_path / "g.fa"
    fasta.write_text(content)
    out, summary = tmp_path / "t.parquet", tmp_path / "s.tsv"
    code = main(["tokenize", str(fasta), "--window", "200", "-o", str(out), "--summary",
                 str(summary)])
    err = capsys.readouterr().err
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not summary.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.fa"]
