"""Zero-shot scores of a masked LM: the masked marginal and the pseudo-log-likelihood.

A masked LM gives, at a position replaced by ``[MASK]``, a probability for every
vocabulary token given all the others. Two scores follow:

* The **masked marginal** of a substitution (SNV or MNV): tokenize the reference and
  the alternative window; the tokens that differ are masked together in the reference
  window, and one forward pass gives
  ``sum over those positions of log p(alt token) - log p(ref token)``.
  With non-overlapping k-mers (Nucleotide Transformer's 6-mers) a base sits in one
  token, so an SNV masks one token and compares two k-mers. With overlapping k-mers
  (DNABERT-1) a base sits in up to k tokens: all of them are masked together (as
  DNABERT's authors mask k contiguous tokens, else the neighbours would show the base),
  and the effect is the sum over those k tokens of ``log p(alt k-mer) - log p(ref k-mer)``.
* The **pseudo-log-likelihood** (PLL) of a window: each token but the special ones
  (``[CLS]``, ``[SEP]``, ...) is masked in turn, and ``log p(true token)`` is summed.
  It costs one pass per token, batched as many masked copies per forward pass. The
  PLL difference (alt - ref) scores a pair whose windows tokenize to different lengths
  (an indel, or an N that changes a k-mer cut), where tokens cannot be matched one to
  one. With overlapping k-mers the neighbours of a masked token hold all but one of
  its bases, so its PLL is high for any model: compare PLLs of one model only.

Log-probabilities come from ``log_softmax`` over the whole vocabulary in float32 and
are summed in float64.
"""

from dataclasses import dataclass

import torch

from dnalm.errors import DnalmError
from dnalm.inference.batches import length_sorted_batches, pad_batch, unless_full

MASK_TOKENS = ("<mask>", "[MASK]")
PLL_QUERIES_AT_ONCE = 16384  # masked copies built at a time: bounds memory, not speed


@dataclass
class MaskedQuery:
    """One input: ``input_ids`` with ``[MASK]`` at ``positions``; ``targets[i]`` lists the
    tokens whose log-probability is read at ``positions[i]``."""

    input_ids: list
    positions: list
    targets: list


@dataclass
class PairMarginal:
    effect: float  # sum of log p(alt) - log p(ref) over the masked positions
    masked_tokens: int


@dataclass
class PseudoLogLikelihood:
    value: float  # natural log, summed over the masked tokens
    n_tokens: int  # tokens masked: all but the special ones


def mask_id_of(tokenizer, config, source):
    """The id of the mask token: the config's, else the tokenizer's ``<mask>``/``[MASK]``."""
    if config.get("mask_token_id") is not None:
        return config["mask_token_id"]
    for token in MASK_TOKENS:
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return token_id
    raise DnalmError(f"model {source} has no mask token (config mask_token_id, or "
                     f"{' or '.join(MASK_TOKENS)} in its vocabulary): masked-LM scores need one")


def masked_lm_head(model):
    """The masked-token head of a ``...ForMaskedLM`` alone (hidden states -> logits), as its
    ``forward`` applies it; None for an architecture not listed (its full logits are used)."""
    kind = model.config.model_type
    if kind == "esm":
        return model.lm_head
    if kind == "bert":
        return model.cls
    if kind == "modernbert":
        return lambda hidden: model.decoder(model.head(hidden))
    return None


