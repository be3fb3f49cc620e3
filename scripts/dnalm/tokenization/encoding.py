"""Stream sequences through a Rust tokenizer into a token table (Parquet).

Sequences are encoded in batches with ``Tokenizer.encode_batch_fast`` (the
Rust library spreads a batch over all cores and skips the character offsets we
do not need), one batch ahead of Python's reading and writing, and each batch
is written as one Parquet row group, so memory stays flat however large the
input. Ids are those of
``transformers.PreTrainedTokenizerFast`` on the same ``tokenizer.json``,
truncation included: ``[CLS]``, the first ``max_length - 2`` tokens, ``[SEP]``.

``TokenizeCounts`` gathers what the summary reports; it keeps a histogram of
token counts, not one number per sequence, so it too stays small.
"""

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from tokenizers import Tokenizer

from dnalm.errors import DnalmError
from dnalm.io.model_tokenizers import dna_tokenizer
from dnalm.io.token_table import (
    ID_COLUMN,
    IDS_COLUMN,
    SOURCE_COLUMN,
    SOURCE_TYPE,
    TokenTableWriter,
    sources_from_ids,
)
from dnalm.tokenization.special_tokens import UNK

LENGTH_COLUMN = "length_bp"
EXTRA_FIELDS = (pa.field(LENGTH_COLUMN, pa.int32()), pa.field(SOURCE_COLUMN, SOURCE_TYPE))
BATCH_SEQUENCES = 8192
BATCH_BASES = 4_000_000  # also flush early for long records, whatever their number


@dataclass
class TokenizeCounts:
    sequences: int = 0
    bases: int = 0
    tokens: int = 0  # all ids written, special tokens included
    special_tokens: int = 0  # [CLS], [SEP] and the like: they cover no bases
    unknown_tokens: int = 0
    truncated: int = 0
    duplicate_ids: int = 0  # rows whose id was seen on an earlier row
    # {number of tokens: number of sequences with that many}
    tokens_per_sequence: Counter = field(default_factory=Counter)
    # {length in bp: number of sequences that long}: says which k-mer cuts leave a short tail
    bp_per_sequence: Counter = field(default_factory=Counter)

    def add_token_counts(self, lengths):
        _add_histogram(self.tokens_per_sequence, lengths)

    def add_base_counts(self, lengths_bp):
        _add_histogram(self.bp_per_sequence, lengths_bp)


def _add_histogram(histogram, values):
    values, frequencies = np.unique(values, return_counts=True)
    histogram.update(dict(zip(values.tolist(), frequencies.tolist())))


def tokenize_to_table(records, tokenizer, out_path, max_length=None):
    """Tokenize ``records`` (``SequenceRecord``s or ``Window``s) into the token table ``out_path``.

    A record's ``source`` (a window's record) goes into the ``source`` column;
    records without one get it from their ids (``token_table.sources_from_ids``).

    The table stores ``tokenizer``'s JSON as it is, without the truncation
    setting, so later tools see the vocabulary and not how this run cut it.
    Returns ``TokenizeCounts``.
    """
    tokenizer_json = tokenizer.to_str()
    if max_length is not None:
        if max_length < tokenizer.num_special_tokens_to_add(False) + 1:
            raise DnalmError(f"--max-length {max_length} leaves no room for any DNA token")
        # a copy, so the caller's is left untouched; wrapped again as DNA needs (DNABERT-1 k-mers)
        tokenizer = dna_tokenizer(Tokenizer.from_str(tokenizer_json))
        tokenizer.enable_truncation(max_length)
    unk_id = tokenizer.token_to_id(getattr(tokenizer.model, "unk_token", None) or UNK)
    special_ids = np.array(
        [i for i, token in tokenizer.get_added_tokens_decoder().items() if token.special and i != unk_id],
        dtype=np.int32,
    )
    counts = TokenizeCounts()
    id_hashes = []
    with TokenTableWriter(out_path, tokenizer_json, EXTRA_FIELDS) as writer:
        for ids, sequences, sources, encodings in _encoded_ahead(_batches(records), tokenizer):
            token_lists = [encoding.ids for encoding in encodings]
            lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
            flat = np.fromiter(
                itertools.chain.from_iterable(token_lists), dtype=np.int32, count=int(lengths.sum())
            )
            offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
            np.cumsum(lengths, out=offsets[1:])
            length_bp = np.fromiter(map(len, sequences), dtype=np.int32, count=len(sequences))
            id_array = pa.array(ids, type=pa.string())
            writer.write(
                {
                    ID_COLUMN: id_array,
                    IDS_COLUMN: pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat)),
                    LENGTH_COLUMN: pa.array(length_bp),
                    SOURCE_COLUMN: sources_from_ids(id_array) if sources[0] is None
                    else pa.array(sources, type=pa.string()).dictionary_encode(),
                }
            )
            counts.sequences += len(sequences)
            counts.bases += int(length_bp.sum())
            counts.tokens += len(flat)
            counts.unknown_tokens += int(np.count_nonzero(flat == unk_id))
            counts.special_tokens += int(np.count_nonzero(np.isin(flat, special_ids)))
            if max_length is not None:
                at_limit = np.flatnonzero(lengths == max_length)
                counts.truncated += sum(1 for i in at_limit if encodings[i].overflowing)
            counts.add_token_counts(lengths)
            counts.add_base_counts(length_bp)
            id_hashes.append(np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids)))
    if id_hashes:
        # 8 bytes per row instead of a set of strings; a 64-bit collision is negligible.
        counts.duplicate_ids = counts.sequences - len(np.unique(np.concatenate(id_hashes)))
    return counts


def _encoded_ahead(batches, tokenizer):
    """Yield ``(ids, sequences, sources, encodings)`` per batch, encoding one batch ahead.

    The Rust encoder releases the GIL, so while it works on batch k+1 (on all
    cores) Python reads the batch after and writes batch k to Parquet.
    """
    with ThreadPoolExecutor(max_workers=1) as encoder:
        waiting = None
        for ids, sequences, sources in batches:
            encoding = encoder.submit(tokenizer.encode_batch_fast, sequences)
            if waiting is not None:
                yield *waiting[:3], waiting[3].result()
            waiting = (ids, sequences, sources, encoding)
        if waiting is not None:
            yield *waiting[:3], waiting[3].result()


def _batches(records):
    """Group records into ``(ids, sequences, sources)`` lists bounded by count and by bases."""
    ids, sequences, sources, bases = [], [], [], 0
    for record in records:
        ids.append(record.id)
        sequences.append(record.sequence)
        sources.append(getattr(record, "source", None))
        bases += len(record.sequence)
        if len(sequences) >= BATCH_SEQUENCES or bases >= BATCH_BASES:
            yield ids, sequences, sources
            ids, sequences, sources, bases = [], [], [], 0
    if sequences:
        yield ids, sequences, sources

