"""Do two groups of variant effects differ? Summary statistics and two tests.

The GTN zero-shot tutorial expects variants in exons to move the model's vectors
more than variants in introns, and tests it on the L2 distances. Here:

* Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``): compares the
  means without assuming equal variances (the tutorial used Student's t, which
  does assume them);
* the Mann-Whitney U test (``scipy.stats.mannwhitneyu``): compares the two
  distributions by ranks, robust to outliers. The two groups are independent
  variants, so this rank test fits; the tutorial's Wilcoxon signed-rank test
  would pair the n-th exon variant with the n-th intron variant.

The two groups come from two tables, or from one table split by a column (e.g. an
INFO field that ``dnalm score-variants`` copied). Both tests are two-sided unless
``alternative`` says "greater" (group 1 larger) or "less".
"""

import math
from dataclasses import dataclass

import numpy as np

from dnalm.errors import DnalmError
from dnalm.io.plotting import pyplot
from dnalm.io.tables import read_table

ALTERNATIVES = ("two-sided", "greater", "less")
SUMMARY_COLUMNS = ("group", "statistic", "value")


@dataclass(frozen=True)
class GroupSummary:
    label: str
    n: int
    mean: float
    median: float
    sd: float  # sample standard deviation (n - 1)

    @classmethod
    def of(cls, label, values):
        values = np.asarray(values, dtype=np.float64)
        return cls(label, len(values), float(values.mean()), float(np.median(values)),
                   float(values.std(ddof=1)))


@dataclass(frozen=True)
class Comparison:
    first: GroupSummary
    second: GroupSummary
    alternative: str
    welch_t: float
    welch_p: float
    mann_whitney_u: float
    mann_whitney_p: float


def compare_groups(first_values, second_values, labels, alternative="two-sided"):
    """Summaries of both groups, Welch's t-test and the Mann-Whitney U test."""
    from scipy import stats

    if alternative not in ALTERNATIVES:
        raise DnalmError(f"unknown alternative '{alternative}' (use one of {', '.join(ALTERNATIVES)})")
    welch = stats.ttest_ind(first_values, second_values, equal_var=False, alternative=alternative)
    ranks = stats.mannwhitneyu(first_values, second_values, alternative=alternative)
    return Comparison(
        GroupSummary.of(labels[0], first_values), GroupSummary.of(labels[1], second_values),
        alternative, float(welch.statistic), float(welch.pvalue),
        float(ranks.statistic), float(ranks.pvalue),
    )


def read_values(path, column):
    """The numbers in ``column`` of a tab-separated table with a header (e.g. ``dnalm score``'s)."""
    values = [value for _, value in _read_column(path, column)]
    return _enough(values, path, column)


def read_grouped_values(path, column, group_column, labels=None):
    """``(labels, first values, second values)``: ``column`` split by ``group_column``.

    ``labels`` name the two groups to compare; by default the group column must hold
    exactly two values, taken in the order they first appear. Rows of other groups
    are left out.
    """
    groups = {}
    for group, value in _read_column(path, column, group_column):
        groups.setdefault(group, []).append(value)
    found = ", ".join(f"'{name}' ({len(values)})" for name, values in groups.items()) or "none"
    if labels is None:
        if len(groups) != 2:
            raise DnalmError(f"{path}: column '{group_column}' holds {len(groups)} groups ({found}); "
                             "name the two to compare with --labels")
        labels = list(groups)
    for label in labels:
        if label not in groups:
            raise DnalmError(f"{path}: no row has '{label}' in column '{group_column}' (groups: {found})")
    where = f"{path} ({group_column} = {{}})"
    return (labels, _enough(groups[labels[0]], where.format(labels[0]), column),
            _enough(groups[labels[1]], where.format(labels[1]), column))


def _read_column(path, column, group_column=None):
    """Yield ``(group cell or None, number)`` per data row."""
    with open(path, newline="") as stream:
        table = read_table(stream, path, "\t")
        position = table.column([column], "",
                                "; run 'dnalm score' with --distance to get distance columns")
        group_position = None
        if group_column is not None:
            group_position = table.column(
                [group_column], "", "; 'dnalm score-variants --info-fields' copies INFO fields")
        for row in table.rows:
            value = _number(row, position, path, column)
            yield (None if group_position is None else row.cells[group_position]), value


def _enough(values, where, column):
    if len(values) < 2:
        raise DnalmError(f"{where}: column '{column}' has {len(values)} value(s); a test needs at least 2")
    return np.asarray(values, dtype=np.float64)


def _number(row, position, path, column):
    name, text = f"row '{row.cells[0]}' (line {row.line})", row.cells[position]
    try:
        value = float(text)
    except ValueError:
        raise DnalmError(f"{path}: {name} has '{text}' in '{column}', not a number") from None
    if not math.isfinite(value):
        raise DnalmError(f"{path}: {name} has '{text}' in '{column}', not a finite number")
    return value


def write_summary(comparison, path):
    """A tidy table: one statistic per row, for each group and for the comparison."""
    versus = f"{comparison.first.label} vs {comparison.second.label}"
    rows = []
    for group in (comparison.first, comparison.second):
        rows += [(group.label, "n", group.n), (group.label, "mean", group.mean),
                 (group.label, "median", group.median), (group.label, "sd", group.sd)]
    rows += [
        (versus, "welch_t_statistic", comparison.welch_t),
        (versus, "welch_t_p_value", comparison.welch_p),
        (versus, "mann_whitney_u_statistic", comparison.mann_whitney_u),
        (versus, "mann_whitney_u_p_value", comparison.mann_whitney_p),
    ]
    with open(path, "w") as stream:
        stream.write("\t".join(SUMMARY_COLUMNS) + "\n")
        for group, statistic, value in rows:
            text = str(value) if isinstance(value, int) else f"{value:.6g}"
            stream.write(f"{group}\t{statistic}\t{text}\n")


def write_box_plot(first_values, second_values, comparison, column, path):
    """Box plot of both groups with every value drawn as a point, and both p-values."""
    plt = pyplot()
    labels = [comparison.first.label, comparison.second.label]
    figure, axes = plt.subplots(figsize=(5, 5), dpi=100)
    # The boxes drawn over the points, with a thick black median line that stands out from them.
    axes.boxplot([first_values, second_values], showfliers=False, zorder=3,
                 medianprops={"color": "black", "linewidth": 2.5})
    axes.set_xticks([1, 2], labels)
    jitter = np.random.default_rng(0)  # fixed: the same data give the same picture
    for position, values in enumerate((first_values, second_values), start=1):
        spread = jitter.uniform(-0.12, 0.12, len(values))
        axes.scatter(position + spread, values, s=8, alpha=0.4, zorder=1)
    axes.set_ylabel(column)
    axes.set_title(
        f"{labels[0]} vs {labels[1]} ({comparison.alternative})\n"
        f"Welch t p = {comparison.welch_p:.3g}, Mann-Whitney U p = {comparison.mann_whitney_p:.3g}",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
