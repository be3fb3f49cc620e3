"""The training metrics table, built from the Trainer's log history.

The log history is saved in every checkpoint, so a resumed run still reports
its whole training. One row per logging step (``kind`` = step: training loss)
and one per epoch (``kind`` = epoch: validation loss and accuracy, with the
mean training loss of that epoch).
"""

import csv
import math

METRIC_TABLE_COLUMNS = (
    "kind",
    "epoch",
    "step",
    "train_loss",
    "val_loss",
    "perplexity",
    "accuracy",
    "learning_rate",
    "tokens_per_second",
)


def perplexity(loss):
    return math.exp(min(loss, 50.0)) if loss is not None else None


def metrics_rows(log_history):
    """Rows of ``METRIC_TABLE_COLUMNS`` (``None`` where a value does not apply) in step order."""
    rows, epoch_losses = [], []
    for entry in log_history:
        if "loss" in entry:
            epoch_losses.append(entry["loss"])
            rows.append(
                dict(
                    kind="step",
                    epoch=entry.get("epoch"),
                    step=entry.get("step"),
                    train_loss=entry["loss"],
                    perplexity=perplexity(entry["loss"]),
                    learning_rate=entry.get("learning_rate"),
                    tokens_per_second=entry.get("tokens_per_second"),
                )
            )
        elif "eval_loss" in entry:
            train_loss = sum(epoch_losses) / len(epoch_losses) if epoch_losses else None
            epoch_losses = []
            last_lr = next((r["learning_rate"] for r in reversed(rows) if r["kind"] == "step"), None)
            rows.append(
                dict(
                    kind="epoch",
                    epoch=entry.get("epoch"),
                    step=entry.get("step"),
                    train_loss=train_loss,
                    val_loss=entry["eval_loss"],
                    perplexity=perplexity(entry["eval_loss"]),
                    accuracy=entry.get("eval_accuracy"),
                    learning_rate=last_lr,
                    tokens_per_second=_epoch_speed(rows),
                )
            )
    return [{column: row.get(column) for column in METRIC_TABLE_COLUMNS} for row in rows]


def _epoch_speed(rows):
    """Mean training tokens/s over the step rows since the previous epoch row."""
    speeds = []
    for row in reversed(rows):
        if row["kind"] == "epoch":
            break
        if row.get("tokens_per_second") is not None:
            speeds.append(row["tokens_per_second"])
    return sum(speeds) / len(speeds) if speeds else None


def write_metrics_tsv(rows, path):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(METRIC_TABLE_COLUMNS)
        for row in rows:
            writer.writerow([_cell(row[column]) for column in METRIC_TABLE_COLUMNS])


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def best_epoch(rows):
    """The epoch row with the lowest validation loss, or ``None``."""
    epochs = [row for row in rows if row["kind"] == "epoch"]
    return min(epochs, key=lambda row: row["val_loss"]) if epochs else None
