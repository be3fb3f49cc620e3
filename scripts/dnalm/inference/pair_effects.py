"""The zero-shot effect of ref/alt pairs: Δ log-likelihood (alt − ref) of a causal LM, the
masked marginal or pseudo-log-likelihood difference of a masked LM, and vector distances.

One path for ``dnalm score --ref --alt`` and ``dnalm score-variants``, so the same
windows give the same numbers whichever way they came in. ``EffectScorer`` holds the
loaded model; ``effects`` turns pairs into one row per pair (column -> value), in
input order; with ``strand="both"`` each row is the mean of the forward and the
reverse-complement effects, so every tool that scores pairs (score, score-variants,
in-silico mutagenesis) averages the strands the same way.
"""

from dataclasses import dataclass

from dnalm.errors import DnalmError
from dnalm.inference.batches import (
    ContextSettings,
    blocks,
    fit_to_context,
    pad_id_of,
    special_token_ids,
    tokenize_records,
)
from dnalm.inference.embedding import EmbeddingSettings
from dnalm.inference.masked_scoring import MaskedPairs, MaskedScorer, mask_id_of
from dnalm.inference.model_loading import (
    default_batch_size,
    load_base_model,
    load_causal_lm,
    load_masked_lm,
)
from dnalm.inference.scoring import SequenceScore, score_pieces
from dnalm.inference.variant_distances import (
    DISTANCE_POOLINGS,
    DISTANCE_SOURCES,
    DISTANCES,
    column_name,
    interleave,
    pair_distances,
)
from dnalm.io.sequences import SequenceRecord
from dnalm.io.windows import reverse_complement
from dnalm.settings import check_settings, setting

LOG_LIKELIHOOD_COLUMNS = ("ref_log_likelihood", "alt_log_likelihood", "delta_log_likelihood")
# A masked LM's: the masked marginal (or the PLL difference where it cannot apply), and how each
# row was scored; or, with --masked-score pll, the pseudo-log-likelihoods of every pair.
MASKED_EFFECT_COLUMNS = ("masked_effect", "masked_effect_method")
PLL_COLUMNS = ("ref_pll", "alt_pll", "delta_pll")
MASKED_SCORES = ("marginal", "pll")
TOKEN_COLUMNS = ("ref_n_tokens", "alt_n_tokens")
COUNT_COLUMNS = TOKEN_COLUMNS + ("masked_tokens",)  # differ by strand: one strand's rows only
STRANDS = ("forward", "both")
PLL_RECORDS_AT_ONCE = 256  # a masked LM's sequences whose pseudo-log-likelihoods run together


@dataclass
class StrandSettings:
    """Which strands a pair is scored on (score-variants, mutagenesis)."""

    strand: str = setting("forward", "forward, or both: the mean of the forward and the "
                          "reverse-complement effects", choices=STRANDS)

    def __post_init__(self):
        check_settings(self)


@dataclass
class EffectSettings(ContextSettings):
    """How ref/alt pairs are scored (score, score-variants): the distances asked for, besides
    the log-likelihoods, and ``ContextSettings``'s long sequences and batch size."""

    distances: tuple = setting(
        (), "also give the distance between the pooled vectors of ref and alt (columns "
        "l2_distance, cosine_distance); a model without LM head then gives distances only",
        choices=DISTANCES, flag="distance", several=True)
    distance_pooling: str = setting("max", "how token vectors become one vector; max is "
                                    "the tutorial's", choices=DISTANCE_POOLINGS)
    distance_from: str = setting(
        "hidden", "vectors to compare: the last hidden states (no LM head needed) or the LM "
        "head's logits (as the tutorial's model(inputs)[0])", choices=DISTANCE_SOURCES)
    masked_score: str = setting(
        None, "a masked LM's variant effect (default: marginal): 'marginal', the masked "
        "marginal of a substitution, log p(alt) - log p(ref) summed over the tokens that "
        "differ, masked together in the reference (with overlapping k-mers, as DNABERT's, "
        "all up to k tokens holding a changed base are masked and their k-mers compared), and "
        "the pseudo-log-likelihood difference (alt - ref) for indels and pairs whose tokens "
        "do not match one to one; 'pll', the pseudo-log-likelihood difference of every pair "
        "(one pass per token: slower). A causal LM refuses it", choices=MASKED_SCORES)

    def __post_init__(self):
        self.distances = tuple(dict.fromkeys(self.distances or ()))  # each once, in given order
        super().__post_init__()


