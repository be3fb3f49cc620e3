"""Data-parallel pretraining, proved without GPUs: torchrun, 2 CPU processes (gloo).

Two processes with 16 sequences each per step must train exactly as one
process with 32: the same sequences per optimiser step (the Trainer's sampler
is seeded alike in every process, and each takes every other batch), the
loss averaged over the target tokens of all processes, gradients averaged by
DDP. So the loss of every step is the single process's, to fp32 rounding, and
only the first process writes the model.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TOKENS = Path(__file__).parents[1] / "test-data" / "pretrain_tokens.parquet"  # 200 hg38 windows
# 160 training sequences, 32 per optimiser step: 5 steps per epoch.
ARGUMENTS = ["--preset", "tiny", "--batch-size", "32", "--gradient-accumulation", "1",
             "--learning-rate", "3e-3", "--epochs", "2", "--logging-steps", "1",
             "--precision", "fp32", "--attention", "sdpa"]


def pretrain(command, folder):
    folder.mkdir()
    environment = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    for name in ("LOCAL_RANK", "RANK", "WORLD_SIZE"):  # a test run under torchrun itself
        environment.pop(name, None)
    completed = subprocess.run(
        [*command, "pretrain", str(TOKENS), "-o", "model.zip", "--metrics", "metrics.tsv",
         *ARGUMENTS], cwd=folder, env=environment, capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    with open(folder / "metrics.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return completed, rows


@pytest.mark.slow
def test_two_cpu_processes_train_as_one_with_the_same_global_batch(tmp_path):
    single, single_rows = pretrain([sys.executable, "-m", "dnalm.cli"], tmp_path / "single")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node=2", "-m", "dnalm.cli"]
    parallel, parallel_rows = pretrain(torchrun, tmp_path / "parallel")

    assert "micro-batch 32 x accumulation 1 x 1 device(s)" in single.stdout
    assert "micro-batch 16 x accumulation 1 x 2 device(s)" in parallel.stdout

    def steps(rows):
        return [(int(r["step"]), float(r["train_loss"])) for r in rows if r["kind"] == "step"]

    assert [step for step, _ in steps(single_rows)] == list(range(1, 11))
    assert [step for step, _ in steps(parallel_rows)] == list(range(1, 11))
    np.testing.assert_allclose([loss for _, loss in steps(parallel_rows)],
                               [loss for _, loss in steps(single_rows)], rtol=2e-5)
    assert steps(single_rows)[-1][1] < steps(single_rows)[0][1] - 0.5  # it learns

    # Validation batches are split differently (one process: 32 + 8 sequences; two: 16 + 4
    # each), and each batch's loss is a mean over its own tokens: equal to ~1e-3, not 1e-5.
    def validation(rows):
        return [float(r["val_loss"]) for r in rows if r["kind"] == "epoch"]

    assert len(validation(single_rows)) == 2
    np.testing.assert_allclose(validation(parallel_rows), validation(single_rows), rtol=2e-3)

    # One model, written once; the checkpoints are gone.
    assert sorted(os.listdir(tmp_path / "parallel")) == ["metrics.tsv", "model.zip"]
    assert parallel.stdout.count("model written to model.zip") == 1
