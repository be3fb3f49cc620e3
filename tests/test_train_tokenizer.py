"""dnalm train-tokenizer: a DNABERT-2-shaped BPE tokenizer that dnalm tokenize accepts."""

import json

from dnalm.cli import main
from dnalm.io.sequences import read_sequences
from dnalm.io.token_table import read_token_table
from dnalm.tokenization.loading import (
    bundled_tokenizer_path,
    load_tokenizer,
    to_transformers,
)
from helpers import TEST_DATA

SMALL_FASTA = TEST_DATA / "hg38_windows_small.fa"


def train(tmp_path, *options):
    out = tmp_path / "tokenizer.json"
    assert main(["train-tokenizer", str(SMALL_FASTA), "-o", str(out), *map(str, options)]) == 0
    return out


def test_trained_tokenizer_has_dnabert2_shape(tmp_path):
    trained = json.loads(train(tmp_path, "--vocab-size", 300).read_text())
    bundled = json.loads(bundled_tokenizer_path().read_text())
    specials = [(t["id"], t["content"]) for t in trained["added_tokens"]]
    assert specials == [(0, "[UNK]"), (1, "[CLS]"), (2, "[SEP]"), (3, "[PAD]"), (4, "[MASK]")]
    assert trained["model"]["type"] == "BPE"
    assert len(trained["model"]["vocab"]) == 300
    assert all(trained["model"]["vocab"][letter] >= 5 for letter in "ACGTN")
    assert trained["pre_tokenizer"] == bundled["pre_tokenizer"]
    assert trained["post_processor"]["single"] == bundled["post_processor"]["single"]


def test_tokenize_accepts_the_trained_tokenizer(tmp_path, capsys):
    tokenizer_file = train(tmp_path, "--vocab-size", 300, "--min-frequency", 2)
    out = tmp_path / "t.parquet"
    assert main(["tokenize", str(SMALL_FASTA), "-o", str(out), "--tokenizer", str(tokenizer_file)]) == 0
    table, tokenizer_json = read_token_table(out)
    rows = table.to_pydict()
    sequences = [record.sequence for record in read_sequences(SMALL_FASTA)]
    expected = to_transformers(load_tokenizer(str(tokenizer_file)))(sequences)["input_ids"]
    assert rows["input_ids"] == expected
    assert all(ids[0] == 1 and ids[-1] == 2 for ids in rows["input_ids"])
    assert all(0 not in ids for ids in rows["input_ids"])  # the training data hold no unknown
    # merges learned: fewer tokens than bases
    assert sum(map(len, rows["input_ids"])) < sum(map(len, sequences)) / 2
    assert json.loads(tokenizer_json)["model"]["vocab"] == json.loads(tokenizer_file.read_text())["model"]["vocab"]


def test_genome_mode_training_and_report(tmp_path, capsys):
    out = tmp_path / "g.json"
    assert main(["train-tokenizer", str(TEST_DATA / "tiny_genome.fa"), "--window", "100",
                 "-o", str(out), "--vocab-size", "64"]) == 0
    report = capsys.readouterr().out
    assert "sequences\t" in report and "vocabulary size\t64" in report
    assert load_tokenizer(str(out)).get_vocab_size() == 64


def test_too_small_vocabulary_fails_cleanly(tmp_path, capsys):
    out = tmp_path / "small.json"
    assert main(["train-tokenizer", str(SMALL_FASTA), "-o", str(out), "--vocab-size", "8"]) == 1
    err = capsys.readouterr().err
    # The declared range (the 5 special tokens and A, C, G, T, N need 10), refused before reading
    assert err == "dnalm train-tokenizer: error: --vocab-size must be in [10, 1000000], not 8\n"
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_input_fails_cleanly(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["train-tokenizer", str(TEST_DATA / "bad_letter.fa"), "-o", str(out)]) == 1
    assert "record 'SNP3' (record 3) has 'X' at position 57" in capsys.readouterr().err
    assert not out.exists()
