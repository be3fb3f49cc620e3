"""The PCA plot's groups: from the ids (exon_001 -> exon), an explicit regex, or a table column."""

import re

import numpy as np
import pytest
from dnalm.cli import main
from dnalm.errors import DnalmError
from dnalm.io.pca_plot import (
    MAX_GROUPS,
    automatic_groups,
    groups_from_ids,
    legend_groups,
    pca_figure,
    point_groups,
    principal_components,
)
from dnalm.io.sequences import read_sequences
from helpers import MICRO_ZIP, REPO, TEST_DATA

# the demo workflow's 64 exon + 64 intron windows, ids exon_001 ... intron_064
DEMO_FASTA = REPO / "workflows" / "dna-lm-pretraining" / "test-data" / "hg38_exon_intron_windows_128.fa"
EXON_INTRON = TEST_DATA / "exon_intron_windows.fa"  # its first 10 exon and 10 intron windows


def ids_of(path):
    return [record.id for record in read_sequences(path)]


def test_demo_ids_group_into_exon_and_intron():
    ids = ids_of(DEMO_FASTA)
    groups = automatic_groups(ids)
    assert groups == ["exon"] * 64 + ["intron"] * 64
    assert point_groups(ids) == (groups, "id prefix")


def test_ids_without_a_telling_prefix_give_one_colour():
    assert automatic_groups(ids_of(TEST_DATA / "hg38_windows_small.fa")) is None  # SNP1, chr12: no '_'
    assert automatic_groups(["a_1", "a_2", "a_3"]) is None  # one group
    assert automatic_groups(["a_1", "b_1", "c_1", "c_2"]) is None  # about one group per id
    assert automatic_groups(["a_1", "a_2", "b_1", "b_2", "x"]) is None  # 'x' has no prefix
    assert point_groups(["SNP1", "chr12"]) == (None, None)


def test_explicit_regex_and_column_labels():
    ids = ids_of(TEST_DATA / "hg38_windows_small.fa")
    groups, title = point_groups(ids, regex=r"^(SNP|chr)")
    assert groups == ["SNP"] * 40 + ["chr"] * 40 and title == r"id ~ ^(SNP|chr)"
    # no (...) group: what the pattern matches; ids it does not match are 'other'
    assert groups_from_ids(["chr1:0-200", "chrX:5-9", "scaffold"], re.compile(r"chr\w+")) == ["chr1", "chrX", "other"]
    assert point_groups(ids[:2], [1, 0], "label") == (["1", "0"], "label")
    with pytest.raises(DnalmError, match=r"--group-regex '\(exon' is not a regular expression"):
        point_groups(ids, regex="(exon")


def test_a_legend_keeps_the_largest_groups():
    groups = [f"g{i:02d}" for i in range(20) for _ in range(i + 1)]  # g00 once ... g19 20 times
    legend = legend_groups(groups)
    assert len(legend) == MAX_GROUPS
    assert list(legend)[:3] == ["g09", "g10", "g11"] and legend["g19"] == 20
    assert legend["other"] == sum(range(1, 10))  # g00..g08 merged
    assert sum(legend.values()) == len(groups)


def test_figure_draws_one_labelled_cloud_per_group():
    rng = np.random.default_rng(0)
    matrix = np.concatenate([rng.normal(0, 1, (64, 8)), rng.normal(3, 1, (64, 8))]).astype(np.float32)
    points, explained = principal_components(matrix, 2)
    figure, legend = pca_figure(points, explained, automatic_groups(ids_of(DEMO_FASTA)), "id prefix")
    axes = figure.axes[0]
    assert legend == {"exon": 64, "intron": 64}
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["exon (64)", "intron (64)"]
    assert axes.get_legend().get_title().get_text() == "id prefix"
    clouds = axes.collections
    assert [len(cloud.get_offsets()) for cloud in clouds] == [64, 64]
    # the two clouds differ in colour and sit apart along PC1
    assert not np.allclose(clouds[0].get_facecolor(), clouds[1].get_facecolor())
    exon_pc1, intron_pc1 = (np.asarray(cloud.get_offsets())[:, 0].mean() for cloud in clouds)
    assert abs(exon_pc1 - intron_pc1) > 5
    import matplotlib.pyplot as plt

    plt.close(figure)


def test_embed_colours_the_plot_by_id_prefix(tmp_path, capsys):
    out, plot = tmp_path / "e.tsv", tmp_path / "pca.png"
    assert main(["embed", str(MICRO_ZIP), str(EXON_INTRON), "-o", str(out), "--pca-plot", str(plot)]) == 0
    assert "PCA plot groups (id prefix): exon 10, intron 10" in capsys.readouterr().out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # an explicit regex: the exon windows' numbers 001-005 against the rest
    assert main(["embed", str(MICRO_ZIP), str(EXON_INTRON), "-o", str(out), "--pca-plot", str(plot),
                 "--group-regex", r"^(\w+)_00[1-5]$"]) == 0
    assert "exon 5, intron 5, other 10" in capsys.readouterr().out


@pytest.mark.parametrize("options, message", [
    (["--group-regex", "(exon"], "--group-regex '(exon' is not a regular expression"),
    (["--group-regex", "^x"], "give --pca-plot too"),
    (["--group-regex", "^x", "--label-column", "label"], "not both"),
])
def test_bad_group_options_fail_cleanly(tmp_path, capsys, options, message):
    out = tmp_path / "e.tsv"
    plot = ["--pca-plot", str(tmp_path / "p.png")] if "give --pca-plot too" not in message else []
    assert main(["embed", str(MICRO_ZIP), str(EXON_INTRON), "-o", str(out), *plot, *options]) == 1
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and message in stderr
    assert list(tmp_path.iterdir()) == []
