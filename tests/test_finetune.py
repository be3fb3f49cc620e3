"""dnalm finetune: LoRA merged into a plain checkpoint, full and head-only training, bad input.

The micro model (2 layers of width 16) keeps each run to a few seconds.
"""

import csv
import json
import subprocess
import sys
import zipfile

import pytest
import torch
from safetensors.torch import load_file

from dnalm.cli import main
from helpers import MICRO_ZIP, MISTRAL_DNA, REPO

TRAIN = REPO / "test-data" / "tata_train_small.csv"
DEV = REPO / "test-data" / "tata_dev_small.csv"
TEST = REPO / "test-data" / "tata_test_small.csv"
FAST = ["--epochs", "1", "--batch-size", "16", "--learning-rate", "1e-3", "--precision", "fp32"]


def finetune(tmp_path, *options, model=MICRO_ZIP, train=TRAIN):
    out = tmp_path / "model.zip"
    code = main(["finetune", str(model), str(train), "-o", str(out), *FAST, *options])
    return code, out


def weights(model_zip, tmp_path):
    with zipfile.ZipFile(model_zip) as archive:
        archive.extractall(tmp_path / "unzipped")
    return load_file(str(tmp_path / "unzipped" / "model.safetensors")), \
        json.loads((tmp_path / "unzipped" / "config.json").read_text())


