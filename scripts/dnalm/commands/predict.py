"""Classify DNA sequences with a fine-tuned model; with labels, also say how well it did.

The output table has the id, the predicted class and one probability column
per class (the model's id2label order). When the input has labels (a label
column, or 'label=VALUE' in FASTA headers), accuracy, macro F1, MCC, macro
precision and recall, AUROC and AUPR are computed, and a confusion matrix and
ROC curves can be drawn.
"""

import csv
from dataclasses import dataclass

from dnalm.commands.model_options import add_model_argument
from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.errors import DnalmError
from dnalm.inference import classification_metrics as metrics
from dnalm.inference.classification import load_classifier, predict_probabilities
from dnalm.inference.classification_plots import plot_confusion_matrix, plot_roc
from dnalm.inference.model_loading import inference_device
from dnalm.io.model_archive import open_model
from dnalm.io.outputs import atomic_outputs
from dnalm.io.labelled_sequences import (
    DEFAULT_LABEL_COLUMN,
    class_indices,
    read_labelled,
    token_ids,
)
from dnalm.settings import check_settings, setting


@dataclass
class PredictSettings:
    """The knobs of ``dnalm predict`` besides its input's columns."""

    batch_size: int = setting(None, "sequences per forward pass (default: 256 on a CPU, 1024 on "
                              "a GPU)", min=1)

    def __post_init__(self):
        check_settings(self)


def add_arguments(parser):
    add_model_argument(parser)
    parser.add_argument("input", metavar="INPUT",
                        help="sequences: CSV/TSV with a header, or FASTA (labels as 'label=VALUE')")
    parser.add_argument("-o", "--output", required=True, help="predictions table to write (TSV)")
    parser.add_argument("--column", default=None,
                        help="sequence column of a CSV/TSV input (default: sequence, text or seq)")
    parser.add_argument("--input-format", choices=("csv", "tsv", "fasta"), default=None,
                        help="format of the input (default: detected from its content)")
    parser.add_argument("--label-column", default=DEFAULT_LABEL_COLUMN,
                        help="label column of a CSV/TSV input; used for metrics when present "
                             "(default: label)")
    parser.add_argument("--id-column", default=None,
                        help="id column of a CSV/TSV input (default: row numbers)")
    parser.add_argument("--metrics", help="metrics table to write (TSV; needs labels)")
    parser.add_argument("--confusion-matrix", help="confusion matrix to draw (PNG; needs labels)")
    parser.add_argument("--roc", help="ROC curves to draw (PNG; needs labels)")
    add_setting_options(parser, PredictSettings)


def run(args):
    settings = settings_from_args(PredictSettings, args)
    wants_labels = args.metrics or args.confusion_matrix or args.roc
    data = read_labelled(args.input, sequence_column=args.column,
                         label_column=args.label_column, id_column=args.id_column,
                         input_format=args.input_format, require_labels=False)
    if wants_labels and not data.has_labels:
        raise DnalmError(f"{args.input} has no labels (no column '{args.label_column}' or "
                         "'label=' in the FASTA headers): metrics and plots need them")
    with open_model(args.model) as model_files:
        model = load_classifier(model_files)
        id2label = {int(i): str(name) for i, name in model.config.id2label.items()}
        true = class_indices(data.labels, id2label, args.input, model_files.source) \
            if data.has_labels else None
        tokenizer = model_files.tokenizer()
        ids_per_sequence = token_ids(data, tokenizer, model_files.max_positions)
        device = inference_device()
        batch_size = settings.batch_size or (1024 if device.type == "cuda" else 256)
        probabilities = predict_probabilities(model, ids_per_sequence, model.config.pad_token_id,
                                              batch_size=batch_size)
    class_names = [id2label[i] for i in range(len(id2label))]
    write_predictions(args, data, class_names, probabilities, true)


def write_predictions(args, data, class_names, probabilities, true):
    predicted = probabilities.argmax(axis=1)
    targets = (args.output, args.metrics, args.confusion_matrix, args.roc)
    with atomic_outputs(*targets) as (table_path, metrics_path, confusion_path, roc_path):
        with open(table_path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            labelled = true is not None
            writer.writerow(["id", *(["label"] if labelled else []), "predicted",
                             *(f"probability_{name}" for name in class_names)])
            for row, record_id in enumerate(data.ids):
                writer.writerow([record_id, *([data.labels[row]] if labelled else []),
                                 class_names[predicted[row]],
                                 *(f"{p:.6f}" for p in probabilities[row])])
        if true is None:
            print(f"{len(data):,} sequences classified (no labels: no metrics)", flush=True)
            return
        values = metrics.classification_metrics(true, probabilities)
        print(f"{len(data):,} sequences: " + "  ".join(f"{n} {v:.4f}" for n, v in values.items()),
              flush=True)
        if metrics_path:
            metrics.write_metrics_table(metrics_path, values, extra={"sequences": len(data)})
        if confusion_path:
            plot_confusion_matrix(metrics.confusion(true, predicted, len(class_names)),
                                  class_names, confusion_path)
        if roc_path:
            plot_roc(true, probabilities, class_names, roc_path)
