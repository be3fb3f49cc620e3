"""From an input file to padded batches of token ids, for the model-using tools.

The steps, each a small generator so that nothing holds all the data at once:

1. ``tokenized_records``: sequences (FASTA/CSV/TSV/text) tokenized with the
   model's own tokenizer, or a tokenized Parquet checked against it.
2. ``fit_to_context``: sequences longer than the model's context are refused,
   truncated (with a warning) or split into pieces, as the user chose.
3. ``blocks``: a few thousand pieces at a time; each block is sorted by length
   into batches (little padding), run, and put back into input order.
"""

import sys
from dataclasses import dataclass

import torch

from dnalm.chunking import chunked
from dnalm.errors import DnalmError
from dnalm.io.sequences import read_sequences
from dnalm.io.token_table import is_token_table, read_token_table
from dnalm.settings import check_settings, setting

LONG_SEQUENCE_POLICIES = ("error", "truncate", "split")


@dataclass
class BatchSettings:
    """How many sequences the tools that run a model (embed, score, score-variants,
    mutagenesis) run at once."""

    batch_size: int = setting(None, "sequences per forward pass (default: 128 on a CPU, 1024 on "
                              "a GPU)", min=1)

    def __post_init__(self):
        check_settings(self)


@dataclass
class ContextSettings(BatchSettings):
    """What embed, score and score-variants do with sequences longer than the model's context."""

    long_sequences: str = setting(
        "error", "sequences longer than the model's context: stop with an error, truncate them "
        "(with a warning), or split them into pieces whose results are combined",
        choices=LONG_SEQUENCE_POLICIES)


@dataclass
class TokenizedRecord:
    index: int  # position in the input, 0-based
    id: str
    input_ids: list


@dataclass
class Piece:
    """A whole record, or one part of a record that was split to fit the context."""

    index: int  # the record's input position
    id: str
    input_ids: list
    part: int = 0
    parts: int = 1


def tokenized_records(path, tokenizer, input_format=None, column=None, id_column=None,
                      batch_size=1024, iupac_policy="error"):
    """Yield ``TokenizedRecord``s, with special tokens as the tokenizer's template adds them."""
    if is_token_table(path):
        yield from _token_table_records(path, tokenizer)
        return
    records = read_sequences(path, input_format=input_format, column=column, id_column=id_column,
                             iupac_policy=iupac_policy)
    yield from tokenize_records(records, tokenizer, batch_size)


def tokenize_records(records, tokenizer, batch_size=1024):
    """``SequenceRecord``s -> ``TokenizedRecord``s, encoding a batch at a time."""
    index = 0
    for chunk in chunked(records, batch_size):
        encodings = tokenizer.encode_batch([record.sequence for record in chunk])
        for record, encoding in zip(chunk, encodings):
            yield TokenizedRecord(index, record.id, encoding.ids)
            index += 1


def _token_table_records(path, tokenizer):
    table, table_tokenizer_json = read_token_table(path, columns=["id", "input_ids"])
    if vocabulary(table_tokenizer_json) != tokenizer.get_vocab(with_added_tokens=True):
        raise DnalmError(
            f"{path} was tokenized with a different tokenizer than the model's (the "
            "vocabularies differ): tokenize the sequences with the model's tokenizer, or give "
            "the sequences themselves"
        )
    index = 0
    for batch in table.to_batches(max_chunksize=4096):
        for record_id, ids in zip(batch.column("id").to_pylist(), batch.column("input_ids").to_pylist()):
            if not ids:
                raise DnalmError(f"{path}: record '{record_id}' has no tokens")
            yield TokenizedRecord(index, record_id, ids)
            index += 1


def vocabulary(tokenizer_json):
    """token -> id of a tokenizer JSON, added tokens included."""
    from tokenizers import Tokenizer

    return Tokenizer.from_str(tokenizer_json).get_vocab(with_added_tokens=True)


def special_token_ids(tokenizer):
    """Ids of the tokens a template adds ([CLS], [SEP], [PAD], ...), not [UNK]."""
    unknown = getattr(tokenizer.model, "unk_token", None)
    return {
        token_id
        for token_id, token in tokenizer.get_added_tokens_decoder().items()
        if token.special and token.content != unknown
    }


