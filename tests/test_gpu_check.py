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
                               timeout=1200)
    assert completed.returncode == 0, completed.stdout + (out / "log.txt").read_text()[-4000:]
    step_lines = [line for line in completed.stdout.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in step_lines] == [
        "gpu-tests", "pretrain-bench", "embed-bench", "train", "probe"]
    assert all(line.split()[2] == "ok" for line in step_lines), step_lines

    # Few, shallow files: what the device tool can bring back (at most 8).
    assert sorted(p.name for p in out.iterdir()) == [
        "log.txt", "pretrain_metrics.tsv", "profile.txt", "pytest.xml", "results.json",
        "summary.md"]
    results = json.loads((out / "results.json").read_text())
    assert results["environment"]["mode"] == "--quick (CPU)"
    tests = results["gpu_tests"]["counts"]
    assert tests["passed"] >= 4 and tests["failures"] == tests["errors"] == 0
    recipes = results["pretrain_bench"]["recipes"]
    assert list(recipes) == ["published", "defaults", "dnalm", "dnalm_bf16_experts"]
    assert all(recipe["tokens_per_second"] > 0 for recipe in recipes.values())
    assert recipes["dnalm"]["experts"] == "grouped_mm" and recipes["published"]["experts"] == "eager"
    assert "aten::" in (out / "profile.txt").read_text()  # the profiled step's operators
    assert results["embed_bench"]["speedup"] > 0
    assert results["train"]["steps"] >= 1 and results["train"]["best_val_loss"] < 8.4
    probe = results["probe"]
    assert probe["rows"] == {"train": 200, "dev": 200, "test": 200}
    for name in ("pretrained", "random_init", "kmer"):
        assert 0.3 < probe[name]["test_accuracy"] <= 1.0
    assert probe["kmer"]["test_accuracy"] > 0.6  # 6-mers separate TATA promoters well
    summary = (out / "summary.md").read_text()
    assert "| probe | ok |" in summary and "6-mer" in summary
