"""How far a variant moves a sequence in the model's vector space: the tutorial's effect.

The GTN tutorial "Zero-shot prediction" runs the reference and the alternative
window through a causal LM, max-pools each output over the positions into one
vector, and takes the L2 distance between the two vectors as the variant's
effect: the larger, the more the model "noticed" the substitution.

The vectors come from ``embed_pieces`` (the pooling, masking and batching of
``dnalm embed``), so padding is never pooled. By default they are the last hidden
states, which need no language-model head (any checkpoint ``dnalm embed`` reads
works); ``source="logits"`` pools the LM head's scores as the tutorial does.
"""

import numpy as np

from dnalm.inference.embedding import embed_pieces

DISTANCES = ("l2", "cosine")
DISTANCE_SOURCES = ("hidden", "logits")
DISTANCE_POOLINGS = ("max", "mean")


def column_name(distance):
    return f"{distance}_distance"


def pair_distances(model, pieces, settings, pad_id, special_ids, distances):
    """Yield ``{distance: value}`` per pair, in input order.

    ``pieces`` come as ref, alt, ref, alt ... (see ``interleave``); a block of
    ``embed_pieces`` may end between the two halves of a pair, so the reference
    vector waits for its alternative across blocks.
    """
    reference = None
    for _, matrix in embed_pieces(model, pieces, settings, pad_id, special_ids):
        for vector in matrix:
            if reference is None:
                reference = vector
                continue
            yield vector_distances(reference, vector, distances)
            reference = None


def vector_distances(ref, alt, distances):
    """The named distances between two vectors, computed in float64."""
    ref, alt = np.asarray(ref, dtype=np.float64), np.asarray(alt, dtype=np.float64)
    values = {}
    if "l2" in distances:
        values["l2"] = float(np.linalg.norm(alt - ref))
    if "cosine" in distances:
        norms = np.linalg.norm(ref) * np.linalg.norm(alt)
        values["cosine"] = float(1.0 - ref @ alt / norms) if norms > 0 else float("nan")
    return values


def interleave(pairs):
    """``(ref, alt)`` pairs -> ref, alt, ref, alt ... records."""
    for ref, alt in pairs:
        yield ref
        yield alt
