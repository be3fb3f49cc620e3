"""One vector per sequence from a DNA language model's hidden states.

The tutorial takes ``model(inputs)[0]``, which for a causal LM is the logits
(one score per vocabulary entry, [1, tokens, 4096]), and averages them. Here
the vector comes from the hidden states instead ([tokens, hidden size]), read
from the base model so the vocabulary projection is never computed, and only
real tokens are pooled: padding is masked whichever side it is on.
``source="logits"`` pools the causal LM's output instead, as the tutorial does
(used by the zero-shot variant distances of ``dnalm score``).

``cls`` is the vector of the token the tokenizer puts first ([CLS] for BERT and
ModernBERT, <cls> for ESM), which an encoder's classifier reads; ``first`` is
the first pooled token, so the first base with ``--no-special-tokens``.
"""

from dataclasses import dataclass

import numpy as np
import torch

from dnalm.errors import DnalmError
from dnalm.inference.batches import (
    blocks,
    length_sorted_batches,
    pad_batch,
    unless_full,
)
from dnalm.settings import check_settings, setting

EMBEDDING_POOLINGS = ("mean", "max", "cls", "first", "last")


def pool(hidden, mask, pooling):
    """Pool ``hidden`` [batch, tokens, dim] over the positions where ``mask`` is True."""
    mask = mask.bool().unsqueeze(-1)
    if pooling == "mean":
        total = torch.where(mask, hidden, 0.0).sum(dim=1)
        return total / mask.sum(dim=1).clamp(min=1)
    if pooling == "max":
        return torch.where(mask, hidden, float("-inf")).amax(dim=1)
    mask = mask.squeeze(-1)
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    if pooling in ("first", "cls"):  # cls: the caller's mask keeps the special tokens
        chosen = torch.where(mask, positions, mask.shape[1]).amin(dim=1)
    elif pooling == "last":
        chosen = torch.where(mask, positions, -1).amax(dim=1)
    else:
        raise DnalmError(f"unknown pooling '{pooling}' (use one of {', '.join(EMBEDDING_POOLINGS)})")
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), chosen]


@dataclass
class EmbeddingSettings:
    """How to embed: the knobs of ``dnalm embed`` (declared), then those of the code that calls it."""

    pooling: str = setting("mean", "how token vectors become one vector", choices=EMBEDDING_POOLINGS)
    # -1: the final hidden state (after the last norm); 0: token embeddings
    layer: int = setting(-1, "hidden layer to read: -1 the last, 0 the token embeddings, i the "
                         "output of block i")
    # pool [CLS]/[SEP] too, as the tutorial's tokenizer adds them
    special_tokens: bool = setting(True, "leave [CLS]/[SEP] out of the pooling (the model still "
                                   "sees them)", flag="no_special_tokens")
    batch_size: int = 128
    max_batch_tokens: int = None  # default: 256 tokens per sequence of the batch
    block_size: int = 4096
    padding_side: str = "right"
    source: str = "hidden"  # "logits": the LM head's scores (a causal LM is needed)

    def __post_init__(self):
        check_settings(self)


def check_layer(model, layer):
    layers = model.config.num_hidden_layers
    if not -(layers + 1) <= layer <= layers:
        raise DnalmError(
            f"--layer {layer} is out of range: the model has {layers} layers, so use "
            f"0 (token embeddings) to {layers}, or -1 (last)"
        )


def check_cls(piece, special_ids):
    if not piece.input_ids or piece.input_ids[0] not in special_ids:
        raise DnalmError(
            f"record {piece.id}: --pooling cls reads the special token a tokenizer puts first "
            "([CLS], <cls>), and this model's tokenizer puts none: use first, mean, max or last"
        )


def embed_pieces(model, pieces, settings, pad_id, special_ids):
    """Yield ``(ids, matrix)`` per block of records, in input order; matrix is float32 numpy."""
    check_layer(model, settings.layer)
    device = next(model.parameters()).device
    special = torch.tensor(sorted(special_ids), dtype=torch.long, device=device)
    for block in blocks(pieces, settings.block_size):
        if settings.pooling == "cls":
            for piece in block:
                check_cls(piece, special_ids)
        pooled = [None] * len(block)
        counts = [0] * len(block)
        max_tokens = settings.max_batch_tokens or 256 * settings.batch_size
        batches = length_sorted_batches(block, settings.batch_size, max_tokens)
        for positions in batches:
            vectors, numbers = _embed_batch(
                model, [block[p].input_ids for p in positions], settings, pad_id, special, device
            )
            for position, vector, number in zip(positions, vectors, numbers):
                pooled[position], counts[position] = vector, number
        yield _combine_parts(block, pooled, counts, settings.pooling)


@torch.inference_mode()
def _embed_batch(model, sequences, settings, pad_id, special, device):
    input_ids, attention_mask, position_ids = pad_batch(
        sequences, pad_id, settings.padding_side, device
    )
    wants_layer = settings.layer != -1
    if model.config.model_type == "esm":
        # ESM numbers its learned positions itself: from padding_idx + 1 on, pads skipped.
        position_ids = None
    output = model(
        input_ids=input_ids,
        attention_mask=unless_full(attention_mask),
        # Right padding needs no position ids (and ESM counts its own from padding_idx + 1).
        position_ids=position_ids if settings.padding_side == "left" else None,
        output_hidden_states=wants_layer,
        use_cache=False,
    )
    if settings.source == "logits":
        hidden = output.logits
    else:
        hidden = output.hidden_states[settings.layer] if wants_layer else output.last_hidden_state
    pool_mask = attention_mask.bool()
    if not settings.special_tokens and settings.pooling != "cls":
        pool_mask &= ~torch.isin(input_ids, special)
    counts = pool_mask.sum(dim=1)
    if bool((counts == 0).any()):
        raise DnalmError("a sequence has no tokens left to pool once special tokens are left out")
    vectors = pool(hidden.float(), pool_mask, settings.pooling)
    return vectors.cpu().numpy(), counts.cpu().tolist()


def _combine_parts(block, pooled, counts, pooling):
    """One row per record: pieces of a split record are pooled together."""
    ids, rows = [], []
    start = 0
    while start < len(block):
        end = start + block[start].parts
        vectors = np.stack(pooled[start:end])
        if pooling == "mean":
            weights = np.asarray(counts[start:end], dtype=np.float64)
            vector = (vectors * weights[:, None]).sum(axis=0) / weights.sum()
        elif pooling == "max":
            vector = vectors.max(axis=0)
        elif pooling in ("first", "cls"):
            vector = vectors[0]
        else:
            vector = vectors[-1]
        ids.append(block[start].id)
        rows.append(vector.astype(np.float32))
        start = end
    return ids, np.stack(rows)
