"""The PCA plot of embeddings: first two principal components, points coloured by group.

A point's group comes from an input table column (``--label-column``), from a
part of its id (``--group-regex``), or by default from the part of the id
before the first ``_`` (``exon_001`` -> ``exon``) when that makes a few groups
of several points each; otherwise all points have one colour. A legend holds
at most ``MAX_GROUPS`` entries: the smaller groups beyond are drawn as ``other``.
"""

import re
from collections import Counter

import numpy as np

from dnalm.errors import DnalmError
from dnalm.io.embedding_files import CHUNK_ROWS
from dnalm.io.plotting import pyplot

ID_PREFIX = r"^([^_]+)_"
MAX_GROUPS = 12
UNMATCHED = "other"


def id_pattern(text):
    """``text`` compiled as a regular expression, or a ``DnalmError`` saying why not."""
    try:
        return re.compile(text)
    except re.error as error:
        raise DnalmError(f"--group-regex '{text}' is not a regular expression: {error}") from None


def groups_from_ids(ids, pattern):
    """Each id's group: the pattern's first (...) group, else what it matches; ``other`` if nothing."""
    groups = []
    for record_id in ids:
        match = pattern.search(record_id)
        if match is None:
            groups.append(UNMATCHED)
        else:
            groups.append(match.group(1) if pattern.groups else match.group())
    return groups


def automatic_groups(ids):
    """Id prefixes before the first ``_``, or None when they tell nothing.

    They tell nothing when an id has no ``_``, when all ids share one prefix, or
    when there are too many prefixes for a legend or about one per id.
    """
    groups = groups_from_ids(ids, re.compile(ID_PREFIX))
    sizes = Counter(groups)
    if UNMATCHED in sizes or not 2 <= len(sizes) <= MAX_GROUPS or len(sizes) > len(ids) / 2:
        return None
    return groups


def point_groups(ids, column_labels=None, column_name=None, regex=None):
    """``(groups or None, legend title)`` for the plot, as the docstring above says."""
    if column_labels is not None:
        return [str(label) for label in column_labels], column_name
    if regex is not None:
        return groups_from_ids(ids, id_pattern(regex)), f"id ~ {regex}"
    groups = automatic_groups(ids)
    return groups, (None if groups is None else "id prefix")


def legend_groups(groups):
    """Group -> size, the ``MAX_GROUPS - 1`` largest kept and the rest merged into ``other``."""
    sizes = Counter(groups)
    if len(sizes) <= MAX_GROUPS:
        return dict(sorted(sizes.items()))
    ranked = sorted((name for name in sizes if name != UNMATCHED), key=lambda name: (-sizes[name], name))
    kept = set(ranked[:MAX_GROUPS - 1])
    legend = {name: sizes[name] for name in sorted(kept)}
    legend[UNMATCHED] = sum(size for name, size in sizes.items() if name not in kept)
    return legend


def pca_figure(points, explained, groups=None, legend_title=None, title="Embeddings"):
    """The scatter plot as a matplotlib figure; returns ``(figure, {group: points drawn})``."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 5), dpi=100)
    legend = {}
    if groups is None:
        axes.scatter(points[:, 0], points[:, 1], s=6, alpha=0.7)
    else:
        legend = legend_groups(groups)
        shown = np.array([group if group in legend else UNMATCHED for group in groups])
        for group in legend:
            chosen = shown == group
            axes.scatter(points[chosen, 0], points[chosen, 1], s=6, alpha=0.7,
                         label=f"{group} ({legend[group]})")
        axes.legend(title=legend_title, markerscale=2, fontsize="small")
    axes.set_xlabel(f"PC1 ({explained[0]:.1%} of variance)")
    axes.set_ylabel(f"PC2 ({explained[1]:.1%} of variance)")
    axes.set_title(f"{title}: {points.shape[0]} sequences")
    figure.tight_layout()
    return figure, legend


def write_pca_plot(matrix, path, groups=None, legend_title=None, title="Embeddings"):
    """Write the plot of ``matrix`` (rows: sequences) as PNG; return ``{group: points}``."""
    plt = pyplot()
    points, explained = principal_components(matrix, 2)
    figure, legend = pca_figure(points, explained, groups, legend_title, title)
    figure.savefig(path, format="png")
    plt.close(figure)
    return legend


def principal_components(matrix, count, chunk_rows=CHUNK_ROWS):
    """Project ``matrix`` onto its top ``count`` components, reading it in chunks."""
    basis = pca_basis(matrix, count, chunk_rows)
    return basis.project(matrix, chunk_rows), basis.explained


class PcaBasis:
    """The top principal components of some rows: their mean, the axes, the share of variance
    each explains; other rows can be projected onto them (generated DNA onto real DNA's)."""

    def __init__(self, mean, vectors, explained):
        self.mean, self.vectors, self.explained = mean, vectors, explained

    def project(self, matrix, chunk_rows=CHUNK_ROWS):
        points = np.concatenate([
            (np.asarray(matrix[start:start + chunk_rows], dtype=np.float64) - self.mean)
            @ self.vectors for start in range(0, matrix.shape[0], chunk_rows)
        ]) if matrix.shape[0] else np.zeros((0, self.vectors.shape[1]))
        return np.pad(points, ((0, 0), (0, len(self.explained) - points.shape[1])))


def pca_basis(matrix, count, chunk_rows=CHUNK_ROWS):
    """The ``PcaBasis`` of ``matrix``'s top ``count`` components, read in chunks."""
    n, dim = matrix.shape
    if n < 2:
        raise DnalmError("a PCA plot needs at least 2 sequences")
    total, scatter = np.zeros(dim), np.zeros((dim, dim))
    for start in range(0, n, chunk_rows):
        chunk = np.asarray(matrix[start:start + chunk_rows], dtype=np.float64)
        total += chunk.sum(axis=0)
        scatter += chunk.T @ chunk
    mean = total / n
    covariance = scatter / n - np.outer(mean, mean)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1][:count]
    values, vectors = np.clip(values[order], 0, None), vectors[:, order]
    explained = values / max(np.clip(np.linalg.eigvalsh(covariance), 0, None).sum(), 1e-30)
    if len(explained) < count:
        explained = np.pad(explained, (0, count - len(explained)))
    return PcaBasis(mean, vectors, explained)
