"""In-silico mutagenesis: the effect of every single-base substitution of a region.

Each base of A, C, G or T is replaced in turn by the three others (an N stays: it has
no reference letter to change), and each mutated region is scored whole against the
unmutated one, by model kind:

* a causal LM: the change in the region's log-likelihood, ``log p(alt) - log p(ref)``,
  scored as ``dnalm score`` and ``dnalm score-variants`` score a window (the same
  ``EffectScorer``), so an effect equals score-variants' on the same substitution
  written as a VCF record with the region as its window;
* a masked LM: the masked marginal, ``log p(alt) - log p(ref)`` of the tokens that
  differ, masked together in the unmutated region (with overlapping k-mers, every token
  that holds the base), also through ``EffectScorer``: it equals score-variants' too;
* a classifier: the change in one class's logit, and in its probability.

The reference is scored once per region and every mutated copy of it in the same
batched pass (score-variants scores the reference again beside each ALT).
``strand="both"`` also scores the reverse complements and averages the two effects.
"""

from dataclasses import dataclass

import numpy as np

from dnalm.errors import DnalmError
from dnalm.settings import setting
from dnalm.inference.batches import BatchSettings, tokenize_records
from dnalm.inference.classification import load_classifier, predict_logits
from dnalm.inference.classification_metrics import softmax
from dnalm.inference.model_loading import default_batch_size
from dnalm.inference.pair_effects import STRANDS, EffectScorer, EffectSettings, StrandSettings
from dnalm.io.sequences import BASES, SequenceRecord
from dnalm.io.windows import reverse_complement

MODEL_KINDS = ("causal", "masked", "classifier")


@dataclass
class MutagenesisSettings(StrandSettings, BatchSettings):
    """The knobs of ``dnalm mutagenesis``: the strands, the batch size (declared with the pair
    scoring's and the batches'), the class a classifier's effects follow, and the limits."""

    target_class: str = setting(None, "a classifier's class whose logit and probability the "
                                "effects follow (default: the last class, the positive one of "
                                "a binary task)")
    max_region_length: int = setting(2000, "the longest region mutated, in bp (each base "
                                     "costs three model passes)", min=1, max=100_000)
    plot_regions: int = setting(5, "regions drawn as a heat map and a logo, the first N",
                                min=0, max=100)


@dataclass(frozen=True)
class Substitution:
    position: int  # 0-based in the region
    ref: str
    alt: str


def substitutions(sequence):
    """Every single-base substitution of ``sequence``: three per A, C, G or T, in order."""
    return [Substitution(position, base, alt) for position, base in enumerate(sequence)
            if base in BASES for alt in BASES if alt != base]


def mutated(sequence, substitution):
    position = substitution.position
    return sequence[:position] + substitution.alt + sequence[position + 1:]


@dataclass
class RegionEffects:
    """The effects of ``substitutions`` on one region, in their order."""

    substitutions: list
    effect: np.ndarray  # Δ log-likelihood (causal), masked marginal (masked), Δ logit (classifier)
    probability_change: np.ndarray = None  # classifier only


