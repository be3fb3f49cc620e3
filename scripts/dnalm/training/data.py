"""The training data: token ids from a token table, checked and split 80/20.

The token ids stay in two flat NumPy arrays (every id, and where each sequence
starts), 4 bytes a token, instead of one Python list per sequence (~36 bytes a
token): memory grows by a few megabytes per 100,000 windows, not hundreds.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from dnalm.errors import DnalmError
from dnalm.io.token_table import ID_COLUMN, IDS_COLUMN, open_token_table
from dnalm.tokenization.loading import tokenizer_from_json


class TokenSequences:
    """Sequences of token ids in one flat array; ``sequences[i]`` is a view, not a copy."""

    def __init__(self, values, offsets):
        self.values = np.asarray(values)
        self.offsets = np.asarray(offsets)

    def __len__(self):
        return len(self.offsets) - 1

    def __getitem__(self, index):
        return self.values[self.offsets[index] : self.offsets[index + 1]]

    def lengths(self):
        return np.diff(self.offsets)

    def sequence_of_token(self, position):
        """Index of the sequence holding the token at flat ``position``."""
        return int(np.searchsorted(self.offsets, position, side="right") - 1)


@dataclass
class TokenData:
    """All sequences of a token table, with the tokenizer that made them."""

    ids: list  # record ids, input order
    sequences: TokenSequences
    tokenizer_json: str

    @property
    def tokenizer(self):
        return tokenizer_from_json(self.tokenizer_json, source="the token table's tokenizer")

    def lengths(self):
        return self.sequences.lengths()


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
        return np.array([len(self.sequences[i]) for i in self.indices])


def read_token_data(path, batch_rows=65_536):
    """Read ``id`` and ``input_ids`` of a token table made by ``dnalm tokenize``.

    Read in batches of rows, each copied into NumPy: at most two copies of the
    token ids are ever in memory (the batches, then the joined array).
    """
    parquet, tokenizer_json = open_token_table(path)
    ids, values, lengths = [], [], []
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=[ID_COLUMN, IDS_COLUMN]):
            column = batch.column(IDS_COLUMN)
            offsets = column.offsets.to_numpy()
            lengths.append(np.diff(offsets))
            values.append(column.flatten().to_numpy().astype(np.int32, copy=True))
            ids.extend(batch.column(ID_COLUMN).to_pylist())
    except (OSError, pa.ArrowInvalid) as error:
        raise DnalmError(f"{path} is not a readable Parquet file: {error}") from None
    lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = np.concatenate(values) if values else np.zeros(0, dtype=np.int32)
    sequences = TokenSequences(values, offsets)
    empty = np.flatnonzero(lengths == 0)
    if len(empty):
        raise DnalmError(f"{path}: record '{ids[empty[0]]}' has no tokens")
    if len(sequences) < 2:
        raise DnalmError(f"{path} holds {len(sequences)} sequence(s): at least 2 are needed")
    return TokenData(ids, sequences, tokenizer_json)


def check_fits_model(data, config, source):
    """Every token id must exist in the model's vocabulary, every sequence fit its context."""
    vocab_size = config.vocab_size
    values = data.sequences.values
    outside = (values >= vocab_size) | (values < 0)
    if outside.any():
        position = int(np.argmax(outside))
        record_id = data.ids[data.sequences.sequence_of_token(position)]
        raise DnalmError(
            f"{source}: record '{record_id}' has token id {values[position]}, outside the "
            f"model's vocabulary of {vocab_size} (was it tokenized with another tokenizer?)"
        )
    limit = getattr(config, "max_position_embeddings", None)
    lengths = data.lengths()
    if limit and lengths.max() > limit:
        index = int(np.argmax(lengths > limit))
        raise DnalmError(
            f"{source}: record '{data.ids[index]}' has {lengths[index]} tokens, more than the "
            f"model's {limit} positions; tokenize shorter windows"
        )


def split_train_validation(sequences, validation_fraction=0.2, seed=42):
    """A seeded random split, like the tutorial's ``train_test_split(test_size=0.2)``."""
    if not 0 < validation_fraction < 1:
        raise DnalmError(f"--validation-fraction must be between 0 and 1, not {validation_fraction}")
    order = np.random.default_rng(seed).permutation(len(sequences))
    n_validation = max(1, round(len(sequences) * validation_fraction))
    if n_validation >= len(sequences):
        raise DnalmError(f"{len(sequences)} sequences leave none for training")
    return SequenceDataset(sequences, order[n_validation:]), SequenceDataset(sequences, order[:n_validation])
