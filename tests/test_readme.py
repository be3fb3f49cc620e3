"""The README's "Using it from a shell" block runs as pasted, from the repository root.

Its outputs go to a temporary folder instead of out/shell/; every file it names must then
exist and hold something, and a few must say what the commands did.
"""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shell_block():
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Using it from a shell"):]
    return re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)


@pytest.mark.slow
def test_readme_shell_block_runs_as_pasted(tmp_path):
    block = shell_block()
    assert "out/shell/" in block
    script = block.replace("out/shell", str(tmp_path / "shell"))
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=REPO,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]

    written = sorted(set(re.findall(r"out/shell/[\w.]+", block)))
    assert len(written) >= 25
    for name in written:
        path = tmp_path / "shell" / Path(name).name
        assert path.is_file() and path.stat().st_size > 0, name
    assert len(written) == len({Path(name).name for name in written})  # nothing overwritten

    def table(name):
        lines = (tmp_path / "shell" / name).read_text().splitlines()
        return [line.split("\t") for line in lines]

    tokens = dict(table("tokens_summary.tsv")[1:])
    assert tokens["sequences"] == "20" and tokens["duplicate ids"] == "0"
    summary = {(group, statistic) for group, statistic, _ in table("effects_summary.tsv")[1:]}
    assert {("exon", "median"), ("intron", "median"), ("exon vs intron", "welch_t_p_value")} <= summary
    assert len(table("exon_effects.tsv")) == 101  # a header and the tutorial's 100 exon SNPs
    predicted = dict(table("predict_metrics.tsv")[1:])
    assert 0 <= float(predicted["accuracy"]) <= 1
    assert (tmp_path / "shell" / "generated.fa").read_text().count(">") == 10
    masked = table("masked_variant_effects.tsv")
    methods = {row[masked[0].index("masked_effect_method")] for row in masked[1:]}
    assert methods == {"masked_marginal", "pll_difference"}  # the VCF holds SNVs and indels
