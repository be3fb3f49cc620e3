"""dnalm predict: exactly plain transformers' numbers on Mistral-DNA's real tf0 classifier."""

import csv

import numpy as np
import pytest
import torch

from dnalm.cli import main
from dnalm.errors import DnalmError
from dnalm.io.labelled_sequences import class_indices, class_names, read_labelled
from helpers import MICRO_ZIP, MISTRAL_DNA, REPO

TF0_TEST = REPO / "tests" / "data" / "gue_tf0" / "test.csv"
TF0_SLICE = REPO / "test-data" / "tf0_test_small.csv"


def read_tsv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_reference_row_on_the_whole_tf0_test_set(tmp_path):
    """../shared/data/README.md: accuracy 0.749, MCC 0.5068, AUROC 0.8293 (float32, CPU)."""
    out, metrics = tmp_path / "p.tsv", tmp_path / "m.tsv"
    assert main(["predict", str(MISTRAL_DNA), str(TF0_TEST), "-o", str(out),
                 "--metrics", str(metrics)]) == 0
    values = {row["metric"]: float(row["value"]) for row in read_tsv(metrics)}
    assert values["sequences"] == 1000
    assert values["accuracy"] == pytest.approx(0.749, abs=0.003)
    assert values["mcc"] == pytest.approx(0.5068, abs=0.003)
    assert values["auroc"] == pytest.approx(0.8293, abs=0.003)
    assert values["f1"] == pytest.approx(0.7468, abs=0.003)
    assert values["precision"] == pytest.approx(0.7579, abs=0.003)
    rows = read_tsv(out)
    assert len(rows) == 1000 and list(rows[0]) == [
        "id", "label", "predicted", "probability_LABEL_0", "probability_LABEL_1"]


def test_probabilities_equal_transformers_one_sequence_at_a_time(tmp_path):
    from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast

    out = tmp_path / "p.tsv"
    confusion, roc = tmp_path / "cm.png", tmp_path / "roc.png"
    assert main(["predict", str(MISTRAL_DNA), str(TF0_SLICE), "-o", str(out),
                 "--confusion-matrix", str(confusion), "--roc", str(roc)]) == 0
    ours = np.array([[float(r["probability_LABEL_0"]), float(r["probability_LABEL_1"])]
                     for r in read_tsv(out)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(MISTRAL_DNA / "tokenizer.json"))
    model = AutoModelForSequenceClassification.from_pretrained(str(MISTRAL_DNA), dtype=torch.float32)
    sequences = read_labelled(TF0_SLICE).sequences
    with torch.no_grad():
        theirs = np.concatenate([
            torch.softmax(model(**tokenizer([s], return_tensors="pt")).logits, -1).numpy()
            for s in sequences[:40]])
    np.testing.assert_allclose(ours[:40], theirs, atol=2e-6)
    assert confusion.stat().st_size > 5000 and roc.stat().st_size > 5000


def test_labels_match_classes_by_name_or_by_index():
    assert class_indices(["1", "0", "LABEL_1"], {0: "LABEL_0", 1: "LABEL_1"}, "x") == [1, 0, 1]
    assert class_indices(["tata", "none"], {0: "none", 1: "tata"}, "x") == [1, 0]
    with pytest.raises(DnalmError, match="row 2 has the label '2', which is not one of the "
                                         "classes of the model \\(LABEL_0, LABEL_1\\)"):
        class_indices(["1", "2"], {0: "LABEL_0", 1: "LABEL_1"}, "x")
    assert class_names(["10", "2", "2"], "x") == ["2", "10"]
    assert class_names(["tata", "none"], "x") == ["none", "tata"]


def test_unseen_test_label_is_refused_and_nothing_written(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,label\nACGTACGT,1\nACGTTT,7\n")
    out = tmp_path / "p.tsv"
    assert main(["predict", str(MISTRAL_DNA), str(bad), "-o", str(out)]) == 1
    assert "row 2 has the label '7', which is not one of the classes" in capsys.readouterr().err
    assert not out.exists()


def test_a_causal_lm_without_head_is_sent_to_finetune(tmp_path, capsys):
    out = tmp_path / "p.tsv"
    assert main(["predict", str(MICRO_ZIP), str(TF0_SLICE), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "without a classification head (no score.weight)" in err and "'dnalm finetune'" in err
    assert not out.exists()


def test_unlabelled_fasta_gives_predictions_only(tmp_path, capsys):
    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\nACGTACGTAAAT\n>b\nGGGCCCAT\n")
    out = tmp_path / "p.tsv"
    assert main(["predict", str(MISTRAL_DNA), str(fasta), "-o", str(out)]) == 0
    rows = read_tsv(out)
    assert [r["id"] for r in rows] == ["a", "b"] and "label" not in rows[0]
    assert main(["predict", str(MISTRAL_DNA), str(fasta), "-o", str(out), "--metrics",
                 str(tmp_path / "m.tsv")]) == 1
    assert "has no labels" in capsys.readouterr().err
