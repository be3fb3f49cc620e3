"""Pack tokenized sequences into full rows instead of padding each to the longest.

A batch of sequences is laid end to end in a few rows of at most ``row_length``
tokens. Sequences stay independent, exactly as if each had its own row:

* ``position_ids`` restart at 0 at each sequence. With no ``attention_mask``,
  transformers reads the restarts as packed sequences
  (``masking_utils.find_packed_sequence_indices``) and builds a block-diagonal
  causal mask for SDPA and eager attention, so no token attends across a
  boundary; rotary positions are each sequence's own.
* The first token of every sequence gets the label -100. The model shifts
  labels by one, so this is the target that the previous sequence's last token
  would otherwise predict; a sequence's first token has no context in an
  unpadded row either, so the loss is the same token for token.

A row's unused tail is filled with padding that forms its own "sequence"
(positions restart there too) and carries no labels.

The collator keeps the Trainer's batch in sequences (32 sequences stay 32
sequences), so the effective batch of the optimiser is the tutorial's.

Fixed shapes (``fixed_shape_collator``): for ``torch.compile`` and CUDA graphs,
whose compiled step replays only for the shape it was made for, every batch
is padded to ``row_length`` and to a fixed number of rows, enough for the
batch with the most tokens the data can give (its ``micro`` longest
sequences). Rows of padding only carry no labels, so the loss is unchanged.

How long a row? SDPA and eager attention compute every (query, key) pair of a
row and mask the cross-sequence ones, so attention costs grow with the row
length while padding shrinks. By default rows hold twice the longest sequence
(``auto_row_length``): short sequences share rows, long ones pay little.
"""

from dataclasses import dataclass

import torch

IGNORE_INDEX = -100


@dataclass
class PackedCollator:
    """``DataCollator`` for ``Trainer``: examples ``{"input_ids": [...]}`` -> packed rows."""

    pad_token_id: int
    row_length: int = 256
    fixed_width: bool = False  # pad every row to row_length: fewer shapes for torch.compile
    fixed_rows: int = 0  # pad every batch to this many rows (0: as many as it needs)

    def __call__(self, examples):
        rows = pack_into_rows([example["input_ids"] for example in examples], self.row_length)
        if self.fixed_rows and len(rows) > self.fixed_rows:
            # Only sequences of unusual lengths get here; the new shape is compiled once more.
            print(f"note: a batch needs {len(rows)} packed rows, more than the "
                  f"{self.fixed_rows} of the compiled shape; every batch now gets {len(rows)}",
                  flush=True)
            self.fixed_rows = len(rows)
        rows += [[] for _ in range(self.fixed_rows - len(rows))]
        return rows_to_batch(rows, self.pad_token_id, self.row_length if self.fixed_width else None)


def fixed_shape_collator(pad_token_id, row_length, lengths, micro_batch):
    """A ``PackedCollator`` whose batches are all (rows x ``row_length``), rows fixed by the data.

    The rows are those that the ``micro_batch`` longest of ``lengths`` (tokens
    per sequence) pack into: the batch with the most tokens.
    """
    longest = sorted((int(n) for n in lengths), reverse=True)[:micro_batch]
    rows = len(pack_into_rows([range(n) for n in longest], row_length))
    return PackedCollator(pad_token_id, row_length, fixed_width=True, fixed_rows=rows)


def auto_row_length(lengths):
    """Twice the longest sequence, rounded up to a multiple of 8 (friendlier to kernels)."""
    return -(-2 * max(lengths) // 8) * 8


def pack_into_rows(sequences, row_length):
    """Balanced packing: a list of rows, each a list of sequences.

    Longest first, each sequence goes to the row with the most room (a new row
    when none has enough), starting from as few rows as the tokens need. Rows
    end up about equally full, so the batch, as wide as its fullest row,
    carries little padding. A sequence longer than ``row_length`` gets a row
    of its own.
    """
    total = sum(len(sequence) for sequence in sequences)
    n_rows = max(1, -(-total // row_length))
    rows, room = [[] for _ in range(n_rows)], [row_length] * n_rows
    for sequence in sorted(sequences, key=len, reverse=True):
        roomiest = max(range(len(rows)), key=room.__getitem__)
        if len(sequence) > room[roomiest] and rows[roomiest]:
            rows.append([])
            room.append(row_length)
            roomiest = len(rows) - 1
        rows[roomiest].append(sequence)
        room[roomiest] -= len(sequence)
    return [row for row in rows if row]


def rows_to_batch(rows, pad_token_id, width=None):
    """Tensors ``input_ids``, ``position_ids``, ``labels`` of shape (rows, ``width``).

    ``width`` defaults to the longest row; an empty row is all padding.
    """
    width = max([sum(len(sequence) for sequence in row) for row in rows] + [width or 0])
    input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        start = 0
        for sequence in row:
            end = start + len(sequence)
            input_ids[r, start:end] = torch.as_tensor(sequence)
            labels[r, start + 1 : end] = input_ids[r, start + 1 : end]
            position_ids[r, start:end] = torch.arange(len(sequence))
            start = end
        # Padding tail: a separate block (positions restart), never a target.
        position_ids[r, start:] = torch.arange(width - start)
    return {"input_ids": input_ids, "position_ids": position_ids, "labels": labels}

