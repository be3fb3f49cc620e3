"""How likely a DNA language model finds each sequence, and what a variant changes.

A causal LM gives, at every position, a probability for the next token. The
log-likelihood of a tokenized sequence ``[CLS] t1 ... tn [SEP]`` is the sum of
``log p(token | tokens before it)`` over every token after ``[CLS]`` (so the
closing ``[SEP]`` counts too, as in training). Per token it is that sum divided
by the number of scored tokens, and perplexity is ``exp(-per token)``.

The zero-shot variant effect of a reference/alternative pair is
``log-likelihood(alt) - log-likelihood(ref)``: negative when the model finds the
alternative sequence less likely than the reference.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dnalm.inference.batches import (
    blocks,
    length_sorted_batches,
    pad_batch,
    unless_full,
)


@dataclass
class SequenceScore:
    id: str
    log_likelihood: float  # natural log, summed over the scored tokens
    n_tokens: int  # tokens scored: all but the first

    @property
    def per_token(self):
        return self.log_likelihood / self.n_tokens if self.n_tokens else float("nan")

    @property
    def perplexity(self):
        return math.exp(-self.per_token) if self.n_tokens else float("nan")


def score_pieces(model, pieces, pad_id, batch_size=64, max_batch_tokens=8192, block_size=4096,
                 padding_side="right"):
    """Yield one ``SequenceScore`` per record, in input order.

    Pieces of a split record are scored separately and added up: each piece
    starts again from ``[CLS]``, without the previous piece as context.
    """
    device = next(model.parameters()).device
    for block in blocks(pieces, block_size):
        totals, counts = [0.0] * len(block), [0] * len(block)
        for positions in length_sorted_batches(block, batch_size, max_batch_tokens):
            sums, numbers = token_log_likelihoods(
                model, [block[p].input_ids for p in positions], pad_id, device, padding_side
            )
            for position, total, number in zip(positions, sums, numbers):
                totals[position], counts[position] = total, number
        start = 0
        while start < len(block):
            end = start + block[start].parts
            yield SequenceScore(block[start].id, sum(totals[start:end]), sum(counts[start:end]))
            start = end


@torch.inference_mode()
def token_log_likelihoods(model, sequences, pad_id, device, padding_side="right"):
    """(summed log-likelihood, scored token count) of each sequence in one padded batch."""
    input_ids, attention_mask, position_ids = pad_batch(sequences, pad_id, padding_side, device)
    logits = model(
        input_ids=input_ids, attention_mask=unless_full(attention_mask), position_ids=position_ids,
        use_cache=False,
    ).logits
    # Position i predicts token i+1; only pairs of real tokens count.
    targets = input_ids[:, 1:]
    scored = (attention_mask[:, 1:] * attention_mask[:, :-1]).bool()
    log_probs = -F.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        reduction="none",
    ).view(targets.shape)
    sums = torch.where(scored, log_probs, 0.0).sum(dim=1, dtype=torch.float64)
    return sums.cpu().tolist(), scored.sum(dim=1).cpu().tolist()
