"""Fine-tuning's per-epoch table and curves, from the Trainer's log history."""

import csv

from dnalm.inference.classification_metrics import METRIC_NAMES
from dnalm.io.plotting import pyplot, show_at_least

HISTORY_COLUMNS = ("epoch", "step", "train_loss", "val_loss", *METRIC_NAMES, "learning_rate",
           "tokens_per_second")


def epoch_rows(log_history):
    """One row per evaluation: the mean training loss since the last one and the validation metrics."""
    rows, losses, speeds, learning_rate = [], [], [], None
    for entry in log_history:
        if "loss" in entry:
            losses.append(entry["loss"])
            learning_rate = entry.get("learning_rate", learning_rate)
            if entry.get("tokens_per_second") is not None:
                speeds.append(entry["tokens_per_second"])
        elif "eval_loss" in entry:
            row = {"epoch": entry.get("epoch"), "step": entry.get("step"),
                   "train_loss": sum(losses) / len(losses) if losses else None,
                   "val_loss": entry["eval_loss"], "learning_rate": learning_rate,
                   "tokens_per_second": sum(speeds) / len(speeds) if speeds else None}
            row.update({name: entry.get(f"eval_{name}") for name in METRIC_NAMES})
            rows.append(row)
            losses, speeds = [], []
    return rows


def write_epoch_table(rows, path):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(HISTORY_COLUMNS)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else
                             f"{row[c]:.6g}" if isinstance(row[c], float) else row[c] for c in HISTORY_COLUMNS])


def plot_curves(rows, path, best_metric="loss"):
    """Training and validation loss, and the validation metrics, per epoch."""
    plt = pyplot()
    epochs = [row["epoch"] for row in rows]
    figure, (loss_axes, metric_axes) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot(epochs, [row["train_loss"] for row in rows], "o-", label="training")
    loss_axes.plot(epochs, [row["val_loss"] for row in rows], "o-", label="validation")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("cross-entropy loss")
    loss_axes.set_title("Fine-tuning")
    loss_axes.legend()
    metrics = ("accuracy", "f1", "mcc", "auroc")
    for name in metrics:
        metric_axes.plot(epochs, [row[name] for row in rows], "o-", label=name)
    metric_axes.set_xlabel("epoch")
    metric_axes.set_ylabel("validation metric")
    show_at_least(metric_axes, [row[name] for row in rows for name in metrics])
    metric_axes.set_title(f"best epoch chosen by {best_metric}")
    metric_axes.legend()
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
