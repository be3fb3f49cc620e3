"""Which rows of the token data train and which validate: a seeded random fraction, or
every row of some held-out records (contigs), with an optional cap on the validation set.

Training and validation are arrays of row indices into the token files: a split,
a cap on the validation set or a shuffle moves indices, never token ids.
"""

from dataclasses import dataclass

import numpy as np

from dnalm.errors import DnalmError
from dnalm.training.token_data import RECORDS_NAMED_IN_ERRORS


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
