"""How training went, for people: a loss-curve PNG and a self-contained HTML report."""

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")  # no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402


def plot_loss_curve(rows, path, title="Pretraining"):
    """Training loss per logging step and validation loss per epoch, against epochs."""
    steps = [row for row in rows if row["kind"] == "step"]
    epochs = [row for row in rows if row["kind"] == "epoch"]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot([r["epoch"] for r in steps], [r["train_loss"] for r in steps], label="training")
    loss_axes.plot(
        [r["epoch"] for r in epochs], [r["val_loss"] for r in epochs], "o-", label="validation"
    )
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("cross-entropy loss (nats/token)")
    loss_axes.set_title(title)
    loss_axes.legend()
    accuracy_axes.plot(
        [r["epoch"] for r in epochs], [r["accuracy"] for r in epochs], "o-", color="tab:green"
    )
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("validation next-token accuracy")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)


def write_html_report(path, sections, curve_png=None, title="DNA LM pretraining report"):
    """``sections``: ``{heading: {label: value}}``, shown as two-column tables."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
        "td:last-child{font-family:monospace}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if curve_png is not None:
        encoded = base64.b64encode(_read_bytes(curve_png)).decode("ascii")
        parts.append("<h2>Curves</h2>")
        parts.append(f'<img alt="loss curve" src="data:image/png;base64,{encoded}">')
    for heading, table in sections.items():
        parts.append(f"<h2>{html.escape(heading)}</h2><table>")
        for label, value in table.items():
            parts.append(f"<tr><th>{html.escape(str(label))}</th><td>{html.escape(str(value))}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts) + "\n")


def _read_bytes(source):
    if isinstance(source, io.BytesIO):
        return source.getvalue()
    with open(source, "rb") as handle:
        return handle.read()