def read_tsv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_lora_is_merged_into_a_checkpoint_that_loads_without_peft(tmp_path):
    metrics, test_metrics, report, curves = (tmp_path / n for n in ("m.tsv", "t.tsv", "r.html", "c.png"))
    code, out = finetune(tmp_path, "--validation", str(DEV), "--test", str(TEST), "--epochs", "2",
                         "--metrics", str(metrics), "--test-metrics", str(test_metrics),
                         "--report", str(report), "--curves", str(curves),
                         "--input-name", "GUE TATA train", "--model-name", "micro model")
    assert code == 0
    assert "<th>training table</th><td>GUE TATA train</td>" in report.read_text()
    assert "<th>source</th><td>micro model</td>" in report.read_text()
    tensors, config = weights(out, tmp_path)
    assert config["architectures"] == ["MixtralForSequenceClassification"]
    assert config["id2label"] == {"0": "0", "1": "1"} and config["label2id"] == {"0": 0, "1": 1}
    assert not [name for name in tensors if "lora" in name or "modules_to_save" in name]
    assert tensors["score.weight"].shape == (2, 16)
    with zipfile.ZipFile(MICRO_ZIP) as archive:
        archive.extractall(tmp_path / "base")
    base = load_file(str(tmp_path / "base" / "model.safetensors"))
    # the adapters changed the attention projections; what LoRA does not touch is as it was
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(tensors[q], base[q])
    assert torch.equal(tensors["model.embed_tokens.weight"], base["model.embed_tokens.weight"])
    rows = read_tsv(metrics)
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert 0 <= float(rows[-1]["accuracy"]) <= 1 and float(rows[-1]["val_loss"]) > 0
    test_values = {row["metric"]: row["value"] for row in read_tsv(test_metrics)}
    assert test_values["sequences"] == "32" and set(test_values) >= {"accuracy", "mcc", "auroc"}
    assert "DNA LM fine-tuning report" in report.read_text() and curves.stat().st_size > 5000
    # the saved classifier loads with transformers alone, peft made unimportable
    script = (
        "import sys; sys.modules['peft'] = None\n"
        "from transformers import AutoModelForSequenceClassification as A\n"
        f"m = A.from_pretrained({str(tmp_path / 'unzipped')!r})\n"
        "print(type(m).__name__, m.config.id2label)"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert "MixtralForSequenceClassification {0: '0', 1: '1'}" in loaded.stdout


def test_predict_reads_the_fine_tuned_model_and_its_string_classes(tmp_path):
    fasta = tmp_path / "train.fa"
    rows = list(csv.DictReader(open(TRAIN)))
    names = {"0": "background", "1": "tata_promoter"}
    fasta.write_text("".join(f">seq{i} label={names[r['label']]}\n{r['sequence']}\n"
                             for i, r in enumerate(rows)))
    code, out = finetune(tmp_path, "--method", "full", "--validation", str(fasta), train=fasta)
    assert code == 0
    predictions = tmp_path / "p.tsv"
    assert main(["predict", str(out), str(fasta), "-o", str(predictions),
                 "--metrics", str(tmp_path / "pm.tsv")]) == 0
    table = read_tsv(predictions)
    assert list(table[0]) == ["id", "label", "predicted", "probability_background",
                              "probability_tata_promoter"]
    assert {row["predicted"] for row in table} <= set(names.values())
    assert table[0]["id"] == "seq0" and table[0]["label"] == names[rows[0]["label"]]


def test_head_method_trains_the_head_only(tmp_path):
    code, out = finetune(tmp_path, "--method", "head", "--validation", str(DEV))
    assert code == 0
    tensors, _ = weights(out, tmp_path)
    with zipfile.ZipFile(MICRO_ZIP) as archive:
        archive.extractall(tmp_path / "base")
    base = load_file(str(tmp_path / "base" / "model.safetensors"))
    backbone = [name for name in tensors if name != "score.weight"]
    assert backbone and all(torch.equal(tensors[n], base[n]) for n in backbone if n in base)


def test_a_run_that_learns_nothing_is_told_so(tmp_path, capsys):
    # a learning rate of 1e-12 moves no weight: the same validation metrics in both epochs
    code, _ = finetune(tmp_path, "--validation", str(DEV), "--epochs", "2", "--learning-rate", "1e-12")
    assert code == 0
    out = capsys.readouterr().out
    assert ("warning: the validation metrics (accuracy, f1, mcc, auroc) were the same in all 2 "
            "evaluations: the model may not be learning; try a higher --learning-rate (a new head "
            "on a small model learns faster with 1e-4 to 1e-3)") in out


def test_predictions_of_one_class_are_warned_about_and_moving_metrics_are_not():
    from transformers import TrainerState

    from dnalm.training.callbacks import NothingLearned

    said = []
    check = NothingLearned(("eval_accuracy",), "eval_predicted_classes", "try something",
                           print_fn=lambda text, flush: said.append(text))
    state = TrainerState()
    for epoch, accuracy, classes in ((1.0, 0.5, 1), (2.0, 0.61, 2)):
        state.epoch = epoch
        check.on_evaluate(None, state, None, metrics={"eval_accuracy": accuracy,
                                                      "eval_predicted_classes": classes})
    check.on_train_end(None, state, None)
    assert said == ["warning: epoch 1.00: every validation sequence is predicted as the same class: "
                    "the model may not be learning; try something"]


def test_a_checkpoint_with_the_same_classes_keeps_its_head(tmp_path, capsys):
    code, _ = finetune(tmp_path, "--method", "head", "--validation", str(DEV), "--max-steps", "1",
                       model=MISTRAL_DNA)
    assert code == 0
    assert "classification head: the checkpoint's own (0, 1)" in capsys.readouterr().out


@pytest.mark.parametrize("content, options, message", [
    ("sequence,label\nACGTAC,1\nACGTTT,1\n", [], "has only one class ('1')"),
    ("sequence,class\nACGTAC,1\nACGTTT,0\n", [], "has no label column 'label' (columns: sequence, class)"),
    ("sequence,label\nACGTAC,1\nACGTTT,\n", [], "row 2 ('2') has an empty label in column 'label'"),
    ("sequence,label\n", [], "has no rows"),
    (">a\nACGTAC\n>b label=1\nACGTTT\n", [], "record 'a' (record 1) has no label: write it in "
                                              "the header as a word 'label=VALUE'"),
    (None, ["--lora-targets", "q_proj,query"], "LoRA target(s) query match no linear layer"),
    (None, ["--test", "UNSEEN"], "row 1 has the label '5', which is not one of the classes of the training set (0, 1)"),
    (None, ["--validation", "EMPTY"], "has no rows"),
])
def test_bad_input_is_one_line_and_no_output(tmp_path, capsys, content, options, message):
    train = TRAIN
    if content is not None:
        train = tmp_path / "train.csv"
        train.write_text(content)
    (tmp_path / "unseen.csv").write_text("sequence,label\nACGTAC,5\n")
    (tmp_path / "empty.csv").write_text("sequence,label\n")
    options = [str(tmp_path / "unseen.csv") if o == "UNSEEN" else
               str(tmp_path / "empty.csv") if o == "EMPTY" else o for o in options]
    code, out = finetune(tmp_path, *options, train=train)
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_classifier_is_refused_by_generate_and_pretrain(tmp_path, capsys):
    out = tmp_path / "g.fa"
    assert main(["generate", str(MISTRAL_DNA), "-o", str(out), "--num-sequences", "1"]) == 1
    assert "'dnalm predict' classifies with it" in capsys.readouterr().err
    assert not out.exists()
    model = tmp_path / "m.zip"
    assert main(["pretrain", str(REPO / "test-data" / "pretrain_tokens.parquet"), "-o", str(model),
                 "--init-model", str(MISTRAL_DNA), "--checkpoint-dir", str(tmp_path / "c")]) == 1
    assert "use 'dnalm finetune' to train a classifier further" in capsys.readouterr().err
    assert not model.exists()


def test_bf16_only_where_it_pays(monkeypatch):
    from dnalm.training import finetuning

    monkeypatch.setattr(finetuning, "use_bf16", lambda precision: precision != "fp32")
    monkeypatch.setattr(finetuning.torch.cuda, "is_available", lambda: False)
    assert finetuning.bf16_pays("auto", 64) is False  # a narrow model on a CPU: casts cost more
    assert finetuning.bf16_pays("auto", 1024) is True
    assert finetuning.bf16_pays("bf16", 64) is True  # asked for explicitly
    assert finetuning.bf16_pays("fp32", 1024) is False


def test_report_tables_come_from_the_run_result():
    from dnalm.training.classifier_finetuning import finetuning_report_sections
    from dnalm.training.finetuning import FinetuneRun, FinetuneSettings

    run = FinetuneRun(model=None, log_history=[], epochs_run=2.0, optimiser_steps=8,
                      stopped_by="early stopping", seconds=3725.0, bf16=False, best_epoch=1.0,
                      best_metric="mcc", best_value=0.4321)
    facts = dict(source="m.zip", train="TATA train rows", architecture="MixtralForSequenceClassification",
                 classes=["a", "b"], trainable=10, total=1000, rows={"train": 64, "validation": 16},
                 lora_targets=["q_proj", "k_proj", "v_proj", "o_proj"])
    sections = finetuning_report_sections(FinetuneSettings(best_metric="mcc"), run, facts, {"accuracy": 0.75})
    assert sections["Result"] == {"best epoch": "1.00", "best validation mcc": "0.4321",
                                  "epochs run": "2.00", "optimiser steps": 8,
                                  "stopped by": "early stopping"}
    hardware = sections["Time and hardware"]
    assert list(hardware)[:3] == ["training time", "device", "precision"]
    assert hardware["training time"] == "1:02:05" and hardware["precision"] == "fp32"
    assert sections["Test"] == {"accuracy": "0.7500"}
    assert sections["Data"] == {"training table": "TATA train rows", "train sequences": "64",
                                "validation sequences": "16"}
    settings = sections["Settings"]  # what 0 and -1 mean, in words; lists as the option takes them
    assert settings["time_budget_minutes"] == "no limit"
    assert settings["max_steps"] == "no limit: the epochs decide"
    assert settings["eval_batch_size"] == f"auto: {1024 if torch.cuda.is_available() else 256}"
    assert settings["logging_steps"] == "auto: about ten per epoch"
    assert settings["lora_targets"] == "auto: q_proj,k_proj,v_proj,o_proj"  # the architecture's
    assert settings["learning_rate"] == 1e-05 and settings["early_stopping_patience"] == 3
