"""dnalm pretrain: the tiny preset trains on real hg38 windows, saves, reloads, resumes.

One training run (module fixture) is shared by the tests that inspect its
outputs; the others train a few steps on fewer windows.
"""

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import safetensors.torch
import torch
from dnalm.cli import main
from dnalm.io.token_table import TokenTableWriter
from dnalm.tokenization.loading import load_tokenizer
from dnalm.training import presets
from helpers import REPO, read_fasta

WINDOWS = REPO / "tests" / "data" / "pretrain_windows.fa"  # 200 exon + 200 intron hg38 windows
FAST = ["--preset", "tiny", "--batch-size", "32", "--gradient-accumulation", "1",
        "--learning-rate", "3e-3"]


def write_token_table(path, records, tokenizer_spec="dnabert2", mangle=None):
    tokenizer = load_tokenizer(tokenizer_spec)
    ids = [encoding.ids for encoding in tokenizer.encode_batch([seq for _, seq in records])]
    if mangle:
        mangle(ids)
    with TokenTableWriter(path, tokenizer.to_str()) as writer:
        writer.write({"id": [name for name, _ in records], "input_ids": ids})
    return path


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Default checkpoint directories land in the test's own folder."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    return write_token_table(tmp_path_factory.mktemp("data") / "tokens.parquet", read_fasta(WINDOWS))


@pytest.fixture(scope="module")
def few_tokens(tmp_path_factory):
    """96 windows: 3 optimiser steps of 32 per epoch (76 for training)."""
    records = read_fasta(WINDOWS)
    return write_token_table(tmp_path_factory.mktemp("few") / "few.parquet", records[:48] + records[-48:])


@pytest.fixture(scope="module")
def trained(tokens, tmp_path_factory):
    """Train the tiny preset for 3 epochs on 320 windows (validated on 80)."""
    out = tmp_path_factory.mktemp("trained")
    argv = ["pretrain", str(tokens), "-o", str(out / "model.zip"), *FAST, "--epochs", "3",
            "--metrics", str(out / "metrics.tsv"), "--loss-curve", str(out / "curve.png"),
            "--report", str(out / "report.html"), "--checkpoint-dir", str(out / "checkpoints"),
            "--input-name", "hg38 exon and intron windows"]
    assert main(argv) == 0
    return out


