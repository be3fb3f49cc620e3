"""Pretraining data at genome scale: token ids memory-mapped, never copied whole; the
validation split by held-out records or at random, capped; errors that name the problem."""

import mmap
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dnalm.cli import main
from dnalm.errors import DnalmError
from dnalm.io.token_table import TOKENIZER_KEY, TokenTableWriter
from dnalm.tokenization.encoding import EXTRA_FIELDS
from dnalm.tokenization.loading import load_tokenizer
from dnalm.training.callbacks import ProgressLines, TimeBudget
from dnalm.training.token_data import check_fits_model, read_token_data
from dnalm.training.token_files import SequenceDataset, TokenIdsFile
from dnalm.training.validation_split import cap_validation, split_train_validation
from transformers import TrainerState

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
CONTIGS = ["chrI"] * 30 + ["chrII"] * 50 + ["chrIII"] * 20  # rows in table order


def genome_rows():
    rng = np.random.default_rng(1)
    rows, position = [], {}
    for contig in CONTIGS:
        start = position.get(contig, 0)
        position[contig] = start + 200
        rows.append((f"{contig}:{start}-{start + 200}", contig,
                     [1] + rng.integers(5, 4096, size=rng.integers(20, 50)).tolist() + [2]))
    return rows


def write_genome_table(path, with_source=True, rows=None):
    rows = rows or genome_rows()
    tokenizer_json = load_tokenizer().to_str()
    with TokenTableWriter(path, tokenizer_json, EXTRA_FIELDS if with_source else ()) as writer:
        for start in range(0, len(rows), 32):  # several row groups, each with its own dictionary
            part = rows[start : start + 32]
            columns = {"id": [r[0] for r in part], "input_ids": [r[2] for r in part]}
            if with_source:
                columns["length_bp"] = [200] * len(part)
                columns["source"] = pa.array([r[1] for r in part]).dictionary_encode()
            writer.write(columns)
    return path


@pytest.mark.parametrize("with_source", [True, False], ids=["source column", "old table"])
def test_held_out_contigs_are_exactly_their_windows(tmp_path, with_source):
    path = write_genome_table(tmp_path / "t.parquet", with_source)
    assert ("source" in pq.read_schema(path).names) == with_source
    data = read_token_data(path, tmp_path, sources=["chrIII", "chrI"], batch_rows=16)
    split = split_train_validation(data, 0.2, 42, ["chrIII", "chrI"], max_validation=0)
    assert split.validation.tolist() == list(range(30)) + list(range(80, 100))
    assert split.train.tolist() == list(range(30, 80))
    assert split.description == "held-out records chrIII, chrI" and split.held_out == 50


def test_the_validation_cap_is_a_seeded_sample_of_the_held_out_rows(tmp_path):
    data = read_token_data(write_genome_table(tmp_path / "t.parquet"), tmp_path, ["chrII"])
    split = split_train_validation(data, 0.2, 7, ["chrII"], max_validation=12)
    assert len(split.validation) == 12 and split.held_out == 50
    assert set(split.validation) <= set(range(30, 80)) and split.train.tolist() == (
        list(range(30)) + list(range(80, 100)))  # the uncapped rest is not trained on either
    assert split.validation.tolist() == sorted(split.validation.tolist())
    again = split_train_validation(data, 0.2, 7, ["chrII"], max_validation=12)
    assert again.validation.tolist() == split.validation.tolist()
    assert "12 of their 50 sequences validated" in split.description
    random = split_train_validation(data, 0.5, 7, max_validation=10)
    assert len(random.validation) == 10 and len(random.train) == 50
    assert cap_validation(np.arange(5), 10).tolist() == [0, 1, 2, 3, 4]


def test_token_ids_are_read_from_unlinked_files_a_sequence_at_a_time(tmp_path):
    rows = genome_rows()
    scratch = tmp_path / "scratch"
    data = read_token_data(write_genome_table(tmp_path / "t.parquet"), scratch, batch_rows=16)
    values, offsets = data.sequences.values, data.sequences.offsets
    assert isinstance(values, TokenIdsFile) and isinstance(offsets.base.obj, mmap.mmap)
    assert offsets.dtype == np.int64
    assert len(values) == sum(len(r[2]) for r in rows) and offsets[-1] == len(values)
    assert os.listdir(scratch) == []  # unlinked once opened
    for row in (0, 41, len(rows) - 1):
        sequence = data.sequences[row]
        assert sequence.dtype == np.int32 and sequence.tolist() == rows[row][2]
    every_id = np.concatenate([ids for _, ids in values.chunks(size=7)])
    assert every_id.tolist() == [token for row in rows for token in row[2]]
    dataset = SequenceDataset(data.sequences, np.array([41, 3]))
    assert dataset[0]["input_ids"].tolist() == rows[41][2]
    assert dataset.lengths().tolist() == [len(rows[41][2]), len(rows[3][2])]


