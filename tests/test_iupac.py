"""IUPAC ambiguity letters (R, Y, K, M, S, W, B, D, H, V): refused with a hint in record mode,
read as N with --iupac-policy to-n and in genome mode, and counted in the summary."""


import pytest
from dnalm.cli import main
from dnalm.errors import DnalmError
from dnalm.io.sequences import LetterCounts, SequenceRecord, read_sequences
from dnalm.io.token_table import read_token_table
from helpers import MICRO_ZIP, TEST_DATA

GENOME = TEST_DATA / "tiny_genome.fa"
# tiny_genome.fa with chr1 bases 1000-1001 (0-based) as 'K' and soft-masked 'y', chr2 base 250 as 'R'
GENOME_IUPAC = TEST_DATA / "tiny_genome_iupac.fa"


def test_record_mode_refuses_them_and_names_the_option(tmp_path):
    path = tmp_path / "iupac.fa"
    path.write_text(">a\nACGT\n>b\nACGTRYACGT\n")
    with pytest.raises(DnalmError) as caught:
        list(read_sequences(path))
    assert str(caught.value) == (
        "record 'b' (record 2) has 'R' at position 5, an IUPAC ambiguity letter: --iupac-policy "
        "to-n reads such letters as N (otherwise only A, C, G, T, N are allowed)"
    )


def test_to_n_reads_them_as_n_and_counts_them(tmp_path):
    path = tmp_path / "iupac.fa"
    path.write_text(">a\nACGT\n>b\nACGTRYacgtkmswbdhv\n")
    counts = LetterCounts()
    records = list(read_sequences(path, iupac_policy="to-n", letter_counts=counts))
    assert records == [SequenceRecord("a", "ACGT"), SequenceRecord("b", "ACGTNNACGT" + "N" * 8)]
    assert counts == LetterCounts(ambiguous_bases=10, records_with_ambiguity=1)


def test_to_n_still_refuses_other_letters(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("ACGTR\nACGTX\n")
    with pytest.raises(DnalmError, match="record '2' .* has 'X' at position 5: only the letters"):
        list(read_sequences(path, iupac_policy="to-n"))


def genome_windows(tmp_path, source, *options):
    out, summary = tmp_path / f"{source.stem}.parquet", tmp_path / f"{source.stem}.tsv"
    assert main(["tokenize", str(source), "-o", str(out), "--summary", str(summary),
                 "--window", "200", *options]) == 0
    metrics = dict(line.split("\t") for line in summary.read_text().splitlines()[1:])
    return read_token_table(out)[0].to_pydict(), metrics


@pytest.mark.parametrize("n_policy", ["drop", "split"])
def test_genome_mode_treats_them_as_n(tmp_path, n_policy):
    plain, plain_metrics = genome_windows(tmp_path, GENOME, "--n-policy", n_policy)
    rows, metrics = genome_windows(tmp_path, GENOME_IUPAC, "--n-policy", n_policy)
    # the windows over chr1:1000-1002 and chr2:250 are gone (drop) or cut around them (split)
    if n_policy == "drop":
        gone = ["chr1:1000-1200", "chr2:200-400"]
        assert rows["id"] == [window for window in plain["id"] if window not in gone]
        assert metrics["windows dropped (contain N)"] == str(int(plain_metrics["windows dropped (contain N)"]) + 2)
    else:
        assert "chr1:950-1150" in plain["id"] and "chr1:950-1150" not in rows["id"]
        assert "chr1:1002-1202" in rows["id"] and "chr2:251-451" in rows["id"]
    kept = dict(zip(rows["id"], rows["input_ids"]))
    assert all(kept[window] == ids for window, ids in zip(plain["id"], plain["input_ids"]) if window in kept)
    assert metrics["records with IUPAC ambiguity letters (read as N)"] == "2"
    assert metrics["bp of IUPAC ambiguity letters (read as N)"] == "3"
    assert metrics["bp in N runs"] == str(int(plain_metrics["bp in N runs"]) + 3)
    assert plain_metrics["bp of IUPAC ambiguity letters (read as N)"] == "0"


def test_genome_mode_with_iupac_policy_error_stops(tmp_path, capsys):
    assert main(["tokenize", str(GENOME_IUPAC), "-o", str(tmp_path / "t.parquet"),
                 "--window", "200", "--iupac-policy", "error"]) == 1
    assert "record 'chr1' (record 1) has 'K' at position 1001, an IUPAC ambiguity letter" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_record_mode_to_n_in_tokenize_and_embed(tmp_path):
    with_codes, with_n = tmp_path / "codes.fa", tmp_path / "n.fa"
    with_codes.write_text(">w1\n" + "ACGTACGTRRACGTSSWW" * 5 + "\n>w2\nACGTACGTACGT\n")
    with_n.write_text(">w1\n" + "ACGTACGTNNACGTNNNN" * 5 + "\n>w2\nACGTACGTACGT\n")
    summary = tmp_path / "s.tsv"
    assert main(["tokenize", str(with_codes), "-o", str(tmp_path / "a.parquet"),
                 "--iupac-policy", "to-n", "--summary", str(summary)]) == 0
    assert main(["tokenize", str(with_n), "-o", str(tmp_path / "b.parquet")]) == 0
    assert (read_token_table(tmp_path / "a.parquet")[0].to_pydict()
            == read_token_table(tmp_path / "b.parquet")[0].to_pydict())
    metrics = dict(line.split("\t") for line in summary.read_text().splitlines()[1:])
    assert metrics["bp of IUPAC ambiguity letters (read as N)"] == "30"
    assert metrics["records with IUPAC ambiguity letters (read as N)"] == "1"
    # the model tools take the same option (shared model options)
    embeddings = {}
    for name, source, options in (("codes", with_codes, ["--iupac-policy", "to-n"]), ("n", with_n, [])):
        out = tmp_path / f"{name}.tsv"
        assert main(["embed", str(MICRO_ZIP), str(source), "-o", str(out), *options]) == 0
        embeddings[name] = out.read_text()
    assert embeddings["codes"] == embeddings["n"]


def test_model_tools_refuse_them_by_default(tmp_path, capsys):
    path = tmp_path / "codes.fa"
    path.write_text(">v1\nACGTACGTYACGT\n")
    out = tmp_path / "scores.tsv"
    assert main(["score", str(MICRO_ZIP), str(path), "-o", str(out)]) == 1
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1
    assert "has 'Y' at position 9, an IUPAC ambiguity letter: --iupac-policy to-n" in stderr
    assert not out.exists()