def fit_to_context(records, max_tokens, policy, special_ids, command):
    """Yield ``Piece``s no longer than ``max_tokens`` (None: no limit), following ``policy``."""
    if policy not in LONG_SEQUENCE_POLICIES:
        raise DnalmError(f"--long-sequences must be one of {', '.join(LONG_SEQUENCE_POLICIES)}")
    truncated = []
    for record in records:
        ids = record.input_ids
        if max_tokens is None or len(ids) <= max_tokens:
            yield Piece(record.index, record.id, ids)
            continue
        if policy == "error":
            raise DnalmError(
                f"record '{record.id}' has {len(ids)} tokens, more than the model's context of "
                f"{max_tokens}: use --long-sequences truncate or split"
            )
        head, body, tail = split_specials(ids, special_ids)
        room = max_tokens - len(head) - len(tail)
        if room < 1:
            raise DnalmError(f"the model's context ({max_tokens} tokens) is too small")
        if policy == "truncate":
            truncated.append(record.id)
            yield Piece(record.index, record.id, head + body[:room] + tail)
        else:
            parts = (len(body) + room - 1) // room
            for part in range(parts):
                chunk = body[part * room:(part + 1) * room]
                yield Piece(record.index, record.id, head + chunk + tail, part, parts)
    if truncated:
        print(
            f"dnalm {command}: warning: {len(truncated)} sequence(s) longer than the model's "
            f"context ({max_tokens} tokens) were truncated, e.g. '{truncated[0]}'",
            file=sys.stderr,
        )


def split_specials(ids, special_ids):
    """(leading special tokens, the DNA tokens, trailing special tokens)."""
    start, end = 0, len(ids)
    while start < end and ids[start] in special_ids:
        start += 1
    while end > start and ids[end - 1] in special_ids:
        end -= 1
    return list(ids[:start]), list(ids[start:end]), list(ids[end:])


def blocks(pieces, block_size=4096):
    """Lists of about ``block_size`` pieces; all pieces of one record stay in one block."""
    block = []
    for piece in pieces:
        if len(block) >= block_size and piece.index != block[-1].index:
            yield block
            block = []
        block.append(piece)
    if block:
        yield block


def length_sorted_batches(block, max_sequences=128, max_tokens=32768):
    """Positions in ``block``, grouped into batches of similar length (longest first).

    A batch also ends where the length changes once it is a quarter full, so
    most batches hold sequences of one length: no padding, no attention mask,
    and the attention takes its faster plain-causal path.
    """
    order = sorted(range(len(block)), key=lambda i: len(block[i].input_ids), reverse=True)
    batch, longest, previous = [], 0, None
    for position in order:
        length = len(block[position].input_ids)
        full = len(batch) >= max_sequences or max(longest, length) * (len(batch) + 1) > max_tokens
        new_length = length != previous and len(batch) >= max(1, max_sequences // 4)
        if batch and (full or new_length):
            yield batch
            batch, longest = [], 0
        batch.append(position)
        longest, previous = max(longest, length), length
    if batch:
        yield batch


def pad_batch(sequences, pad_id, side="right", device="cpu"):
    """``input_ids``, ``attention_mask`` and RoPE ``position_ids`` for a list of id lists.

    Positions count real tokens only, so a left-padded sequence gets the same
    positions (and the same hidden states) as when it is alone.
    """
    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        columns = slice(0, len(ids)) if side == "right" else slice(width - len(ids), width)
        input_ids[row, columns] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, columns] = 1
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    return input_ids.to(device), attention_mask.to(device), position_ids.to(device)


def unless_full(attention_mask):
    """None when no token is padding: the attention then takes its faster plain-causal path."""
    return None if bool(attention_mask.all()) else attention_mask


def pad_id_of(tokenizer, config):
    for token in ("[PAD]", "<pad>"):
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return token_id
    return config.get("pad_token_id") or config.get("eos_token_id") or 0
