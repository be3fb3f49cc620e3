"""Classification metrics, the same for fine-tuning's evaluation and for predict.

The tutorial's five (accuracy, macro F1, MCC, macro precision and recall) plus
AUROC and AUPR from the class probabilities: for two classes, of the second
class (label 1); for more, the one-vs-rest macro average. scikit-learn computes
them all, so the numbers are the ones papers report.
"""

import csv

import numpy as np

METRIC_NAMES = ("accuracy", "f1", "mcc", "precision", "recall", "auroc", "aupr")
# How a metric is chosen to pick the best epoch: name -> (Trainer key, higher is better).
SELECTION_METRICS = {
    "loss": ("eval_loss", False),
    "mcc": ("eval_mcc", True),
    "f1": ("eval_f1", True),
    "accuracy": ("eval_accuracy", True),
}


def softmax(logits):
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def classification_metrics(true, probabilities):
    """``{name: value}`` of ``METRIC_NAMES`` for class indices ``true`` and an (n, k) matrix."""
    from sklearn import metrics

    true = np.asarray(true)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    classes = np.arange(probabilities.shape[1])
    predicted = probabilities.argmax(axis=1)
    values = {
        "accuracy": metrics.accuracy_score(true, predicted),
        "f1": metrics.f1_score(true, predicted, average="macro", labels=classes, zero_division=0),
        "mcc": metrics.matthews_corrcoef(true, predicted),
        "precision": metrics.precision_score(true, predicted, average="macro", labels=classes,
                                             zero_division=0),
        "recall": metrics.recall_score(true, predicted, average="macro", labels=classes,
                                       zero_division=0),
    }
    values.update(ranking_metrics(true, probabilities))
    return {name: float(value) for name, value in values.items()}


def ranking_metrics(true, probabilities):
    """AUROC and AUPR; NaN where the data hold fewer than two of the classes."""
    from sklearn import metrics

    present = np.unique(true)
    if len(present) < 2:
        return {"auroc": float("nan"), "aupr": float("nan")}
    if probabilities.shape[1] == 2:
        positive = probabilities[:, 1]
        return {"auroc": metrics.roc_auc_score(true, positive),
                "aupr": metrics.average_precision_score(true, positive)}
    # One-vs-rest, averaged over the classes that occur (a class never seen has no curve).
    aurocs, auprs = [], []
    for index in present:
        is_class = (true == index).astype(int)
        aurocs.append(metrics.roc_auc_score(is_class, probabilities[:, index]))
        auprs.append(metrics.average_precision_score(is_class, probabilities[:, index]))
    return {"auroc": float(np.mean(aurocs)), "aupr": float(np.mean(auprs))}


def confusion(true, predicted, class_count):
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(true, predicted, labels=np.arange(class_count))


def write_metrics_table(path, values, extra=None):
    """A two-column TSV ``metric  value`` (``extra``: more rows first, e.g. the sequence count)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(("metric", "value"))
        for name, value in {**(extra or {}), **values}.items():
            writer.writerow((name, f"{value:.4f}" if isinstance(value, float) else value))