class MutagenesisScorer:
    """A model loaded once, scoring every substitution of one region after another.

    ``kind`` is ``causal`` for a causal LM with its language-model head, ``masked`` for a
    masked LM with its masked-token head and ``classifier`` for a fine-tuned one; ``target_class`` names the class whose logit a
    classifier's effects follow (default: the last, the positive class of a binary
    task).
    """

    def __init__(self, model_files, kind, target_class=None, batch_size=None,
                 command="mutagenesis"):
        if kind not in MODEL_KINDS:
            raise DnalmError(f"unknown model kind '{kind}' (use one of {', '.join(MODEL_KINDS)})")
        self.kind, self.command = kind, command
        if kind in ("causal", "masked"):
            if target_class is not None:
                raise DnalmError(f"--target-class follows a classifier's class, but model "
                                 f"{model_files.source} is a {kind} language model")
            self.effect_scorer = EffectScorer(model_files, EffectSettings(batch_size=batch_size),
                                              command)
            self.tokenizer = self.effect_scorer.tokenizer
            return
        self.model = load_classifier(model_files)
        self.tokenizer = model_files.tokenizer()
        self.max_positions = model_files.max_positions
        self.batch_size = batch_size or default_batch_size(self.model.device)
        names = {int(i): str(n) for i, n in self.model.config.id2label.items()}
        self.class_names = [names[i] for i in range(len(names))]
        if target_class is None:
            self.target = len(self.class_names) - 1
        elif target_class in self.class_names:
            self.target = self.class_names.index(target_class)
        else:
            raise DnalmError(f"--target-class '{target_class}' is not a class of the model "
                             f"({', '.join(self.class_names)})")

    @property
    def target_class(self):
        return self.class_names[self.target] if self.kind == "classifier" else None

    def region_effects(self, region, strand="forward"):
        """``RegionEffects`` of every substitution of ``region`` (a ``Region``)."""
        if strand not in STRANDS:
            raise DnalmError(f"--strand must be one of {', '.join(STRANDS)}")
        changes = substitutions(region.sequence)
        sequences = [region.sequence] + [mutated(region.sequence, s) for s in changes]
        forward = self._effects(region.name, sequences)
        if strand == "both":
            backward = self._effects(region.name, [reverse_complement(s) for s in sequences])
            forward = tuple((f + b) / 2 for f, b in zip(forward, backward))
        return RegionEffects(changes, *forward)

    def _effects(self, name, sequences):
        """The effects of ``sequences[1:]`` against ``sequences[0]``: one array, or two."""
        records = list(tokenize_records([SequenceRecord(name, s) for s in sequences],
                                        self.tokenizer))
        limit = (self.max_positions if self.kind == "classifier"
                 else self.effect_scorer.max_positions)
        longest = max(len(record.input_ids) for record in records)
        if limit and longest > limit:
            raise DnalmError(f"region '{name}' has {longest} tokens, more than the model's "
                             f"context of {limit}: use shorter regions")
        if self.kind == "causal":
            scorer = self.effect_scorer
            scores = [s.log_likelihood for s in scorer.scores(scorer.fitted(records))]
            # Python floats, subtracted as score-variants subtracts them
            return (np.array([alt - scores[0] for alt in scores[1:]]),)
        if self.kind == "masked":
            reference = SequenceRecord(name, sequences[0])
            pairs = [(reference, SequenceRecord(name, s)) for s in sequences[1:]]
            rows = self.effect_scorer.effects(pairs)
            return (np.array([row["masked_effect"] for row in rows]),)
        logits = predict_logits(self.model, [record.input_ids for record in records],
                                self.model.config.pad_token_id,
                                batch_size=self.batch_size).astype(np.float64)
        probabilities = softmax(logits)[:, self.target]
        target = logits[:, self.target]
        return target[1:] - target[0], probabilities[1:] - probabilities[0]


def per_base_tracks(region, effects):
    """``{track: values per base}`` of a region: the mean effect of its three substitutions,
    the largest absolute effect, and the reference base's importance (minus the mean: a base
    whose every change lowers the score matters for it). NaN where a base was not mutated."""
    length = len(region.sequence)
    total, count = np.zeros(length), np.zeros(length)
    largest = np.full(length, np.nan)
    for change, value in zip(effects.substitutions, effects.effect):
        total[change.position] += value
        count[change.position] += 1
        current = largest[change.position]
        if np.isnan(current) or abs(value) > abs(current):
            largest[change.position] = value
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return {"mean_effect": mean, "max_abs_effect": largest, "importance": -mean}


def effect_matrix(region, effects):
    """A 4 × L array (rows A, C, G, T): each substitution's effect, 0 at the reference base."""
    matrix = np.zeros((len(BASES), len(region.sequence)))
    for change, value in zip(effects.substitutions, effects.effect):
        matrix[BASES.index(change.alt), change.position] = value
    return matrix
