"""The cross-entropy in chunks of rows, so the fp32 logits of a whole batch never exist.

transformers' ``ForCausalLMLoss`` upcasts the logits of the whole batch to
fp32 and keeps the fp32 log-softmax for the backward pass: two fp32 copies of
(tokens x vocabulary). For the tutorial's optimiser step in one pass (72k
tokens x 4,096 tokens of vocabulary) that is 2.4 GB on top of the bf16
logits. Here the loss is computed ``CHUNK_TOKENS`` rows at a time: each chunk
is upcast, its loss summed and its gradient (softmax - one-hot) written
straight away, in the logits' own dtype, which is the dtype the plain path's
gradient reaches the logits in too. The result equals the plain loss to fp32
rounding (tests/test_pretrain.py checks loss and gradient). The same chunks give
the masked-token loss of a masked LM, whose targets are not shifted.
"""

import torch

from dnalm.training.packing import IGNORE_INDEX

CHUNK_TOKENS = 8192  # 8,192 x 4,096 fp32 = 128 MiB per chunk


class _ChunkedCrossEntropy(torch.autograd.Function):
    """Sum of the cross-entropy over rows of ``logits`` (N x V); ``targets`` -100 are skipped."""

    @staticmethod
    def forward(ctx, logits, targets, chunk):
        total = torch.zeros((), dtype=torch.float32, device=logits.device)
        gradient = torch.empty_like(logits)
        for start in range(0, logits.shape[0], chunk):
            rows = logits[start : start + chunk].float()
            target = targets[start : start + chunk]
            counted = target != IGNORE_INDEX
            safe_target = torch.where(counted, target, 0)
            log_probabilities = torch.log_softmax(rows, dim=-1)
            picked = log_probabilities.gather(1, safe_target.unsqueeze(1)).squeeze(1)
            total -= (picked * counted).sum()
            # d(sum of -log p[target]) / d logits = softmax - one-hot, on counted rows only
            chunk_gradient = log_probabilities.exp_()
            chunk_gradient.scatter_add_(1, safe_target.unsqueeze(1),
                                        -torch.ones_like(picked).unsqueeze(1))
            chunk_gradient *= counted.unsqueeze(1)
            gradient[start : start + chunk] = chunk_gradient
        ctx.save_for_backward(gradient)
        return total

    @staticmethod
    def backward(ctx, grad_total):
        (gradient,) = ctx.saved_tensors
        return gradient * grad_total.to(gradient.dtype), None, None


def chunked_cross_entropy(logits, targets, num_items_in_batch=None, chunk=CHUNK_TOKENS):
    """Mean cross-entropy of ``logits`` (..., V) against ``targets`` (...; -100 is skipped).

    The sum over target tokens is divided by ``num_items_in_batch`` when given
    (the Trainer's count over a whole accumulated step), else by this batch's
    target tokens.
    """
    targets = targets.reshape(-1).to(logits.device)
    total = _ChunkedCrossEntropy.apply(logits.reshape(-1, logits.shape[-1]), targets, chunk)
    if num_items_in_batch is None:
        num_items_in_batch = (targets != IGNORE_INDEX).sum()
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch


def chunked_causal_lm_loss(logits, labels, num_items_in_batch=None, chunk=CHUNK_TOKENS):
    """What ``ForCausalLMLoss`` returns (position t predicts label t+1), computed in chunks."""
    targets = torch.nn.functional.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:]
    return chunked_cross_entropy(logits, targets, num_items_in_batch, chunk)


class CausalLMLoss:
    """``compute_loss_func`` for ``Trainer``: the chunked loss, plus the router's auxiliary loss.

    ``router_aux_loss_coef`` is the model's (mixture-of-experts models that
    return ``aux_loss``, i.e. with ``output_router_logits``); the model adds it
    itself only when it computes the loss, which it no longer does here.
    """

    def __init__(self, router_aux_loss_coef=0.0):
        self.router_aux_loss_coef = router_aux_loss_coef

    def __call__(self, outputs, labels, num_items_in_batch=None):
        loss = chunked_causal_lm_loss(outputs["logits"], labels, num_items_in_batch)
        aux_loss = outputs.get("aux_loss") if isinstance(outputs, dict) else None
        if aux_loss is not None and self.router_aux_loss_coef:
            loss = loss + self.router_aux_loss_coef * aux_loss.to(loss.device)
        return loss


def masked_lm_loss(outputs, labels, num_items_in_batch=None):
    """``compute_loss_func`` for a masked LM: the loss on the chosen positions (labels not -100),
    each predicted where it stands."""
    return chunked_cross_entropy(outputs["logits"], labels, num_items_in_batch)
