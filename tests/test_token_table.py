"""The token table: the tokenizer stored once, token ids read back exactly."""

import numpy as np
import pyarrow.parquet as pq
import pytest
from dnalm.errors import DnalmError
from dnalm.io.token_table import TOKENIZER_KEY, TokenTableWriter, read_token_table
from dnalm.tokenization.loading import load_tokenizer
from dnalm.training.token_data import read_token_data
from dnalm.training.validation_split import split_train_validation


def write_table(path, ids, sequences, tokenizer_json):
    with TokenTableWriter(path, tokenizer_json) as writer:
        writer.write({"id": ids, "input_ids": sequences})
    return path


def test_tokenizer_is_stored_once(tmp_path):
    tokenizer_json = load_tokenizer().to_str()
    path = write_table(tmp_path / "t.parquet", ["a", "b"], [[1, 5, 2], [1, 7, 8, 2]], tokenizer_json)
    footer = pq.read_metadata(path).metadata
    assert footer[TOKENIZER_KEY].decode() == tokenizer_json
    assert len(tokenizer_json) > 100_000 and len(footer[b"ARROW:schema"]) < 2_000
    assert path.read_bytes().count(tokenizer_json.encode()) == 1
    assert path.stat().st_size < len(tokenizer_json) + 5_000
    table, read_back = read_token_table(path)
    assert read_back == tokenizer_json
    assert table.column("input_ids").to_pylist() == [[1, 5, 2], [1, 7, 8, 2]]


def test_token_data_reads_every_id_back_across_row_batches(tmp_path):
    rng = np.random.default_rng(0)
    sequences = [rng.integers(5, 4096, size=rng.integers(3, 60)).tolist() for _ in range(250)]
    ids = [f"w{i}" for i in range(250)]
    path = write_table(tmp_path / "t.parquet", ids, sequences, load_tokenizer().to_str())
    data = read_token_data(path, tmp_path / "scratch", batch_rows=64)  # four batches
    assert len(data.sequences) == 250 and data.row_id(137) == "w137"
    assert [data.sequences[i].tolist() for i in range(250)] == sequences
    assert data.sequences.lengths().tolist() == [len(s) for s in sequences]
    assert (data.lengths.sequences, data.lengths.tokens) == (250, sum(map(len, sequences)))
    assert (data.lengths.shortest, data.lengths.longest) == (3, max(map(len, sequences)))
    assert data.largest_id == max(map(max, sequences)) and data.smallest_id == 0
    split = split_train_validation(data, 0.2, seed=42)
    order = np.random.default_rng(42).permutation(250)  # the tutorial-like seeded 80/20 split
    assert split.validation.tolist() == order[:50].tolist() and len(split.train) == 200
    assert split.description == "random 20% of the sequences (seed 42)"


def test_a_sequence_without_tokens_is_named(tmp_path):
    path = write_table(tmp_path / "t.parquet", ["a", "empty", "c"], [[1, 2], [], [1, 2]],
                       load_tokenizer().to_str())
    with pytest.raises(DnalmError, match="record 'empty' has no tokens"):
        read_token_data(path, tmp_path)
