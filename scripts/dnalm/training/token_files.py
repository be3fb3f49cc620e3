"""Token ids laid end to end in a flat file, read a sequence at a time.

``TokenSequences`` is what a pretraining run holds of its corpus: every token id
in an unlinked scratch file (``TokenIdsFile``), read with ``pread`` when a batch
asks for a sequence, and the index of where each sequence starts, memory-mapped
with read-ahead off (``mapped_array``). ``SequenceDataset`` hands the Trainer the
sequences of a split.

Why the ids are read, not mapped: a mapped page counts as the process's memory,
and the kernel maps whole page-cache folios (up to megabytes) around each page
read, so a memory-mapped corpus's resident pages grew with its size (65 MB for
the 2,168 windows a short run read from a 240 Mbp genome).
"""

import mmap
import os

import numpy as np
import torch


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


def mapped_array(filename, dtype):
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
