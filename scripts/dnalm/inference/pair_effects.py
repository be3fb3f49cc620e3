"""The zero-shot effect of ref/alt pairs: Δ log-likelihood (alt − ref) and vector distances.

One path for ``dnalm score --ref --alt`` and ``dnalm score-variants``, so the same
windows give the same numbers whichever way they came in. ``EffectScorer`` holds the
loaded model; ``effects`` turns pairs into one row per pair (column -> value), in
input order; with ``strand="both"`` each row is the mean of the forward and the
reverse-complement effects, so every tool that scores pairs (score, score-variants,
in-silico mutagenesis) averages the strands the same way.
"""

from dataclasses import dataclass

from dnalm.inference.batches import (
    ContextSettings,
    fit_to_context,
    pad_id_of,
    special_token_ids,
    tokenize_records,
)
from dnalm.inference.embedding import EmbeddingSettings
from dnalm.inference.model_loading import default_batch_size, load_base_model, load_causal_lm
from dnalm.inference.scoring import score_pieces
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
TOKEN_COLUMNS = ("ref_n_tokens", "alt_n_tokens")
STRANDS = ("forward", "both")


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

    def __post_init__(self):
        self.distances = tuple(dict.fromkeys(self.distances or ()))  # each once, in given order
        super().__post_init__()


class EffectScorer:
    """A model loaded for what the effects need, with its tokenizer and batching."""

    def __init__(self, model_files, settings, command):
        self.settings, self.command = settings, command
        self.tokenizer = model_files.tokenizer()
        self.max_positions = model_files.max_positions
        # Log-likelihoods need the LM head; distances from hidden states do not.
        self.log_likelihoods = not settings.distances or model_files.has_lm_head
        if self.log_likelihoods or settings.distance_from == "logits":
            purpose = "log-likelihoods" if not settings.distances else "distances from logits"
            self.model = load_causal_lm(model_files, purpose=purpose)
        else:
            self.model = load_base_model(model_files)
        self.special_ids = special_token_ids(self.tokenizer)
        self.pad_id = pad_id_of(self.tokenizer, model_files.config)
        self.batch_size = settings.batch_size or default_batch_size(self.model.device)

    def columns(self, strand="forward"):
        """The effect columns of ``effects``' rows; token counts differ by strand, so a
        two-strand row has none."""
        columns = ()
        if self.log_likelihoods:
            columns += LOG_LIKELIHOOD_COLUMNS + (TOKEN_COLUMNS if strand == "forward" else ())
        return columns + tuple(column_name(d) for d in self.settings.distances)

    def fitted(self, records):
        return fit_to_context(records, self.max_positions, self.settings.long_sequences,
                              self.special_ids, self.command)

    def scores(self, pieces):
        return score_pieces(self.model, pieces, self.pad_id, batch_size=self.batch_size,
                            max_batch_tokens=64 * self.batch_size)

    def effects(self, pairs, strand="forward"):
        """One ``{column: value}`` per ``(ref, alt)`` pair of ``SequenceRecord``s, in order;
        with ``strand="both"``, the mean of the pair's and its reverse complement's effects."""
        if strand not in STRANDS:
            raise ValueError(f"strand must be one of {STRANDS}, not {strand!r}")
        if strand == "forward":
            return self._effects(pairs)
        reverse = [(_reverse_complement(ref), _reverse_complement(alt)) for ref, alt in pairs]
        rows = self._effects(pairs + reverse)  # one batched pass over both strands
        return [_mean_row(forward, backward)
                for forward, backward in zip(rows[:len(pairs)], rows[len(pairs):])]

    def _effects(self, pairs):
        pieces = list(self.fitted(tokenize_records(interleave(pairs), self.tokenizer)))
        scores = self.scores(pieces) if self.log_likelihoods else None
        distances = None
        if self.settings.distances:
            embedding = EmbeddingSettings(pooling=self.settings.distance_pooling,
                                          source=self.settings.distance_from,
                                          batch_size=self.batch_size)
            # Hidden states come from the decoder stack, without computing the logits.
            vectors_model = (self.model.base_model if self.settings.distance_from == "hidden"
                             else self.model)
            distances = pair_distances(vectors_model, pieces, embedding, self.pad_id,
                                       self.special_ids, self.settings.distances)
        rows = []
        for _ in pairs:
            row = {}
            if scores is not None:
                ref, alt = next(scores), next(scores)
                row.update(ref_log_likelihood=ref.log_likelihood,
                           alt_log_likelihood=alt.log_likelihood,
                           delta_log_likelihood=alt.log_likelihood - ref.log_likelihood,
                           ref_n_tokens=ref.n_tokens, alt_n_tokens=alt.n_tokens)
            if distances is not None:
                row.update((column_name(name), value) for name, value in next(distances).items())
            rows.append(row)
        return rows


def _reverse_complement(record):
    return SequenceRecord(record.id, reverse_complement(record.sequence))


def _mean_row(forward, reverse):
    """The mean of two rows' effects; token counts, which differ by strand, are left out."""
    return {column: (value + reverse[column]) / 2 for column, value in forward.items()
            if column not in TOKEN_COLUMNS}


def effect_cells(row, columns):
    """``row``'s values as text: counts as integers, log-likelihoods to 1e-6, distances to 8 digits."""
    cells = []
    for column in columns:
        value = row[column]
        if column in TOKEN_COLUMNS:
            cells.append(str(value))
        elif column in LOG_LIKELIHOOD_COLUMNS:
            cells.append(f"{value:.6f}")
        else:
            cells.append(f"{value:.8g}")
    return cells
