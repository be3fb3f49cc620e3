"""Fine-tune a DNA language model into a sequence classifier (LoRA, full or head only).

The input is a table with a sequence and a label column (GUE's sequence,label)
or a FASTA with 'label=VALUE' in each header; the output is one model zip with
the classes in its config (id2label) and any LoRA adapter merged into the
weights, loadable by AutoModelForSequenceClassification without peft.
"""

import tempfile
from pathlib import Path

from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.errors import DnalmError
from dnalm.inference.classification_metrics import write_metrics_table
from dnalm.io.model_archive import pack_model_directory
from dnalm.io.outputs import atomic_outputs
from dnalm.runtime.allocator import keep_freed_memory
from dnalm.runtime.device import announce_device
from dnalm.training import classification_history as history
from dnalm.io.labelled_sequences import DEFAULT_LABEL_COLUMN
from dnalm.training.classification_data import read_datasets
from dnalm.training.classifier_finetuning import finetune, finetuning_report_sections
from dnalm.training.finetuning import FinetuneSettings
from dnalm.io.html_report import write_html_report
from dnalm.training.trainer_settings import OUTPUTS


def add_arguments(parser):
    parser.add_argument("model", metavar="MODEL",
                        help="model zip or directory: a 'dnalm pretrain' zip, Mistral-DNA's, or any "
                             "Mistral/Mixtral/Llama/Qwen checkpoint (safetensors + tokenizer.json)")
    parser.add_argument("train", metavar="TRAIN",
                        help="training sequences with labels: CSV/TSV with a header, or FASTA "
                             "with 'label=VALUE' in each header")
    parser.add_argument("-o", "--output", required=True, help="model zip to write")
    data = parser.add_argument_group("data")
    data.add_argument("--validation", help="validation table (default: --validation-fraction of TRAIN)")
    data.add_argument("--test", help="test table, evaluated once with the best model")
    data.add_argument("--column", default=None,
                      help="sequence column of CSV/TSV inputs (default: sequence, text or seq)")
    data.add_argument("--label-column", default=DEFAULT_LABEL_COLUMN,
                      help="label column of CSV/TSV inputs (default: label)")
    # What trains first in --help, then the knobs shared with pretrain.
    method_first = {"method": parser.add_argument_group("method")}
    outputs = add_setting_options(parser, FinetuneSettings, groups=method_first)[OUTPUTS]
    outputs.add_argument("--metrics", help="per-epoch validation metrics to write (TSV)")
    outputs.add_argument("--curves", help="loss and metric curves to write (PNG)")
    outputs.add_argument("--report", help="HTML report to write")
    outputs.add_argument("--test-metrics", help="test metrics to write (TSV; needs --test)")
    outputs.add_argument("--input-name", help="name of TRAIN in the report (default: its file name)")
    outputs.add_argument("--model-name", help="name of MODEL in the report (default: its file name)")


def run(args):
    settings = settings_from_args(FinetuneSettings, args)
    if args.test_metrics and not args.test:
        raise DnalmError("--test-metrics needs a --test table")
    keep_freed_memory()
    announce_device("finetune")
    datasets = read_datasets(args.train, args.validation, args.test, args.column,
                             args.label_column, settings.validation_fraction, settings.seed)
    with tempfile.TemporaryDirectory(prefix="dnalm_finetune_") as scratch:
        result = finetune(args.model, datasets, settings, Path(scratch))
        write_finetuning_outputs(args, settings, result, Path(scratch))


def write_finetuning_outputs(args, settings, result, scratch):
    """The model zip, and the metrics table, curves, test metrics and report where asked for."""
    run, test_values = result.run, result.test_values
    rows = history.epoch_rows(run.log_history)
    targets = (args.output, args.metrics, args.curves, args.report, args.test_metrics)
    with atomic_outputs(*targets) as (zip_path, metrics_path, curves_path, report_path, test_path):
        pack_model_directory(result.model_dir, zip_path)
        if metrics_path:
            history.write_epoch_table(rows, metrics_path)
        curves = curves_path or (scratch / "curves.png" if report_path and rows else None)
        if curves:
            history.plot_curves(rows, curves, settings.best_metric)
        if test_path:
            write_metrics_table(test_path, test_values,
                                extra={"sequences": result.facts["rows"]["test"]})
        if report_path:
            sections = finetuning_report_sections(settings, run, report_facts(args, result),
                                                  test_values)
            write_html_report(report_path, sections, {"Curves": curves} if rows else None,
                              title="DNA LM fine-tuning report")
    print(f"model written to {args.output}", flush=True)


def report_facts(args, result):
    """The run's facts with the datasets named as the user knows them (Galaxy's names)."""
    names = {"train": args.input_name, "source": args.model_name}
    return {**result.facts, **{key: name for key, name in names.items() if name}}
