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

from dnalm.errors import DnalmError
from dnalm.io.sequences import (
    DEFAULT_COLUMNS,
    checked_sequence,
    detect_format,
    fasta_entries,
    open_text,
)
from dnalm.io.tables import delimiter_of, read_table

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
            rows = _fasta_rows(stream, path, require_labels)
        else:
            rows = _table_rows(stream, path, input_format, sequence_column, label_column,
                               id_column, require_labels)
        ids, sequences, labels = [], [], []
        for record_id, sequence, label, number in rows:
            ids.append(record_id)
            sequences.append(checked_sequence(sequence, record_id, number))
            labels.append(label)
    if not sequences:
        raise DnalmError(f"{path} has no rows: no sequences to read")
    return LabelledSequences(str(path), ids, sequences, labels)


def _table_rows(stream, path, input_format, sequence_column, label_column, id_column,
                require_labels):
    """Yield ``(id, sequence, label or None, row number)`` of a CSV/TSV."""
    table = read_table(stream, path, delimiter_of(input_format))
    sequence_index = table.column([sequence_column] if sequence_column else DEFAULT_COLUMNS,
                                  "sequence")
    id_index = table.column([id_column], "id") if id_column else None
    label_index = None
    if label_column and (label_column in table.header or require_labels):
        label_index = table.column([label_column], "label")
    for row in table.rows:
        record_id = row.cells[id_index].strip() if id_index is not None else str(row.number)
        label = row.cells[label_index].strip() if label_index is not None else None
        if label_index is not None and not label:
            raise DnalmError(f"{path} row {row.number} ('{record_id}') has an empty label in "
                             f"column '{label_column}'")
        yield record_id, row.cells[sequence_index].strip(), label, row.number


def _fasta_rows(stream, path, require_labels):
    """Yield ``(id, sequence, label or None, record number)``: the label is a header word."""
    for entry in fasta_entries(stream, path):
        found = FASTA_LABEL.search(entry.header)
        if found is None and require_labels:
            raise DnalmError(
                f"{path} record '{entry.id}' (record {entry.number}) has no label: write it in "
                "the header as a word 'label=VALUE', e.g. '>seq1 label=promoter'"
            )
        yield entry.id, entry.sequence, found.group(1) if found else None, entry.number


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


def token_ids(data, tokenizer, max_positions):
    """Token ids with the tokenizer's special tokens; a sequence beyond the context is an error."""
    ids_per_sequence = [encoding.ids for encoding in tokenizer.encode_batch(data.sequences)]
    if max_positions:
        for record_id, ids in zip(data.ids, ids_per_sequence):
            if len(ids) > max_positions:
                raise DnalmError(f"{data.source} record '{record_id}' has {len(ids)} tokens, more "
                                 f"than the model's context of {max_positions}")
    return ids_per_sequence
