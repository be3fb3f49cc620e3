"""dnalm compare-effects: the statistics equal scipy's; the plot is drawn; bad tables are refused."""

import csv
from pathlib import Path

import numpy as np
import pytest
from dnalm.cli import main
from scipy import stats
from helpers import expect_error

# Two groups of real-looking distances: the first clearly larger, with a tie across groups.
EXON = [63.03, 31.04, 39.03, 18.19, 49.82, 42.61, 52.10, 32.99, 38.43, 58.49, 27.5]
INTRON = [21.5, 30.2, 18.0, 25.7, 33.1, 12.4, 27.5, 19.9, 24.3]


def write_effects(path, values, column="l2_distance"):
    with open(path, "w") as stream:
        stream.write(f"id\tdelta_log_likelihood\t{column}\n")
        for n, value in enumerate(values):
            stream.write(f"SNP{n + 1}\t-1.0\t{value}\n")
    return path


def read_summary(path):
    with open(path) as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    assert list(rows[0]) == ["group", "statistic", "value"]
    return {(row["group"], row["statistic"]): float(row["value"]) for row in rows}


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_summary_equals_scipy_and_numpy(tmp_path, alternative):
    exon, intron = write_effects(tmp_path / "e.tsv", EXON), write_effects(tmp_path / "i.tsv", INTRON)
    out, plot = tmp_path / "summary.tsv", tmp_path / "box.png"
    assert main(["compare-effects", str(exon), str(intron), "--labels", "exon", "intron",
                 "--alternative", alternative, "-o", str(out), "--plot", str(plot)]) == 0
    summary = read_summary(out)
    for label, values in (("exon", EXON), ("intron", INTRON)):
        assert summary[(label, "n")] == len(values)
        assert summary[(label, "mean")] == pytest.approx(np.mean(values), rel=1e-5)
        assert summary[(label, "median")] == pytest.approx(np.median(values), rel=1e-5)
        assert summary[(label, "sd")] == pytest.approx(np.std(values, ddof=1), rel=1e-5)
    welch = stats.ttest_ind(EXON, INTRON, equal_var=False, alternative=alternative)
    ranks = stats.mannwhitneyu(EXON, INTRON, alternative=alternative)
    versus = "exon vs intron"
    assert summary[(versus, "welch_t_statistic")] == pytest.approx(welch.statistic, rel=1e-5)
    assert summary[(versus, "welch_t_p_value")] == pytest.approx(welch.pvalue, rel=1e-5)
    assert summary[(versus, "mann_whitney_u_statistic")] == pytest.approx(ranks.statistic, rel=1e-5)
    assert summary[(versus, "mann_whitney_u_p_value")] == pytest.approx(ranks.pvalue, rel=1e-5)
    # Student's t (the tutorial's) would differ: the variances are unequal here
    assert welch.pvalue != pytest.approx(stats.ttest_ind(EXON, INTRON, alternative=alternative).pvalue)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10000


def test_another_column_and_default_labels(tmp_path):
    exon = write_effects(tmp_path / "exon.tsv", EXON, "cosine_distance")
    intron = write_effects(tmp_path / "intron.tsv", INTRON, "cosine_distance")
    out = tmp_path / "summary.tsv"
    assert main(["compare-effects", str(exon), str(intron), "--column", "cosine_distance",
                 "-o", str(out)]) == 0
    summary = read_summary(out)
    assert summary[("exon", "median")] == pytest.approx(np.median(EXON))
    assert ("exon vs intron", "welch_t_p_value") in summary




