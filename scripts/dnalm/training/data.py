"""The training data: token ids from a token table, checked and split 80/20."""

from dataclasses import dataclass

import numpy as np
import torch

from dnalm.errors import DnalmError
from dnalm.io.token_table import ID_COLUMN, IDS_COLUMN, read_token_table
from dnalm.tokenization.loading import tokenizer_from_json


@dataclass
class TokenData:
    """All sequences of a token table, with the tokenizer that made them."""

    ids: list  # record ids, input order
    sequences: list  # one list of token ids per record
    tokenizer_json: str

    @property
    def tokenizer(self):
        return tokenizer_from_json(self.tokenizer_json, source="the token table's tokenizer")

    def lengths(self):
        return np.array([len(sequence) for sequence in self.sequences])


class SequenceDataset(torch.utils.data.Dataset):
    """What ``Trainer`` iterates over: ``{"input_ids": [...]}`` per sequence."""

    def __init__(self, sequences):
        self.sequences = sequences

    def __len__(self):
        return len(self.sequences)

    def __getitem__(self, index):
        return {"input_ids": self.sequences[index]}

    def num_tokens(self):
        return sum(len(sequence) for sequence in self.sequences)


def read_token_data(path):
    """Read ``id`` and ``input_ids`` of a token table made by ``dnalm tokenize``."""
    table, tokenizer_json = read_token_table(path, columns=[ID_COLUMN, IDS_COLUMN])
    sequences = table.column(IDS_COLUMN).to_pylist()
    ids = table.column(ID_COLUMN).to_pylist()
    for record_id, sequence in zip(ids, sequences):
        if not sequence:
            raise DnalmError(f"{path}: record '{record_id}' has no tokens")
    if len(sequences) < 2:
        raise DnalmError(f"{path} holds {len(sequences)} sequence(s): at least 2 are needed")
    return TokenData(ids, sequences, tokenizer_json)


def check_fits_model(data, config, source):
    """Every token id must exist in the model's vocabulary, every sequence fit its context."""
    vocab_size = config.vocab_size
    limit = getattr(config, "max_position_embeddings", None)
    for record_id, sequence in zip(data.ids, data.sequences):
        biggest = max(sequence)
        if biggest >= vocab_size or min(sequence) < 0:
            bad = biggest if biggest >= vocab_size else min(sequence)
            raise DnalmError(
                f"{source}: record '{record_id}' has token id {bad}, outside the "
                f"model's vocabulary of {vocab_size} (was it tokenized with another tokenizer?)"
            )
        if limit and len(sequence) > limit:
            raise DnalmError(
                f"{source}: record '{record_id}' has {len(sequence)} tokens, more than the "
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
    validation = [sequences[i] for i in order[:n_validation]]
    train = [sequences[i] for i in order[n_validation:]]
    return SequenceDataset(train), SequenceDataset(validation)