def read_metrics(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def run_cli(argv, cwd):
    return subprocess.run([sys.executable, "-m", "dnalm.cli", *argv], cwd=cwd,
                          capture_output=True, text=True)


def test_validation_loss_falls_and_metrics_are_complete(trained):
    rows = read_metrics(trained / "metrics.tsv")
    assert list(rows[0]) == ["kind", "epoch", "step", "train_loss", "val_loss", "perplexity",
                             "accuracy", "learning_rate", "tokens_per_second"]
    epochs = [row for row in rows if row["kind"] == "epoch"]
    steps = [row for row in rows if row["kind"] == "step"]
    assert [float(row["epoch"]) for row in epochs] == [1.0, 2.0, 3.0]
    assert [int(row["step"]) for row in epochs] == [10, 20, 30]  # 320 / 32 sequences per step
    val_losses = [float(row["val_loss"]) for row in epochs]
    assert val_losses[0] > val_losses[1] > val_losses[2], val_losses
    assert val_losses[2] < 7.3 < 8.32  # a uniform guess over 4,096 tokens costs 8.32 nats
    for row in epochs:
        assert float(row["perplexity"]) == pytest.approx(2.718281828 ** float(row["val_loss"]), rel=1e-4)
        assert 0.0 < float(row["accuracy"]) < 1.0
    assert len(steps) == 30
    assert all(float(row["tokens_per_second"]) > 0 for row in steps)
    assert float(steps[0]["learning_rate"]) > float(steps[-1]["learning_rate"])  # linear decay


def test_outputs_model_zip_curve_and_report(trained):
    with zipfile.ZipFile(trained / "model.zip") as archive:
        names = set(archive.namelist())
        config = json.loads(archive.read("config.json"))
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json"} <= names
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl")) for name in names)
    assert config["model_type"] == "mixtral" and config["hidden_size"] == 64
    assert (config["vocab_size"], config["pad_token_id"], config["bos_token_id"],
            config["eos_token_id"]) == (4096, 3, 1, 2)
    assert (trained / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (trained / "report.html").read_text()
    assert "985,664" in report and "379,520" in report  # total and active parameters
    assert "best epoch" in report and "MixtralForCausalLM" in report
    assert "<th>token table</th><td>hg38 exon and intron windows</td>" in report  # --input-name
    assert "<th>time budget</th><td>no limit</td>" in report


def test_saved_model_reloads_with_identical_logits(trained, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with zipfile.ZipFile(trained / "model.zip") as archive:
        archive.extractall(tmp_path / "model")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert tokenizer("ATT")["input_ids"] == [1, 2061, 2] and tokenizer.pad_token_id == 3

    # The best checkpoint holds the weights as the Trainer had them in memory.
    state = json.loads(next((trained / "checkpoints").glob("checkpoint-30/trainer_state.json")).read_text())
    best = Path(state["best_model_checkpoint"])
    in_memory = presets.build_model(model.config).eval()
    in_memory.load_state_dict(safetensors.torch.load_file(best / "model.safetensors"), strict=True)

    ids = torch.tensor([tokenizer(seq)["input_ids"] for _, seq in read_fasta(WINDOWS)[:4]][:1])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, in_memory(ids).logits)


def test_checkpoints_keep_the_expert_weights_as_in_memory(trained, tmp_path):
    """A checkpoint saved mid-training reloads, expert weights included (trainer.CheckpointsAsInMemory)."""
    checkpoint = trained / "checkpoints" / "checkpoint-20"  # epoch 2 of 3, not the final model
    saved = safetensors.torch.load_file(checkpoint / "model.safetensors")
    config = presets.fit_config_to_tokenizer(presets.preset_config("tiny"), load_tokenizer())
    torch.manual_seed(1)
    model = presets.build_model(config)
    experts = [name for name in model.state_dict() if ".experts." in name]
    assert experts and set(saved) == set(model.state_dict())  # the names the model has in memory
    before = {name: model.state_dict()[name].clone() for name in experts}
    # What the Trainer does to resume and to load the best model: a non-strict load_state_dict.
    result = model.load_state_dict(saved, strict=False)
    assert not result.missing_keys and not result.unexpected_keys
    for name in experts:
        assert torch.equal(model.state_dict()[name], saved[name])
        assert not torch.equal(before[name], saved[name])  # really trained, really loaded

    # Why the override exists: save_pretrained's default (the standard format) renames the
    # experts, and a non-strict load of that file would silently keep random experts.
    model.save_pretrained(tmp_path / "standard")
    standard = safetensors.torch.load_file(tmp_path / "standard" / "model.safetensors")
    assert set(experts) - set(standard)


def test_packed_rows_give_the_logits_of_each_sequence_alone():
    from dnalm.training.packing import PackedCollator, pack_into_rows

    tokenizer = load_tokenizer()
    ids = [e.ids for e in tokenizer.encode_batch([seq for _, seq in read_fasta(WINDOWS)[:9]])]
    torch.manual_seed(0)
    for attention in ("sdpa", "eager"):
        config = presets.fit_config_to_tokenizer(presets.preset_config("tiny"), tokenizer)
        model = presets.build_model(config, attention=attention).eval()
        batch = PackedCollator(pad_token_id=3, row_length=128)([{"input_ids": i} for i in ids])
        assert batch["input_ids"].shape[0] in (3, 4)  # 9 sequences of ~42 tokens, ~3 per row
        with torch.no_grad():
            packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                           use_cache=False).logits
            for r, row in enumerate(pack_into_rows(ids, 128)):
                start = 0
                for sequence in row:
                    alone = model(input_ids=torch.tensor([sequence]), use_cache=False).logits[0]
                    torch.testing.assert_close(packed[r, start:start + len(sequence)], alone,
                                               rtol=1e-4, atol=1e-5)
                    start += len(sequence)


def test_packed_labels_never_cross_a_boundary():
    from dnalm.training.packing import PackedCollator

    batch = PackedCollator(pad_token_id=3, row_length=8)(
        [{"input_ids": [1, 10, 11, 2]}, {"input_ids": [1, 12, 2]}, {"input_ids": [1, 13, 14, 15, 2]}])
    # Longest first, into the roomiest row: two rows, as wide as the fuller one;
    # the first ends in padding, a block of its own.
    assert batch["input_ids"].tolist() == [[1, 13, 14, 15, 2, 3, 3], [1, 10, 11, 2, 1, 12, 2]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 0, 1], [0, 1, 2, 3, 0, 1, 2]]
    assert batch["labels"].tolist() == [[-100, 13, 14, 15, 2, -100, -100],
                                        [-100, 10, 11, 2, -100, 12, 2]]