def test_bad_tables_are_refused(tmp_path, capsys):
    good = write_effects(tmp_path / "good.tsv", EXON)
    out, plot = tmp_path / "summary.tsv", tmp_path / "box.png"
    command = ["-o", str(out), "--plot", str(plot)]
    no_column = write_effects(tmp_path / "ll.tsv", INTRON, "delta")
    expect_error(capsys, ["compare-effects", str(good), str(no_column)] + command,
                 f"{no_column} has no column 'l2_distance' (columns: id, delta_log_likelihood, delta)",
                 [out, plot])
    text = tmp_path / "text.tsv"
    text.write_text("id\tl2_distance\nSNP1\t1.5\nSNP2\tn/a\nSNP3\t2.0\n")
    expect_error(capsys, ["compare-effects", str(good), str(text)] + command,
                 f"{text}: row 'SNP2' (line 3) has 'n/a' in 'l2_distance', not a number", [out, plot])
    one = write_effects(tmp_path / "one.tsv", [1.0])
    expect_error(capsys, ["compare-effects", str(good), str(one)] + command,
                 "column 'l2_distance' has 1 value(s); a test needs at least 2", [out, plot])
    expect_error(capsys, ["compare-effects", str(good), str(good), "--labels", "a", "a"] + command,
                 "both groups are labelled 'a'", [out, plot])


def write_grouped(path, groups):
    """One table, a REGION column naming each row's group (as score-variants' --info-fields)."""
    with open(path, "w") as stream:
        stream.write("CHROM\tPOS\tl2_distance\tREGION\n")
        for n, (label, value) in enumerate(groups):
            stream.write(f"chr1\t{n + 1}\t{value}\t{label}\n")
    return path


def test_one_table_grouped_by_a_column_equals_two_tables(tmp_path):
    # rows interleaved, and a third group ('.') left out once the labels are named
    rows = [("exon", v) for v in EXON] + [("intron", v) for v in INTRON] + [(".", 99.0), (".", 1.0)]
    rows = rows[::2] + rows[1::2]
    grouped = write_grouped(tmp_path / "effects.tsv", rows)
    by_column, by_tables = tmp_path / "by_column.tsv", tmp_path / "by_tables.tsv"
    assert main(["compare-effects", str(grouped), "--group-by", "REGION", "--labels", "exon",
                 "intron", "-o", str(by_column)]) == 0
    assert main(["compare-effects", str(write_effects(tmp_path / "exon.tsv", EXON)),
                 str(write_effects(tmp_path / "intron.tsv", INTRON)), "--labels", "exon", "intron",
                 "-o", str(by_tables)]) == 0
    assert by_column.read_text() == by_tables.read_text()
    summary = read_summary(by_column)
    assert summary[("exon", "n")] == len(EXON) and summary[("intron", "n")] == len(INTRON)
    # without labels: the two values in the order they first appear
    two_groups = write_grouped(tmp_path / "two.tsv", [("intron", v) for v in INTRON] +
                               [("exon", v) for v in EXON])
    assert main(["compare-effects", str(two_groups), "--group-by", "REGION", "-o",
                 str(by_column)]) == 0
    assert read_summary(by_column)[("intron vs exon", "welch_t_statistic")] == pytest.approx(
        stats.ttest_ind(INTRON, EXON, equal_var=False).statistic, rel=1e-5)


def test_grouping_refusals(tmp_path, capsys):
    rows = [("exon", 1.0), ("exon", 2.0), ("intron", 3.0), ("intron", 4.0), (".", 5.0)]
    grouped = write_grouped(tmp_path / "effects.tsv", rows)
    out = tmp_path / "summary.tsv"
    for argv, message in (
        ([str(grouped), "--group-by", "REGION"], "column 'REGION' holds 3 groups ('exon' (2), "
                                                 "'intron' (2), '.' (1)); name the two"),
        ([str(grouped), "--group-by", "REGION", "--labels", "exon", "utr"],
         "no row has 'utr' in column 'REGION'"),
        ([str(grouped), "--group-by", "REGION", "--labels", "exon", "."],
         "(REGION = .): column 'l2_distance' has 1 value(s); a test needs at least 2"),
        ([str(grouped), "--group-by", "GENE"], "no column 'GENE' (columns: CHROM, POS, l2_distance, REGION)"),
        ([str(grouped), str(grouped), "--group-by", "REGION"], "give two tables, or one table and --group-by"),
        ([str(grouped)], "give two tables, or one table and --group-by"),
    ):
        expect_error(capsys, ["compare-effects"] + argv + ["-o", str(out)], message, [out])
