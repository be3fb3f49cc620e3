"""The datasets of a fine-tuning run: the training, validation and test tables, read as
``LabelledSequences`` (``dnalm.io.labelled_sequences``), with a validation set held out of
the training rows where none is given."""

import numpy as np

from dnalm.errors import DnalmError
from dnalm.io.labelled_sequences import DEFAULT_LABEL_COLUMN, LabelledSequences, read_labelled


def read_datasets(train, validation=None, test=None, sequence_column=None,
                  label_column=DEFAULT_LABEL_COLUMN, validation_fraction=0.1, seed=42):
    """``{"train", "validation"[, "test"]: LabelledSequences}`` of the given tables.

    Without a validation table, ``validation_fraction`` of the training rows is
    held out (seeded); the test set is only there when a table is given.
    """
    def read(path):
        return read_labelled(path, sequence_column=sequence_column, label_column=label_column)

    train_set = read(train)
    validation_set = read(validation) if validation else None
    test_set = read(test) if test else None
    if validation_set is None:
        train_set, validation_set = split_validation(train_set, validation_fraction, seed)
    datasets = {"train": train_set, "validation": validation_set}
    if test_set is not None:
        datasets["test"] = test_set
    return datasets


def split_validation(data, fraction, seed):
    """``(train, validation)``: a seeded random ``fraction`` of the rows held out, order kept."""
    order = np.random.default_rng(seed).permutation(len(data))
    held_out = max(1, int(round(len(data) * fraction)))
    if held_out >= len(data):
        raise DnalmError(f"{data.source} has too few rows ({len(data)}) to hold some out for validation")

    def subset(positions):
        positions = sorted(positions)
        return LabelledSequences(data.source, [data.ids[i] for i in positions],
                                 [data.sequences[i] for i in positions],
                                 [data.labels[i] for i in positions])

    return subset(order[held_out:]), subset(order[:held_out])
