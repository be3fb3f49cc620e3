"""The training data: a token table's ids copied into two scratch files, and checked.

``read_token_data`` copies the ``input_ids`` column once, row group by row
group, into two flat files in a scratch folder (pretraining uses the folder
that holds the checkpoints, which has room for them): every token id (int32)
and where each sequence starts (int64, the index). It opens both and unlinks
them at once: the open files stay readable for the run, the disk space comes
back when it ends, and a killed run leaves nothing behind. A sequence's ids are
read from the file when a batch asks for it (``pread``), so memory stays flat
however large the corpus; the index is memory-mapped (read-ahead off). What
stays in RAM is small: with held-out records (``--validation-contigs``), one
byte per row saying whether its ``source`` (see ``dnalm.io.token_table``) is
one of them, found batch by batch in Arrow; training and validation row
indices. Window ids are never read: an error message looks up the one row it
names (``read_row_id``).

How the ids are held is ``dnalm.training.token_files``'; which rows train and
which validate is ``dnalm.training.validation_split``'s.

Why not the memory-mapped cache of ``datasets``: it would convert the Parquet
file into an Arrow cache just as large, then hand out every row through its
formatting layer (Python lists, or a NumPy conversion per row), where reading
a window's ids costs one system call; and ``datasets`` is not otherwise a
dependency of dnalm (only of the tutorial recipe in ``bench/``).
"""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dnalm.errors import DnalmError
from dnalm.io.token_table import (
    ID_COLUMN,
    IDS_COLUMN,
    SOURCE_COLUMN,
    open_token_table,
    read_row_id,
    row_sources,
)
from dnalm.tokenization.loading import tokenizer_from_json
from dnalm.training.token_files import TokenIdsFile, TokenSequences, mapped_array

FIRST_IDS_FOR_FINGERPRINT = 100
RECORDS_NAMED_IN_ERRORS = 10


@dataclass
class LengthStats:
    """Tokens per sequence over the whole table, gathered while reading it."""

    sequences: int
    tokens: int
    shortest: int
    longest: int

    @property
    def mean(self):
        return self.tokens / self.sequences


@dataclass
class TokenData:
    """All sequences of a token table, with their tokenizer and what reading them found."""

    path: Path
    sequences: TokenSequences
    tokenizer_json: str
    lengths: LengthStats
    largest_id: int
    smallest_id: int
    sources: "SourceIndex"

    @property
    def tokenizer(self):
        return tokenizer_from_json(self.tokenizer_json, source="the token table's tokenizer")

    def row_id(self, row):
        """The ``id`` of one row, read from the table (for messages only)."""
        return read_row_id(self.path, int(row))


@dataclass
class SourceIndex:
    """Which rows come from the records asked for (``wanted``), and which of those exist."""

    wanted: tuple
    in_wanted: np.ndarray  # bool per row (empty when nothing is wanted)
    found: set  # the wanted names some row comes from
    examples: list  # the table's first few source names, for messages


def read_token_data(path, scratch_dir, sources=(), batch_rows=65_536):
    """The token ids of the table ``path``, through files in ``scratch_dir``.

    ``sources`` names records (contigs) whose rows ``TokenData.sources`` marks.
    Returns ``TokenData``; refuses a table with an empty sequence or fewer than two.
    """
    parquet, tokenizer_json = open_token_table(path)
    Path(scratch_dir).mkdir(parents=True, exist_ok=True)
    values_file = tempfile.NamedTemporaryFile(dir=scratch_dir, prefix=".token_ids.", delete=False)
    offsets_file = tempfile.NamedTemporaryFile(dir=scratch_dir, prefix=".token_offsets.",
                                               delete=False)
    try:
        with values_file, offsets_file:
            reading = _TableReading(tuple(sources), values_file, offsets_file)
            try:
                # Row group by row group, on one thread: iter_batches and Arrow's reader
                # threads keep buffers that grew with the file (150 MB more anonymous memory
                # for a 240 Mbp genome's table), a row group read at a time keeps ~20 MB.
                columns = reading.columns(parquet)
                for group in range(parquet.num_row_groups):
                    table = parquet.read_row_group(group, columns=columns, use_threads=False)
                    for batch in table.to_batches(max_chunksize=batch_rows):
                        reading.add(batch)
            except (OSError, pa.ArrowInvalid) as error:
                raise DnalmError(f"{path} is not a readable Parquet file: {error}") from None
        values = TokenIdsFile(open(values_file.name, "rb"))
        offsets = mapped_array(offsets_file.name, np.int64)
    finally:  # an open file, or a mapping, stays readable after the file is unlinked
        for name in (values_file.name, offsets_file.name):
            os.unlink(name)
    data = TokenData(Path(path), TokenSequences(values, offsets), tokenizer_json,
                     reading.stats(), reading.largest, reading.smallest, reading.source_index())
    if reading.first_empty is not None:
        raise DnalmError(f"{path}: record '{data.row_id(reading.first_empty)}' has no tokens")
    if len(data.sequences) < 2:
        raise DnalmError(f"{path} holds {len(data.sequences)} sequence(s): at least 2 are needed")
    return data