def test_contigs_not_in_the_genome_are_named(tmp_path):
    data = read_token_data(write_genome_table(tmp_path / "t.parquet"), tmp_path,
                           ["chrXV", "chrII", "chrM"])
    with pytest.raises(DnalmError) as error:
        split_train_validation(data, 0.2, 42, ["chrXV", "chrII", "chrM"])
    assert str(error.value) == ("--validation-contigs: chrXV, chrM not in t.parquet "
                                "(its records: chrI, chrII, chrIII)")
    data = read_token_data(tmp_path / "t.parquet", tmp_path, ["chrI", "chrII", "chrIII"])
    with pytest.raises(DnalmError, match="hold every sequence of t.parquet: none is left"):
        split_train_validation(data, 0.2, 42, ["chrI", "chrII", "chrIII"])


def test_a_misfit_names_its_record_read_back_alone(tmp_path):
    rows = genome_rows()
    rows[77] = (rows[77][0], rows[77][1], rows[77][2][:5] + [4096] + rows[77][2][5:])
    data = read_token_data(write_genome_table(tmp_path / "t.parquet", rows=rows), tmp_path)
    assert data.largest_id == 4096

    class Config:
        vocab_size, max_position_embeddings = 4096, 512

    with pytest.raises(DnalmError, match=f"record '{rows[77][0]}' has token id 4096, outside"):
        check_fits_model(data, Config, "t.parquet")
    Config.vocab_size, Config.max_position_embeddings = 5000, 40
    first_long = next(row for row in rows if len(row[2]) > 40)
    with pytest.raises(DnalmError, match=f"record '{first_long[0]}' has {len(first_long[2])} "
                                         "tokens, more than the model's 40 positions"):
        check_fits_model(data, Config, "t.parquet")


def test_pretrain_holds_out_contigs_and_says_so(tmp_path, capsys):
    path = write_genome_table(tmp_path / "t.parquet")
    argv = ["pretrain", str(path), "-o", str(tmp_path / "m.zip"), "--preset", "tiny",
            "--max-steps", "2", "--validation-contigs", "chrIII", "--max-validation-sequences",
            "8", "--report", str(tmp_path / "r.html")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "validation: held-out records chrIII, 8 of their 20 sequences validated" in out
    assert "training: 80 sequences, 8 for validation" in out
    report = (tmp_path / "r.html").read_text()
    assert "held-out records chrIII, 8 of their 20 sequences validated" in report
    assert "80 / 8" in report
    assert sorted(os.listdir(tmp_path)) == ["m.zip", "r.html", "t.parquet"]


def test_pretrain_refuses_unknown_contigs_with_one_line_and_no_output(tmp_path, capsys):
    path = write_genome_table(tmp_path / "t.parquet")
    argv = ["pretrain", str(path), "-o", str(tmp_path / "m.zip"), "--preset", "tiny",
            "--validation-contigs", "chrXV,chrXVI", "--report", str(tmp_path / "r.html")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("dnalm pretrain: error: --validation-contigs: chrXV, chrXVI not in t.parquet "
                   "(its records: chrI, chrII, chrIII)")
    assert sorted(os.listdir(tmp_path)) == ["t.parquet"]
    assert main(["pretrain", str(tmp_path / "no.parquet"), "-o", str(tmp_path / "m.zip")]) == 1
    assert "no.parquet does not exist" in capsys.readouterr().err


class _State:
    num_input_tokens_seen = 0


def test_time_budget_keeps_room_for_the_last_evaluation_and_save():
    budget = TimeBudget(1, print_fn=lambda *a, **k: None, validation_tokens=60_000)
    budget._start, budget._tokens_at_start, budget._save_estimate = 0.0, 0, 2.0
    state = _State()
    state.num_input_tokens_seen = 30_000  # 1,000 training tokens/s over 30 s
    # Before any evaluation: 60,000 tokens at twice 1,000/s, and two saves of 2 s.
    assert budget.reserve(state, 30.0) == pytest.approx(30 + 4)
    budget.evaluation_seconds, budget.save_seconds = 12.0, 1.5  # measured at an epoch's end
    assert budget.reserve(state, 30.0) == pytest.approx(12 + 3)


def test_the_eta_is_the_time_budget_left_when_that_ends_the_run_first():
    lines = []
    budget = TimeBudget(10, print_fn=lambda *a, **k: None)
    progress = ProgressLines(print_fn=lambda line, **k: lines.append(line), time_budget=budget)
    state = TrainerState(max_steps=78_400, global_step=0, epoch=0.0)
    args = SimpleNamespace(num_train_epochs=50)
    progress.on_train_begin(args, state, None)
    budget._start = time.perf_counter() - 60  # one minute of the ten spent
    progress._start = time.perf_counter() - 60  # and 100 of 78,400 steps: hours by the steps
    state.global_step, state.epoch = 100, 0.06
    progress.on_log(args, state, None, logs={"loss": 3.9, "learning_rate": 1e-3})
    eta = lines[-1].split("ETA ")[1]
    assert eta in ("0:09:00", "0:08:59")

    without_budget = ProgressLines(print_fn=lambda line, **k: lines.append(line))
    without_budget.on_train_begin(args, TrainerState(max_steps=78_400, global_step=0), None)
    without_budget._start = time.perf_counter() - 60
    without_budget.on_log(args, state, None, logs={"loss": 3.9, "learning_rate": 1e-3})
    # 78,300 steps left at 100 a minute
    assert lines[-1].split("ETA ")[1] in ("13:03:00", "13:02:59")
