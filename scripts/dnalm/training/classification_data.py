"""Labelled DNA sequences for classification: read them, name the classes, check the labels.

Inputs:

* CSV/TSV with a header, a sequence column (default: ``sequence``, ``text`` or
  ``seq``) and a label column (default: ``label``), as GUE's ``sequence,label``;
* FASTA whose header carries the label as a ``label=VALUE`` word, e.g.
  ``>chr1:100-201 label=promoter`` (a word, so ids with ``|`` or ``:`` stay ids).

Labels are text: ``0``/``1``, ``promoter``/``enhancer``... The classes are the
training set's distinct labels, in numeric order when every label is an
integer (``2`` before ``10``), otherwise in alphabetical order; their order is
what the model's ``id2label`` stores.
"""

import re
from dataclasses import dataclass

import numpy as np

from dnalm.errors import DnalmError
from dnalm.io.sequences import (
    DEFAULT_COLUMNS,
    checked_sequence,
    detect_format,
    open_text,
    table_rows,
)

DEFAULT_LABEL_COLUMN = "label"
FASTA_LABEL = re.compile(r"(?:^|\s)label=(\S+)")
UNNAMED_CLASS = re.compile(r"^LABEL_(\d+)$")  # what transformers calls classes nobody named


@dataclass
class LabelledSequences:
    """Sequences in input order, each with its id and label (``None`` when unlabelled)."""

    source: str
    ids: list
    sequences: list
    labels: list

    def __len__(self):
        return len(self.sequences)

    @property
    def has_labels(self):
        return bool(self.labels) and all(label is not None for label in self.labels)


def read_labelled(path, sequence_column=None, label_column=DEFAULT_LABEL_COLUMN,
                  id_column=None, input_format=None, require_labels=True):
    """Read ``path`` (CSV/TSV/FASTA, gzip or not) into ``LabelledSequences``.

    With ``require_labels`` a missing label column or an empty label is an
    error naming the row; without it, unlabelled input gives ``labels`` of ``None``.
    """
    input_format = input_format or detect_format(path, sequence_column)
    if input_format not in ("csv", "tsv", "fasta"):
        raise DnalmError(
            f"{path} is neither CSV, TSV nor FASTA: give a table with a header line "
            f"(columns such as sequence,label) or a FASTA with 'label=VALUE' in the headers"
        )
    with open_text(path) as stream:
        if input_format == "fasta":
            ids, sequences, labels = _read_fasta(stream, path, require_labels)
        else:
            ids, sequences, labels = _read_table(
                stream, path, "\t" if input_format == "tsv" else ",", sequence_column,
                label_column, id_column, require_labels)
    if not sequences:
        raise DnalmError(f"{path} has no rows: no sequences to read")
    return LabelledSequences(str(path), ids, sequences, labels)


def _read_table(stream, path, delimiter, sequence_column, label_column, id_column, require_labels):
    reader = table_rows(stream, delimiter)
    header = [name.strip() for name in next(reader, [])]
    sequence_index = _column(header, [sequence_column] if sequence_column else DEFAULT_COLUMNS,
                             path, "sequence")
    id_index = _column(header, [id_column], path, "id") if id_column else None
    label_index = None
    if label_column and (label_column in header or require_labels):
        label_index = _column(header, [label_column], path, "label")
    ids, sequences, labels = [], [], []
    for number, row in enumerate(reader, start=1):
        if not row:
            continue
        if len(row) < len(header):
            raise DnalmError(f"{path} row {number} has {len(row)} fields but the header has {len(header)}")
        record_id = row[id_index].strip() if id_index is not None else str(number)
        label = row[label_index].strip() if label_index is not None else None
        if label_index is not None and not label:
            raise DnalmError(f"{path} row {number} ('{record_id}') has an empty label in column '{label_column}'")
        ids.append(record_id)
        sequences.append(checked_sequence(row[sequence_index].strip(), record_id, number))
        labels.append(label)
    return ids, sequences, labels


def _column(header, candidates, path, role):
    for name in candidates:
        if name in header:
            return header.index(name)
    wanted = " or ".join(f"'{name}'" for name in candidates)
    raise DnalmError(f"{path} has no {role} column {wanted} (columns: {', '.join(header) or 'none'})")


def _read_fasta(stream, path, require_labels):
    ids, sequences, labels, chunks, header = [], [], [], [], None

    def finish():
        number = len(ids) + 1
        record_id = header.split(maxsplit=1)[0] if header.strip() else f"record{number}"
        found = FASTA_LABEL.search(header)
        if found is None and require_labels:
            raise DnalmError(
                f"{path} record '{record_id}' (record {number}) has no label: write it in the "
                "header as a word 'label=VALUE', e.g. '>seq1 label=promoter'"
            )
        ids.append(record_id)
        sequences.append(checked_sequence("".join(chunks), record_id, number))
        labels.append(found.group(1) if found else None)

    for line_number, line in enumerate(stream, start=1):
        line = line.strip()
        if line.startswith(">"):
            if header is not None:
                finish()
            header, chunks = line[1:], []
        elif line:
            if header is None:
                raise DnalmError(f"{path} line {line_number}: sequence text before the first '>' header")
            chunks.append(line)
    if header is not None:
        finish()
    return ids, sequences, labels


def class_names(labels, source):
    """The distinct labels in class order; refuse a single class."""
    distinct = set(labels)
    if len(distinct) < 2:
        only = next(iter(distinct), "none")
        raise DnalmError(
            f"{source} has only one class ('{only}'): a classifier needs at least two labels"
        )
    if all(re.fullmatch(r"-?\d+", label) for label in distinct):
        return sorted(distinct, key=int)
    return sorted(distinct)


def class_indices(labels, id2label, source, model_source="the model"):
    """Each label's class index, matched by name, or by index where classes are unnamed.

    transformers names classes nobody named ``LABEL_0``, ``LABEL_1``...; such a
    model (Mistral-DNA's checkpoints) reads the labels ``0``, ``1``... as indices.
    """
    by_name = {str(name): int(index) for index, name in id2label.items()}
    for index, name in id2label.items():
        unnamed = UNNAMED_CLASS.match(str(name))
        if unnamed and int(unnamed.group(1)) == int(index):
            by_name.setdefault(str(index), int(index))
    indices = []
    for number, label in enumerate(labels, start=1):
        if label not in by_name:
            known = ", ".join(str(id2label[i]) for i in sorted(id2label, key=int))
            raise DnalmError(
                f"{source} row {number} has the label '{label}', which is not one of the classes "
                f"of {model_source} ({known})"
            )
        indices.append(by_name[label])
    return indices


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


def token_ids(data, tokenizer, max_positions):
    """Token ids with the tokenizer's special tokens; a sequence beyond the context is an error."""
    ids_per_sequence = [encoding.ids for encoding in tokenizer.encode_batch(data.sequences)]
    if max_positions:
        for record_id, ids in zip(data.ids, ids_per_sequence):
            if len(ids) > max_positions:
                raise DnalmError(f"{data.source} record '{record_id}' has {len(ids)} tokens, more "
                                 f"than the model's context of {max_positions}")
    return ids_per_sequence