class MaskedScorer:
    """A masked LM with what its scores need: the mask, padding and special token ids,
    and the batch limits (sequences and tokens per forward pass)."""

    def __init__(self, model, mask_id, pad_id, special_ids, batch_size, max_batch_tokens):
        self.model, self.mask_id, self.pad_id = model, mask_id, pad_id
        self.special_ids = special_ids
        self.batch_size, self.max_batch_tokens = batch_size, max_batch_tokens

    def marginals(self, pairs):
        """One ``PairMarginal`` per ``(ref_ids, alt_ids)`` pair of equal length, in order."""
        queries = []
        for ref, alt in pairs:
            if len(ref) != len(alt):
                raise ValueError("the masked marginal needs ref and alt of one token count")
            positions = [i for i, (r, a) in enumerate(zip(ref, alt)) if r != a]
            masked = list(ref)
            for position in positions:
                masked[position] = self.mask_id
            queries.append(MaskedQuery(masked, positions, [(ref[p], alt[p]) for p in positions]))
        results = []
        for query, values in zip(queries, self.log_probabilities(queries)):
            effect = sum(alt - ref for ref, alt in values)
            results.append(PairMarginal(float(effect), len(query.positions)))
        return results

    def pseudo_log_likelihoods(self, sequences):
        """One ``PseudoLogLikelihood`` per token id list, in order."""
        totals = [0.0] * len(sequences)
        counts = [0] * len(sequences)
        owners, queries = [], []

        def run():
            for owner, values in zip(owners, self.log_probabilities(queries)):
                totals[owner] += values[0][0]
            owners.clear()
            queries.clear()

        for index, ids in enumerate(sequences):
            for position, token in enumerate(ids):
                if token in self.special_ids:
                    continue
                masked = list(ids)
                masked[position] = self.mask_id
                owners.append(index)
                queries.append(MaskedQuery(masked, [position], [(token,)]))
                counts[index] += 1
                if len(queries) >= PLL_QUERIES_AT_ONCE:
                    run()
        run()
        return [PseudoLogLikelihood(total, count) for total, count in zip(totals, counts)]

    def log_probabilities(self, queries):
        """For each query, per position, the log-probabilities of its targets (floats), in
        input order; batches of similar length, right-padded with an attention mask."""
        results = [[] for _ in queries]
        asked = [i for i, query in enumerate(queries) if query.positions]
        for batch in length_sorted_batches([queries[i] for i in asked], self.batch_size,
                                           self.max_batch_tokens):
            chosen = [asked[i] for i in batch]
            values = self._batch([queries[i] for i in chosen])
            for index, value in zip(chosen, values):
                results[index] = value
        return results

    @torch.inference_mode()
    def _batch(self, queries):
        device = next(self.model.parameters()).device
        input_ids, attention_mask, _ = pad_batch([q.input_ids for q in queries], self.pad_id,
                                                 "right", device)
        rows = [row for row, q in enumerate(queries) for _ in q.positions]
        columns = [position for q in queries for position in q.positions]
        # No position ids: ESM counts its positions from padding_idx + 1 itself.
        inputs = {"input_ids": input_ids, "attention_mask": unless_full(attention_mask)}
        head = masked_lm_head(self.model)
        if head is None:
            logits = self.model(**inputs).logits[rows, columns]
        else:  # the head at the masked positions only: most of a PLL pass's cost otherwise
            logits = head(self.model.base_model(**inputs).last_hidden_state[rows, columns])
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        width = max(len(targets) for q in queries for targets in q.targets)
        wanted = torch.tensor([list(t) + [t[0]] * (width - len(t))
                               for q in queries for t in q.targets], device=device)
        picked = log_probs.gather(1, wanted).double().cpu().tolist()
        values, start = [], 0
        for query in queries:
            chunk = picked[start:start + len(query.positions)]
            values.append([row[:len(t)] for row, t in zip(chunk, query.targets)])
            start += len(query.positions)
        return values


class MaskedPairs:
    """A masked LM's effects of ref/alt pairs given as their pieces (lists of ``Piece``s).

    A pair gets the masked marginal when it is a substitution (``substitutions[i]``) whose
    ref and alt have the same pieces of the same token counts on every strand scored
    (``refs[i]`` and ``refs[i + n]`` ... are one pair's strands, so that both strands of a
    pair are scored the same way); else, or with ``method="pll"``, the pseudo-log-likelihood
    difference.
    """

    def __init__(self, scorer, refs, alts, substitutions, strands, method):
        self.scorer, self.refs, self.alts, self.method = scorer, refs, alts, method
        matching = [len(ref) == len(alt) and all(len(r.input_ids) == len(a.input_ids)
                                                 for r, a in zip(ref, alt))
                    for ref, alt in zip(refs, alts)]
        matching = [match and substitution for match, substitution in zip(matching, substitutions)]
        count = len(refs) // strands
        self.marginal = [method == "marginal" and all(matching[i % count + s * count]
                                                      for s in range(strands))
                         for i in range(len(refs))]

    def rows(self):
        chosen = [i for i, marginal in enumerate(self.marginal) if marginal]
        piece_pairs = [(r.input_ids, a.input_ids) for i in chosen
                       for r, a in zip(self.refs[i], self.alts[i])]
        marginals = iter(self.scorer.marginals(piece_pairs))
        by_pair = {i: [next(marginals) for _ in self.refs[i]] for i in chosen}
        others = [i for i, marginal in enumerate(self.marginal) if not marginal]
        plls = self._plls([self.refs[i] for i in others] + [self.alts[i] for i in others])
        ref_plls = dict(zip(others, plls[:len(others)]))
        alt_plls = dict(zip(others, plls[len(others):]))
        rows = []
        for i, (ref, alt) in enumerate(zip(self.refs, self.alts)):
            row = {"ref_n_tokens": self._n_tokens(ref), "alt_n_tokens": self._n_tokens(alt)}
            if self.method == "pll":
                row.update(ref_pll=ref_plls[i], alt_pll=alt_plls[i],
                           delta_pll=alt_plls[i] - ref_plls[i])
            elif i in by_pair:
                row.update(masked_effect=sum(m.effect for m in by_pair[i]),
                           masked_effect_method="masked_marginal",
                           masked_tokens=sum(m.masked_tokens for m in by_pair[i]))
            else:
                row.update(masked_effect=alt_plls[i] - ref_plls[i],
                           masked_effect_method="pll_difference",
                           masked_tokens=row["ref_n_tokens"] + row["alt_n_tokens"])
            rows.append(row)
        return rows

    def _plls(self, groups):
        """The pseudo-log-likelihood of each record (its pieces added up), in one batched run."""
        values = self.scorer.pseudo_log_likelihoods([p.input_ids for g in groups for p in g])
        totals, start = [], 0
        for group in groups:
            totals.append(sum(v.value for v in values[start:start + len(group)]))
            start += len(group)
        return totals

    def _n_tokens(self, pieces):
        return sum(token not in self.scorer.special_ids for p in pieces for token in p.input_ids)