class _TableReading:
    """One pass over a token table: ids and offsets to the files, the rest gathered on the way."""

    def __init__(self, wanted, values_file, offsets_file):
        self.wanted, self.values_file, self.offsets_file = wanted, values_file, offsets_file
        self.wanted_array = pa.array(list(wanted), type=pa.string())
        self.rows = self.tokens = self.longest = 0
        self.shortest = self.first_empty = None
        self.largest, self.smallest = -1, 0
        self.in_wanted, self.found, self.examples = [], set(), []
        np.zeros(1, dtype=np.int64).tofile(offsets_file)  # the first sequence starts at 0

    def columns(self, parquet):
        if not self.wanted:
            return [IDS_COLUMN]
        has_source = SOURCE_COLUMN in parquet.schema_arrow.names
        return [IDS_COLUMN, SOURCE_COLUMN if has_source else ID_COLUMN]

    def add(self, batch):
        column = batch.column(IDS_COLUMN)
        offsets = column.offsets.to_numpy().astype(np.int64)
        lengths = np.diff(offsets)
        values = column.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
        values.astype(np.int32, copy=False).tofile(self.values_file)
        (self.tokens + np.cumsum(lengths)).tofile(self.offsets_file)
        if len(lengths):
            shortest = int(lengths.min())
            self.shortest = shortest if self.shortest is None else min(self.shortest, shortest)
            self.longest = max(self.longest, int(lengths.max()))
            if self.first_empty is None and shortest == 0:
                self.first_empty = self.rows + int(np.argmax(lengths == 0))
        if len(values):
            self.largest = max(self.largest, int(values.max()))
            self.smallest = min(self.smallest, int(values.min()))
        if self.wanted:
            self._mark_wanted(row_sources(batch))
        self.rows += len(lengths)
        self.tokens += int(lengths.sum())

    def _mark_wanted(self, sources):
        """Which rows of the batch come from a wanted record; done on the batch's dictionary."""
        names = sources.dictionary
        wanted_names = pc.is_in(names, value_set=self.wanted_array).to_numpy(zero_copy_only=False)
        codes = sources.indices.to_numpy(zero_copy_only=False)
        self.in_wanted.append(wanted_names[codes] if len(names) else np.zeros(len(codes), bool))
        used = np.unique(codes)
        self.found.update(names.take(pa.array(used[wanted_names[used]])).to_pylist())
        if len(self.examples) < RECORDS_NAMED_IN_ERRORS:
            for name in names.take(pa.array(used[: RECORDS_NAMED_IN_ERRORS])).to_pylist():
                if name not in self.examples and len(self.examples) < RECORDS_NAMED_IN_ERRORS:
                    self.examples.append(name)

    def stats(self):
        return LengthStats(self.rows, self.tokens, self.shortest or 0, self.longest)

    def source_index(self):
        in_wanted = np.concatenate(self.in_wanted) if self.in_wanted else np.zeros(0, bool)
        return SourceIndex(self.wanted, in_wanted, self.found, self.examples)


def first_ids(path, count=FIRST_IDS_FOR_FINGERPRINT):
    """The ids of the table's first ``count`` rows (what a run's fingerprint remembers)."""
    parquet, _ = open_token_table(path)
    for batch in parquet.iter_batches(batch_size=count, columns=[ID_COLUMN]):
        return batch.column(0).to_pylist()
    return []


def check_fits_model(data, config, source):
    """Every token id must exist in the model's vocabulary, every sequence fit its context.

    The table's extreme ids and lengths were gathered while reading it; only a
    failure looks for the first row at fault.
    """
    vocab_size = config.vocab_size
    if data.largest_id >= vocab_size or data.smallest_id < 0:
        sequences = data.sequences
        position = sequences.first_token_where(lambda ids: (ids >= vocab_size) | (ids < 0))
        row = sequences.sequence_of_token(position)
        raise DnalmError(
            f"{source}: record '{data.row_id(row)}' has token id "
            f"{sequences.values[position : position + 1][0]}, outside the "
            f"model's vocabulary of {vocab_size} (was it tokenized with another tokenizer?)"
        )
    limit = getattr(config, "max_position_embeddings", None)
    if limit and data.lengths.longest > limit:
        lengths = data.sequences.lengths()
        row = int(np.argmax(lengths > limit))
        raise DnalmError(
            f"{source}: record '{data.row_id(row)}' has {lengths[row]} tokens, more than the "
            f"model's {limit} positions; tokenize shorter windows"
        )
