"""bench/gpu_check.sh --quick: the GPU proof's script runs end to end on the CPU.

The device run is one shot with a few minutes of GPU time, so the script, its
install step and every step's figures are proved here first, small.
"""

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO


@pytest.mark.slow
def test_gpu_check_quick_runs_every_step_on_the_cpu(tmp_path):
    out = tmp_path / "out"
    environment = dict(os.environ, PYTHON=sys.executable, TMPDIR=str(tmp_path))
    completed = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), str(out), "--quick"],
                               cwd=tmp_path, env=environment, capture_output=True, text=True,
                               timeout=2400)
    assert completed.returncode == 0, completed.stdout + (out / "log.txt").read_text()[-4000:]
    step_lines = [line for line in completed.stdout.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in step_lines] == [
        "pretrain-bench", "genome-train", "genome-probe", "gpu-tests"]
    assert all(line.split()[2] == "ok" for line in step_lines), step_lines

    # Few, shallow files: what the device tool can bring back (at most 8).
    assert sorted(p.name for p in out.iterdir()) == [
        "genome_metrics.tsv", "log.txt", "profile.txt", "pytest.xml", "results.json",
        "summary.md"]
    results = json.loads((out / "results.json").read_text())
    assert results["environment"]["mode"] == "--quick (CPU)"
    recipes = results["pretrain_bench"]["recipes"]
    assert list(recipes) == ["published", "defaults", "dnalm", "dnalm_compiled"]
    assert all(recipe["tokens_per_second"] > 0 for recipe in recipes.values())
    assert recipes["dnalm"]["experts"] == "grouped_mm" and recipes["published"]["experts"] == "eager"
    assert recipes["dnalm"]["compile"] is False and recipes["dnalm_compiled"]["compile"] == "default"
    assert recipes["dnalm_compiled"]["rows_per_pass"] >= 1  # one fixed shape
    assert "aten::" in (out / "profile.txt").read_text()  # the profiled step's operators

    genome = results["genome_train"]
    assert genome["recipe"] in ("dnalm", "dnalm_compiled") and genome["held_out"] == "chrXV,chrXVI"
    assert genome["steps"] >= 1 and genome["best_val_loss"] < 8.4
    log = (out / "log.txt").read_text()
    assert "--validation-contigs" in log or "chrXV,chrXVI left out of the FASTA" in log
    probe = results["genome_probe"]
    assert probe["task"] == "yeast_task"
    assert probe["rows"] == {"train": 136, "dev": 34, "test": 130}  # balanced, see the slice
    for name in ("pretrained", "random_init", "kmer"):
        assert 0.3 < probe[name]["test_accuracy"] <= 1.0
    assert probe["kmer"]["test_accuracy"] > 0.6  # 6-mers separate coding from intergenic DNA

    tests = results["gpu_tests"]["counts"]
    assert tests["passed"] >= 4 and tests["failures"] == tests["errors"] == 0
    summary = (out / "summary.md").read_text()
    assert "| genome-probe | ok |" in summary and "coding vs intergenic" in summary