def test_parameter_counts_of_the_tutorial_preset():
    config = presets.fit_config_to_tokenizer(presets.preset_config("tutorial"), load_tokenizer())
    model = presets.build_model(config)
    assert next(model.parameters()).dtype == torch.float32  # not the config's bf16
    assert model.config._experts_implementation == "grouped_mm"
    assert presets.count_parameters(model) == (104_993_024, 4_854_272)


def test_early_stopping_stops(few_tokens, tmp_path, capsys):
    # Learning rate 0: the validation loss never improves, so patience 1 stops after epoch 2.
    argv = ["pretrain", str(few_tokens), "-o", str(tmp_path / "m.zip"), *FAST, "--epochs", "10",
            "--learning-rate", "0", "--early-stopping-patience", "1", "--metrics", str(tmp_path / "m.tsv"),
            "--checkpoint-dir", str(tmp_path / "ck")]
    assert main(argv) == 0
    epochs = [row for row in read_metrics(tmp_path / "m.tsv") if row["kind"] == "epoch"]
    assert [float(row["epoch"]) for row in epochs] == [1.0, 2.0]
    assert "early stopping: 1 evaluation(s) without a better validation loss" in capsys.readouterr().out


def test_time_budget_stops_cleanly_with_a_model(few_tokens, tmp_path, capsys):
    # A crashed earlier run with other data left the default checkpoint folder: not resumed.
    stale = tmp_path / ".m.zip.checkpoints"
    stale.mkdir()
    (stale / "dnalm_run.json").write_text(json.dumps({"fingerprint": "another run"}))
    argv = ["pretrain", str(few_tokens), "-o", str(tmp_path / "m.zip"), *FAST, "--epochs", "10",
            "--time-budget", "0.0001", "--metrics", str(tmp_path / "m.tsv"), "--report",
            str(tmp_path / "r.html")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "time budget" in out and "held checkpoints of another run: starting afresh" in out
    rows = read_metrics(tmp_path / "m.tsv")
    assert [row["step"] for row in rows if row["kind"] == "epoch"] == ["1"]  # evaluated at the stop
    assert "time budget" in (tmp_path / "r.html").read_text()
    assert zipfile.ZipFile(tmp_path / "m.zip").getinfo("model.safetensors").file_size > 0
    assert sorted(os.listdir(tmp_path)) == ["m.tsv", "m.zip", "r.html"]  # no checkpoints left


def test_learning_rate_decays_over_the_time_budget_not_over_epochs_that_never_run():
    # 78,000 steps asked for (50 epochs), the budget spent after a few: laid over the steps,
    # the rate would still be ~1e-2 at the stop; laid over the budget, it ends at 0.
    from dnalm.training.budget_schedule import budget_scheduler

    model = torch.nn.Linear(4, 1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    shares = iter([0.0, 0.25, 0.5, 0.9, 1.0])  # share of the budget spent at each step
    schedule = budget_scheduler(optimiser, "linear", 0.0, 78_000, lambda: next(shares))
    rates = [optimiser.param_groups[0]["lr"]]
    for _ in range(4):
        model(torch.ones(2, 4)).sum().backward()
        optimiser.step()
        schedule.step()
        rates.append(optimiser.param_groups[0]["lr"])
    assert rates == pytest.approx([1e-2, 7.5e-3, 5e-3, 1e-3, 0.0], abs=1e-6)
    # Cosine with 20% warmup over the same budget: up to the peak, then down to 0.
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    shares = iter([0.0, 0.1, 0.2, 0.6, 1.0])
    schedule = budget_scheduler(optimiser, "cosine", 0.2, 78_000, lambda: next(shares))
    rates = [optimiser.param_groups[0]["lr"]]
    for _ in range(4):
        optimiser.step()
        schedule.step()
        rates.append(optimiser.param_groups[0]["lr"])
    assert rates == pytest.approx([0.0, 5e-3, 1e-2, 5e-3, 0.0], abs=1e-6)


def test_steps_that_end_before_the_budget_still_end_the_schedule(few_tokens, tmp_path):
    argv = ["pretrain", str(few_tokens), "-o", "m.zip", *FAST, "--max-steps", "6",
            "--time-budget", "600", "--logging-steps", "1", "--lr-scheduler", "cosine",
            "--metrics", "m.tsv"]
    assert main(argv) == 0
    rates = [float(row["learning_rate"]) for row in read_metrics(tmp_path / "m.tsv")
             if row["kind"] == "step"]
    # The rate each step used: cosine over 6 steps (the budget's share stays ~0).
    assert len(rates) == 6 and rates[0] == pytest.approx(3e-3)
    assert rates[3] == pytest.approx(3e-3 * 0.5, rel=0.05)  # half the steps done
    assert rates[5] == pytest.approx(3e-3 * (1 + math.cos(math.pi * 5 / 6)) / 2, rel=0.1)


def test_tiny_preset_learns_with_its_own_defaults(few_tokens, tmp_path, capsys):
    """8 sequences per step and lr 3e-3: 10 steps per epoch on 76 windows, and the loss falls."""
    argv = ["pretrain", str(few_tokens), "-o", "m.zip", "--preset", "tiny", "--epochs", "2",
            "--metrics", "m.tsv"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "micro-batch 8 x accumulation 1 x 1 device(s)" in out and "note:" not in out
    epochs = [row for row in read_metrics(tmp_path / "m.tsv") if row["kind"] == "epoch"]
    assert [row["step"] for row in epochs] == ["10", "20"]
    assert float(epochs[1]["val_loss"]) < float(epochs[0]["val_loss"]) < 8.0
    # the epoch as the progress lines give it (2.00), not rounded to a whole one
    assert f"best epoch {float(epochs[1]['epoch']):.2f}: validation loss" in out
    assert sorted(os.listdir(tmp_path)) == ["m.tsv", "m.zip"]  # checkpoints removed on success


def test_options_have_the_tools_defaults_and_the_tutorials():
    """Every option the Galaxy tool sets has the tool's default; the tutorial preset gets 32 x 50, 5e-4."""
    import xml.etree.ElementTree as ET

    from dnalm.cli import build_parser
    from dnalm.commands.setting_options import option_name, settings_from_args
    from dnalm.settings import declared_settings
    from dnalm.training.pretraining_settings import PretrainingSettings

    args = build_parser("pretrain").parse_args(["pretrain", "t.parquet", "-o", "m.zip"])
    settings = settings_from_args(PretrainingSettings, args)
    tutorial = settings.with_model_defaults("tutorial")
    assert (tutorial.batch_size, tutorial.gradient_accumulation, tutorial.learning_rate) == (32, 50, 5e-4)
    assert settings.with_model_defaults("small-dense") == tutorial
    assert settings.with_model_defaults(None) == tutorial  # --config, --init-model
    tiny = settings.with_model_defaults("tiny")
    assert (tiny.batch_size, tiny.gradient_accumulation, tiny.learning_rate) == (8, 1, 3e-3)
    cpu = settings.with_model_defaults("cpu-dense")
    assert (cpu.batch_size, cpu.gradient_accumulation, cpu.learning_rate) == (32, 1, 2e-3)
    # The CPU recipe's 5% warmup is cpu-dense's own; the others start at the peak, as the tutorial.
    assert (cpu.warmup_ratio, tiny.warmup_ratio, tutorial.warmup_ratio) == (0.05, 0.0, 0.0)
    explicit = PretrainingSettings(batch_size=16).with_model_defaults("tiny")
    assert (explicit.batch_size, explicit.gradient_accumulation) == (16, 1)
    no_warmup = PretrainingSettings(warmup_ratio=0.0).with_model_defaults("cpu-dense")
    assert no_warmup.warmup_ratio == 0.0  # an explicit 0 is kept, not read as "unset"

    field_of = {option_name(f): f.name for f in declared_settings(PretrainingSettings)}
    tool = ET.parse(REPO / "tools" / "dnalm_pretrain.xml")
    compared = 0
    for param in tool.iter("param"):
        if param.get("argument") not in field_of:
            continue
        value = getattr(tutorial, field_of[param.get("argument")])
        if param.get("type") == "select":
            default = next(o.get("value") for o in param.iter("option") if o.get("selected") == "true")
            assert default == value, param.get("argument")
        elif param.get("type") == "boolean":
            assert (param.get("checked") == "true") == value, param.get("argument")
        elif param.get("value"):  # an empty value: the preset's default
            assert float(param.get("value")) == pytest.approx(value), param.get("argument")
        compared += 1
    assert compared >= 18


def test_killed_run_resumes_and_ends_as_an_uninterrupted_run(few_tokens, tmp_path):
    """SIGKILL mid-epoch, rerun the same command: same history, same final validation loss."""
    argv = ["pretrain", str(few_tokens), "-o", "m.zip", *FAST, "--epochs", "4", "--metrics", "m.tsv",
            "--logging-steps", "1", "--precision", "fp32"]
    whole = tmp_path / "whole"
    whole.mkdir()
    uninterrupted = run_cli(argv, whole)
    assert uninterrupted.returncode == 0, uninterrupted.stderr

    process = subprocess.Popen([sys.executable, "-m", "dnalm.cli", *argv], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:  # 3 steps per epoch: kill during step 5, in epoch 2
        if line.startswith("epoch ") and " step 4/12 " in line:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait()
    checkpoints = tmp_path / ".m.zip.checkpoints"
    assert process.returncode == -signal.SIGKILL and not (tmp_path / "m.zip").exists()
    assert [p.name for p in checkpoints.glob("checkpoint-*")] == ["checkpoint-3"]

    resumed = run_cli(argv, tmp_path)  # the default checkpoint folder: the same command resumes
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from .m.zip.checkpoints/checkpoint-3" in resumed.stdout
    progress = [line for line in resumed.stdout.splitlines() if line.startswith("epoch ") and " step " in line]
    assert progress[0].split("  ")[1] == "step 4/12"  # not started over
    rows, whole_rows = read_metrics(tmp_path / "m.tsv"), read_metrics(whole / "m.tsv")
    assert [row["step"] for row in rows if row["kind"] == "epoch"] == ["3", "6", "9", "12"]
    assert [(row["kind"], row["step"], row["val_loss"], row["train_loss"]) for row in rows] == \
        [(row["kind"], row["step"], row["val_loss"], row["train_loss"]) for row in whole_rows]
    assert not checkpoints.exists()  # removed once the outputs were written


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopped_run_says_where_its_checkpoints_are_and_how_to_resume_or_remove_them(
        few_tokens, tmp_path, stop):
    argv = ["pretrain", str(few_tokens), "-o", "m.zip", *FAST, "--epochs", "4",
            "--logging-steps", "1", "--precision", "fp32"]
    # Ctrl-C as at a terminal: a shell's background job (nohup ... &) ignores SIGINT, and
    # its children would inherit that.
    process = subprocess.Popen([sys.executable, "-m", "dnalm.cli", *argv], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in process.stdout:  # 3 steps per epoch: stop during epoch 2, after checkpoint-3
        if line.startswith("epoch ") and " step 4/12 " in line:
            process.send_signal(stop)
            break
    _, stderr = process.communicate(timeout=120)
    folder = (tmp_path / ".m.zip.checkpoints").resolve()
    assert process.returncode == 130 and not (tmp_path / "m.zip").exists()
    assert (folder / "checkpoint-3" / "trainer_state.json").is_file()  # kept, to resume from
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert f"stopped: the checkpoints so far are in {folder} ({size / 1e6:.1f} MB; newest checkpoint-3)" in stderr
    assert f"--checkpoint-dir {folder}" in stderr and f"rm -r {folder}" in stderr


def test_continue_pretraining_from_a_model(trained, few_tokens, tmp_path):
    argv = ["pretrain", str(few_tokens), "-o", str(tmp_path / "more.zip"), "--init-model",
            str(trained / "model.zip"), "--gradient-accumulation", "1", "--epochs", "1",
            "--metrics", str(tmp_path / "m.tsv"), "--checkpoint-dir", str(tmp_path / "ck")]
    assert main(argv) == 0
    first_loss = float(read_metrics(tmp_path / "m.tsv")[0]["train_loss"])
    assert first_loss < 7.5  # starts from the trained model, not from scratch (~8.3)


def test_token_id_outside_the_vocabulary_is_refused(tmp_path, capsys):
    def plant(ids):
        ids[5][3] = 5000

    tokens = write_token_table(tmp_path / "bad.parquet", read_fasta(WINDOWS)[:40], mangle=plant)
    out = tmp_path / "m.zip"
    assert main(["pretrain", str(tokens), "-o", str(out), *FAST]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("dnalm pretrain: error:") and "exon_SNP6" in error
    assert "token id 5000" in error and "4096" in error
    assert not out.exists()


def test_data_from_another_tokenizer_than_the_model_is_refused(trained, tmp_path, capsys):
    tokens = write_token_table(tmp_path / "kmer.parquet", read_fasta(WINDOWS)[:40], "kmer:3")
    out = tmp_path / "m.zip"
    assert main(["pretrain", str(tokens), "-o", str(out), "--init-model",
                 str(trained / "model.zip")]) == 1
    error = capsys.readouterr().err
    assert "different tokenizer" in error and "model.zip" in error
    assert not out.exists()


def test_config_with_another_vocabulary_is_refused(few_tokens, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "mistral", "vocab_size": 32000, "hidden_size": 32}))
    assert main(["pretrain", str(few_tokens), "-o", str(tmp_path / "m.zip"), "--config", str(config)]) == 1
    assert "vocab_size 32000" in capsys.readouterr().err

    config.write_text(json.dumps({"model_type": "gpt2"}))
    assert main(["pretrain", str(few_tokens), "-o", str(tmp_path / "m.zip"), "--config", str(config)]) == 1
    assert "model_type 'gpt2' is not a language model the DNA LM tools run" in capsys.readouterr().err
    # a masked LM's config is one, for the other objective (tests/test_pretrain_masked.py)
    config.write_text(json.dumps({"model_type": "bert"}))
    assert main(["pretrain", str(few_tokens), "-o", str(tmp_path / "m.zip"), "--config", str(config)]) == 1
    assert "config config.json is a masked LM (bert): pretrain it with --objective masked" in \
        capsys.readouterr().err
    assert not (tmp_path / "m.zip").exists()


def test_checkpoints_of_another_run_are_not_resumed(few_tokens, tmp_path, capsys):
    checkpoints = tmp_path / "ck"
    checkpoints.mkdir()
    (checkpoints / "dnalm_run.json").write_text(json.dumps({"fingerprint": "someone else"}))
    assert main(["pretrain", str(few_tokens), "-o", str(tmp_path / "m.zip"), *FAST,
                 "--checkpoint-dir", str(checkpoints)]) == 1
    assert "different run" in capsys.readouterr().err


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_learn(few_tokens, tmp_path, capsys, precision):
    argv = ["pretrain", str(few_tokens), "-o", str(tmp_path / "m.zip"), *FAST, "--epochs", "2",
            "--precision", precision, "--metrics", str(tmp_path / "m.tsv"),
            "--checkpoint-dir", str(tmp_path / "ck")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"; {precision}" in out  # the training line names the precision
    # 76 training windows, 32 per step: the log says so, and what to lower.
    assert "note: an epoch is only 3 optimiser step(s)" in out and "--gradient-accumulation" in out
    val_losses = [float(row["val_loss"]) for row in read_metrics(tmp_path / "m.tsv")
                  if row["kind"] == "epoch"]
    assert val_losses[0] > val_losses[1]


def test_precision_and_attention_follow_the_hardware():
    from dnalm.runtime.hardware import attention_implementation, use_bf16

    assert (use_bf16("fp32"), use_bf16("bf16")) == (False, True)
    on_gpu = torch.cuda.is_available()
    cpu_bf16 = torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    expected = torch.cuda.is_bf16_supported() if on_gpu else cpu_bf16
    assert use_bf16("auto") == expected
    # PyTorch's CPU flash-attention backward is slow in bf16: eager attention there.
    assert attention_implementation("auto", bf16=True) == ("sdpa" if on_gpu else "eager")
    assert attention_implementation("auto", bf16=False) == "sdpa"
    assert attention_implementation("sdpa", bf16=True) == "sdpa"


@pytest.mark.parametrize("amx, avx512_bf16, expected", [
    (True, True, (True, "AMX")),
    (False, True, (True, "AVX512-BF16")),  # e.g. AMD EPYC (Zen 4): faster in bf16 (issue 12)
    (False, False, (False, "no bf16 matrix instructions on this CPU")),
])
def test_cpu_precision_follows_its_bf16_instructions(monkeypatch, amx, avx512_bf16, expected):
    from dnalm.runtime import hardware

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    assert (hardware.use_bf16("auto"), hardware.precision_reason("auto")) == expected
    assert hardware.use_bf16("fp32") is False and hardware.precision_reason("fp32") == "asked"


def test_flash_attention_is_chosen_on_a_gpu_where_installed(monkeypatch):
    from dnalm.runtime import hardware

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(hardware, "flash_attention_installed", lambda: True)
    assert hardware.attention_implementation("auto", bf16=True) == "flash_attention_2"
    assert hardware.attention_implementation("auto", bf16=False) == "sdpa"  # it needs bf16/fp16
    monkeypatch.setattr(hardware, "flash_attention_installed", lambda: False)
    assert hardware.attention_implementation("auto", bf16=True) == "sdpa"


def test_experts_run_in_bf16_grouped_gemms_on_a_gpu_in_bf16(monkeypatch):
    from transformers.integrations.moe import ALL_EXPERTS_FUNCTIONS

    from dnalm.runtime import hardware

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert hardware.experts_implementation("grouped_mm", bf16=True) == "grouped_mm"  # no oneDNN path
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert hardware.experts_implementation("grouped_mm", bf16=False) == "grouped_mm"
    assert hardware.experts_implementation("eager", bf16=True) == "eager"
    chosen = hardware.experts_implementation("grouped_mm", bf16=True)
    assert chosen == "grouped_mm_autocast" and chosen in ALL_EXPERTS_FUNCTIONS


def test_allocator_keeps_freed_memory_under_glibc():
    import platform

    from dnalm.runtime.allocator import keep_freed_memory

    assert keep_freed_memory() == (platform.libc_ver()[0] == "glibc")


def test_accumulation_is_folded_into_larger_micro_batches_with_the_same_update():
    from dnalm.training.pretraining import PretrainingSettings, micro_batching

    tutorial = PretrainingSettings().with_model_defaults("tutorial")
    assert micro_batching(tutorial) == (200, 8)  # the tutorial's 32 x 50 = 1,600 sequences
    assert micro_batching(PretrainingSettings(batch_size=32, gradient_accumulation=4)) == (128, 1)
    assert micro_batching(tutorial.__class__(batch_size=32, gradient_accumulation=50,
                                             micro_batch_size=32)) == (32, 50)


def test_several_gpus_relaunch_under_torchrun():
    from dnalm.runtime.multi_gpu import relaunch_if_several_gpus, torchrun_command

    command = torchrun_command(4, ["pretrain", "t.parquet", "-o", "m.zip"])
    assert command[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=4",
                           "-m", "dnalm.cli", "pretrain", "t.parquet", "-o", "m.zip"]
    if torch.cuda.device_count() < 2:
        assert relaunch_if_several_gpus(["pretrain"]) is None  # train in this process


def test_the_relaunch_is_decided_by_torchruns_environment_not_argv(monkeypatch, capsys):
    """`dnalm pretrain` relaunches itself on several GPUs, except inside torchrun (LOCAL_RANK)."""
    import dnalm.runtime.multi_gpu as multi_gpu

    launched = []
    monkeypatch.setattr(multi_gpu, "gpus_to_use", lambda: 2)
    monkeypatch.setattr(multi_gpu.subprocess, "call",
                        lambda command, env: launched.append((command, env)) or 0)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("DNALM_NO_DDP", raising=False)
    argv = ["pretrain", "absent.parquet", "-o", "m.zip", "--preset", "tiny"]
    assert main(argv) == 0  # main() called as a test calls it: the same decision as the CLI
    (command, env), = launched
    assert command[-len(argv):] == argv and "--nproc-per-node=2" in command
    assert main(["tokenize", "absent.fa", "-o", "t.parquet"]) == 1  # not a data-parallel command
    assert len(launched) == 1

    monkeypatch.setenv("LOCAL_RANK", "0")  # a torchrun rank: train here
    assert main(argv) == 1
    assert "absent.parquet does not exist" in capsys.readouterr().err
    assert len(launched) == 1


def test_a_large_gpu_runs_the_tutorials_step_in_one_pass(monkeypatch):
    from types import SimpleNamespace

    from dnalm.training.pretraining import PretrainingSettings, micro_batching

    tutorial = PretrainingSettings().with_model_defaults("tutorial")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for gib, expected in ((80, (1600, 1)), (24, (400, 4))):
        monkeypatch.setattr(torch.cuda, "get_device_properties",
                            lambda device, gib=gib: SimpleNamespace(total_memory=gib * 2**30))
        assert micro_batching(tutorial) == expected
