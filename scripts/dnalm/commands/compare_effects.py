"""Compare variant effects between two groups (e.g. exon vs intron): n, mean, median and
standard deviation per group, Welch's t-test and the Mann-Whitney U test, and a box plot.
The groups are two tables, or the rows of one table split by a column (--group-by).

Examples:
  dnalm compare-effects exon.tsv intron.tsv --labels exon intron --column l2_distance \\
      -o summary.tsv --plot box.png
  dnalm compare-effects effects.tsv --group-by REGION --labels exon intron -o summary.tsv
"""

from dataclasses import dataclass
from pathlib import Path

from dnalm.analysis.group_comparison import (
    ALTERNATIVES,
    compare_groups,
    read_grouped_values,
    read_values,
    write_box_plot,
    write_summary,
)
from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.errors import DnalmError
from dnalm.io.outputs import atomic_outputs
from dnalm.settings import check_settings, setting


@dataclass
class CompareEffectsSettings:
    """What ``dnalm compare-effects`` compares, and the test's alternative hypothesis."""

    column: str = setting("l2_distance", "column to compare")
    alternative: str = setting("two-sided", "two-sided, or greater / less: group 1's values "
                               "larger / smaller", choices=ALTERNATIVES)

    def __post_init__(self):
        check_settings(self)


def add_arguments(parser):
    parser.add_argument("first", metavar="EFFECTS_1",
                        help="tabular file with a header, e.g. the output of 'dnalm score'")
    parser.add_argument("second", metavar="EFFECTS_2", nargs="?", default=None,
                        help="the second group's table (not with --group-by)")
    parser.add_argument(
        "--group-by", metavar="COLUMN", default=None,
        help="compare the rows of EFFECTS_1 by the value in COLUMN (e.g. an INFO field of "
        "'dnalm score-variants'); --labels names the two values (default: the column's two values)",
    )
    parser.add_argument("-o", "--output", required=True, help="summary table to write (TSV)")
    parser.add_argument("--labels", nargs=2, metavar=("LABEL_1", "LABEL_2"), default=None,
                        help="names of the two groups (default: the file names); with "
                        "--group-by, the two values of its column to compare")
    add_setting_options(parser, CompareEffectsSettings)
    parser.add_argument("--plot", metavar="PNG", default=None, help="also draw a box plot")


def run(args):
    settings = settings_from_args(CompareEffectsSettings, args)
    if (args.group_by is None) == (args.second is None):
        raise DnalmError("give two tables, or one table and --group-by COLUMN")
    if args.labels is not None:
        _check_labels(args.labels)
    if args.group_by is not None:
        labels, first, second = read_grouped_values(args.first, settings.column, args.group_by,
                                                    args.labels)
    else:
        labels = args.labels or [Path(args.first).stem, Path(args.second).stem]
        _check_labels(labels)
        first = read_values(args.first, settings.column)
        second = read_values(args.second, settings.column)
    comparison = compare_groups(first, second, labels, settings.alternative)
    with atomic_outputs(args.output, args.plot) as (output, plot):
        write_summary(comparison, output)
        if plot is not None:
            write_box_plot(first, second, comparison, settings.column, plot)


def _check_labels(labels):
    if labels[0] == labels[1]:
        raise DnalmError(f"both groups are labelled '{labels[0]}': give two different --labels")
    for label in labels:
        if not label.strip() or "\t" in label or "\n" in label:
            raise DnalmError(f"label '{label}' must be a non-empty name without tabs")
