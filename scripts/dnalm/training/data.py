"""The training data: a token table's ids in two scratch files, checked, and split by index.

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

Why the ids are read, not mapped: a mapped page counts as the process's memory,
and the kernel maps whole page-cache folios (up to megabytes) around each page
read, so a memory-mapped corpus's resident pages grew with its size (65 MB for
the 2,168 windows a short run read from a 240 Mbp genome).

Training and validation are arrays of row indices into these files: a split,
a cap on the validation set or a shuffle moves indices, never token ids.

Why not the memory-mapped cache of ``datasets``: it would convert the Parquet
file into an Arrow cache just as large, then hand out every row through its
formatting layer (Python lists, or a NumPy conversion per row), where reading
a window's ids costs one system call; and ``datasets`` is not otherwise a
dependency of dnalm (only of the tutorial recipe in ``bench/``).
"""

import mmap
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

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

FIRST_IDS_FOR_FINGERPRINT = 100
RECORDS_NAMED_IN_ERRORS = 10


class TokenIdsFile:
    """Token ids (int32) in an open file, read a slice at a time with ``pread``.

    ``pread`` names its own position, so processes sharing the file (data loader
    workers) never move each other's.
    """

    itemsize = np.dtype(np.int32).itemsize

    def __init__(self, file):
        self.file = file  # an open binary file; it is closed when this object goes
        self.length = os.fstat(file.fileno()).st_size // self.itemsize

    def __len__(self):
        return self.length

    def __getitem__(self, key):
        start, stop, _ = key.indices(self.length)
        ids = np.empty(max(stop - start, 0), np.int32)  # writable, as torch.as_tensor wants
        os.preadv(self.file.fileno(), [ids], start * self.itemsize)
        return ids

    def chunks(self, size=1 << 20):
        """``(start, ids)`` for consecutive pieces of ``size`` ids: one pass over the file."""
        for start in range(0, self.length, size):
            yield start, self[start : start + size]


class TokenSequences:
    """Sequences of token ids laid end to end; ``sequences[i]`` is the i-th one's ids.

    ``values`` holds every id (a ``TokenIdsFile``), ``offsets`` where each
    sequence starts, with the end of the last one after them.
    """

    def __init__(self, values, offsets):
        self.values = values
        self.offsets = np.asarray(offsets)

    def __len__(self):
        return len(self.offsets) - 1

    def __getitem__(self, index):
        return self.values[self.offsets[index] : self.offsets[index + 1]]

    def lengths(self, indices=None):
        """Tokens per sequence (of ``indices`` only, when given)."""
        if indices is None:
            return np.diff(self.offsets)
        indices = np.asarray(indices)
        return self.offsets[indices + 1] - self.offsets[indices]

    def first_token_where(self, condition):
        """Flat position of the first id for which ``condition(ids)`` holds, or None."""
        for start, ids in self.values.chunks():
            hits = np.flatnonzero(condition(ids))
            if len(hits):
                return start + int(hits[0])
        return None

    def sequence_of_token(self, position):
        """Index of the sequence holding the token at flat ``position``."""
        return int(np.searchsorted(self.offsets, position, side="right") - 1)


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


class SequenceDataset(torch.utils.data.Dataset):
    """What ``Trainer`` iterates over: ``{"input_ids": ids}`` per sequence.

    ``sequences`` is a ``TokenSequences`` or a list of lists; ``indices`` picks
    and orders the ones this dataset holds (all, by default).
    """

    def __init__(self, sequences, indices=None):
        self.sequences = sequences
        self.indices = np.arange(len(sequences)) if indices is None else np.asarray(indices)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return {"input_ids": self.sequences[self.indices[index]]}

    def lengths(self):
        if isinstance(self.sequences, TokenSequences):
            return self.sequences.lengths(self.indices)
        return np.array([len(self.sequences[i]) for i in self.indices])


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
        offsets = _mapped(offsets_file.name, np.int64)
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


def _mapped(filename, dtype):
    """The file as a copy-on-write array: pages are read on demand, writes never reach the file.

    Access is declared random (batches read sequences scattered over the file), so
    the kernel reads no more than the pages asked for.
    """
    if os.path.getsize(filename) == 0:
        return np.zeros(0, dtype=dtype)
    with open(filename, "rb") as handle:
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
    if hasattr(mapping, "madvise"):  # Linux and macOS
        mapping.madvise(mmap.MADV_RANDOM)
    return np.frombuffer(mapping, dtype=dtype)


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


@dataclass
class Split:
    """Row indices for training and validation, and how they were chosen (for the report)."""

    train: np.ndarray
    validation: np.ndarray
    description: str  # "random 20% of the sequences" or "held-out records chrXV, chrXVI"
    held_out: int  # validation rows before the cap


def split_train_validation(data, validation_fraction=0.2, seed=42, validation_contigs=(),
                           max_validation=0):
    """Hold out the rows of ``validation_contigs``, or a seeded random fraction; cap the validation.

    The random split is the tutorial's ``train_test_split(test_size=0.2)``
    (seeded). Held-out records keep every window of a contig out of training,
    so neighbouring windows cannot leak between the two. ``max_validation``
    (0: no cap) keeps a seeded random subset of the validation rows; the others
    are not used for training either.
    """
    n = len(data.sequences)
    if validation_contigs:
        train, validation = contig_split(data, validation_contigs)
        names = ", ".join(validation_contigs)
        description = f"held-out records {names}"
    else:
        train, validation = random_split(n, validation_fraction, seed)
        description = f"random {validation_fraction * 100:g}% of the sequences (seed {seed})"
    held_out = len(validation)
    validation = cap_validation(validation, max_validation, seed)
    if len(validation) < held_out:
        description += f", {len(validation):,} of their {held_out:,} sequences validated"
    return Split(train, validation, description, held_out)


def random_split(n, validation_fraction=0.2, seed=42):
    """``(train, validation)`` row indices: a seeded permutation, its head for validation."""
    if not 0 < validation_fraction < 1:
        raise DnalmError(f"--validation-fraction must be between 0 and 1, not {validation_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_validation = max(1, round(n * validation_fraction))
    if n_validation >= n:
        raise DnalmError(f"{n} sequences leave none for training")
    return order[n_validation:], order[:n_validation]


def contig_split(data, contigs):
    """``(train, validation)`` row indices: validation holds the rows whose source is in ``contigs``.

    ``data`` must have been read with ``sources=contigs``.
    """
    index = data.sources
    missing = [name for name in contigs if name not in index.found]
    if missing:
        more = ", ..." if len(index.examples) == RECORDS_NAMED_IN_ERRORS else ""
        raise DnalmError(
            f"--validation-contigs: {', '.join(missing)} not in {data.path.name} "
            f"(its records: {', '.join(index.examples)}{more})")
    validation = np.flatnonzero(index.in_wanted)
    if len(validation) == len(index.in_wanted):
        raise DnalmError(f"--validation-contigs {', '.join(contigs)} hold every sequence of "
                         f"{data.path.name}: none is left for training")
    return np.flatnonzero(~index.in_wanted), validation


def cap_validation(validation, max_validation, seed=42):
    """At most ``max_validation`` of the rows (0: all), a seeded sample kept in table order."""
    if not max_validation or len(validation) <= max_validation:
        return validation
    chosen = np.random.default_rng(seed).choice(len(validation), max_validation, replace=False)
    return np.sort(np.asarray(validation)[chosen])