class EffectScorer:
    """A model loaded for what the effects need, with its tokenizer and batching."""

    def __init__(self, model_files, settings, command):
        self.settings, self.command = settings, command
        self.masked = model_files.is_masked_lm
        if settings.masked_score is not None and not self.masked:
            raise DnalmError(f"--masked-score is for masked LMs, but model {model_files.source} "
                             f"is a causal LM ({model_files.architecture})")
        self.tokenizer = model_files.tokenizer()
        self.max_positions = model_files.max_positions
        # Log-likelihoods need the LM head; distances from hidden states do not.
        self.log_likelihoods = not settings.distances or model_files.has_lm_head
        load_lm = load_masked_lm if self.masked else load_causal_lm
        if self.log_likelihoods or settings.distance_from == "logits":
            purpose = ("masked-LM scores" if self.masked else "log-likelihoods") \
                if not settings.distances else "distances from logits"
            self.model = load_lm(model_files, purpose=purpose)
        else:
            self.model = load_base_model(model_files)
        self.special_ids = special_token_ids(self.tokenizer)
        self.pad_id = pad_id_of(self.tokenizer, model_files.config)
        self.batch_size = settings.batch_size or default_batch_size(self.model.device)
        self.masked_scorer = None
        if self.masked and self.log_likelihoods:
            self.masked_scorer = MaskedScorer(
                self.model, mask_id_of(self.tokenizer, model_files.config, model_files.source),
                self.pad_id, self.special_ids, self.batch_size, 64 * self.batch_size)

    def columns(self, strand="forward"):
        """The effect columns of ``effects``' rows; token counts differ by strand, so a
        two-strand row has none."""
        columns = ()
        if self.log_likelihoods:
            if not self.masked:
                columns += LOG_LIKELIHOOD_COLUMNS + TOKEN_COLUMNS
            elif self.settings.masked_score == "pll":
                columns += PLL_COLUMNS + TOKEN_COLUMNS
            else:
                columns += MASKED_EFFECT_COLUMNS + ("masked_tokens",) + TOKEN_COLUMNS
        if strand != "forward":
            columns = tuple(column for column in columns if column not in COUNT_COLUMNS)
        return columns + tuple(column_name(d) for d in self.settings.distances)

    def fitted(self, records):
        return fit_to_context(records, self.max_positions, self.settings.long_sequences,
                              self.special_ids, self.command)

    def scores(self, pieces):
        """One ``SequenceScore`` per record: a causal LM's log-likelihood, or a masked LM's
        pseudo-log-likelihood (the pieces of a split record added up)."""
        if not self.masked:
            return score_pieces(self.model, pieces, self.pad_id, batch_size=self.batch_size,
                                max_batch_tokens=64 * self.batch_size)
        return self._pseudo_log_likelihoods(pieces)

    def _pseudo_log_likelihoods(self, pieces):
        # A block of records at a time, so that the masked copies of several share a batch.
        for block in blocks(pieces, PLL_RECORDS_AT_ONCE):
            plls = iter(self.masked_scorer.pseudo_log_likelihoods([p.input_ids for p in block]))
            for group in _by_record(block):
                parts = [next(plls) for _ in group]
                yield SequenceScore(group[0].id, sum(p.value for p in parts),
                                    sum(p.n_tokens for p in parts))

    def effects(self, pairs, strand="forward", substitutions=None):
        """One ``{column: value}`` per ``(ref, alt)`` pair of ``SequenceRecord``s, in order;
        with ``strand="both"``, the mean of the pair's and its reverse complement's effects.

        ``substitutions[i]`` says whether pair i is a substitution, which a masked LM scores
        with the masked marginal (default: the pairs whose ref and alt are equally long; a
        VCF's indel windows are filled to one length, so score-variants says which are)."""
        if strand not in STRANDS:
            raise ValueError(f"strand must be one of {STRANDS}, not {strand!r}")
        if substitutions is None:
            substitutions = [len(ref.sequence) == len(alt.sequence) for ref, alt in pairs]
        if strand == "forward":
            return self._effects(pairs, substitutions)
        reverse = [(_reverse_complement(ref), _reverse_complement(alt)) for ref, alt in pairs]
        # one batched pass over both strands
        rows = self._effects(pairs + reverse, list(substitutions) * 2, strands=2)
        return [_mean_row(forward, backward)
                for forward, backward in zip(rows[:len(pairs)], rows[len(pairs):])]

    def _effects(self, pairs, substitutions, strands=1):
        pieces = list(self.fitted(tokenize_records(interleave(pairs), self.tokenizer)))
        rows = [{} for _ in pairs]
        if self.log_likelihoods and self.masked:
            groups = list(_by_record(pieces))
            masked_rows = MaskedPairs(self.masked_scorer, groups[0::2], groups[1::2],
                                      substitutions, strands,
                                      self.settings.masked_score or "marginal").rows()
            for row, values in zip(rows, masked_rows):
                row.update(values)
        elif self.log_likelihoods:
            scores = self.scores(pieces)
            for row in rows:
                ref, alt = next(scores), next(scores)
                row.update(ref_log_likelihood=ref.log_likelihood,
                           alt_log_likelihood=alt.log_likelihood,
                           delta_log_likelihood=alt.log_likelihood - ref.log_likelihood,
                           ref_n_tokens=ref.n_tokens, alt_n_tokens=alt.n_tokens)
        if self.settings.distances:
            embedding = EmbeddingSettings(pooling=self.settings.distance_pooling,
                                          source=self.settings.distance_from,
                                          batch_size=self.batch_size)
            # Hidden states come from the decoder stack, without computing the logits.
            vectors_model = (self.model.base_model if self.settings.distance_from == "hidden"
                             else self.model)
            distances = pair_distances(vectors_model, pieces, embedding, self.pad_id,
                                       self.special_ids, self.settings.distances)
            for row in rows:
                row.update((column_name(name), value) for name, value in next(distances).items())
        return rows


def _by_record(pieces):
    """Lists of the pieces of one record each, in order (a record's pieces come together)."""
    group = []
    for piece in pieces:
        if group and piece.index != group[-1].index:
            yield group
            group = []
        group.append(piece)
    if group:
        yield group


def _reverse_complement(record):
    return SequenceRecord(record.id, reverse_complement(record.sequence))


def _mean_row(forward, reverse):
    """The mean of two rows' effects; token counts, which differ by strand, are left out, and
    a word (how the row was scored, the same on both strands) is kept."""
    return {column: value if isinstance(value, str) else (value + reverse[column]) / 2
            for column, value in forward.items() if column not in COUNT_COLUMNS}


def effect_cells(row, columns):
    """``row``'s values as text: counts as integers, log-likelihoods (and a masked LM's scores)
    to 1e-6, distances to 8 digits."""
    cells = []
    for column in columns:
        value = row[column]
        if column in COUNT_COLUMNS or isinstance(value, str):
            cells.append(str(value))
        elif column in LOG_LIKELIHOOD_COLUMNS + MASKED_EFFECT_COLUMNS + PLL_COLUMNS:
            cells.append(f"{value:.6f}")
        else:
            cells.append(f"{value:.8g}")
    return cells
