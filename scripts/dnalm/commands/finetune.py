"""Fine-tune a DNA language model into a sequence classifier (LoRA, full or head only).

The input is a table with a sequence and a label column (GUE's sequence,label)
or a FASTA with 'label=VALUE' in each header; the output is one model zip with
the classes in its config (id2label) and any LoRA adapter merged into the
weights, loadable by AutoModelForSequenceClassification without peft.
"""

import shutil
import tempfile
from pathlib import Path

from dnalm.commands.setting_options import add_setting_options, settings_from_args, settings_summary
from dnalm.errors import DnalmError
from dnalm.io.outputs import atomic_outputs
from dnalm.training.classification_data import DEFAULT_LABEL_COLUMN
from dnalm.training.finetuning import FinetuneSettings

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


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
    add_setting_options(parser, FinetuneSettings)
    outputs = parser.add_argument_group("outputs")
    outputs.add_argument("--metrics", help="per-epoch validation metrics to write (TSV)")
    outputs.add_argument("--curves", help="loss and metric curves to write (PNG)")
    outputs.add_argument("--report", help="HTML report to write")
    outputs.add_argument("--test-metrics", help="test metrics to write (TSV; needs --test)")
    outputs.add_argument("--input-name", help="name of TRAIN in the report (default: its file name)")
    outputs.add_argument("--model-name", help="name of MODEL in the report (default: its file name)")


def run(args):
    from dnalm.runtime.allocator import keep_freed_memory
    from dnalm.runtime.device import announce_device
    from dnalm.training.finetuning import check_settings

    settings = settings_from_args(FinetuneSettings, args)
    check_settings(settings)
    if args.test_metrics and not args.test:
        raise DnalmError("--test-metrics needs a --test table")
    keep_freed_memory()
    announce_device("finetune")
    finetune(args, settings)


def finetune(args, settings):
    from transformers import set_seed

    from dnalm.io.model_archive import open_model
    from dnalm.runtime.hardware import attention_implementation
    from dnalm.training import classifier_model
    from dnalm.training.classification_data import class_names
    from dnalm.training.finetuning import bf16_pays, examples, train_classifier

    train, validation, test = read_inputs(args, settings)
    classes = class_names(train.labels, args.train)
    indices = {name: class_indices_of(data, classes) for name, data in
               (("train", train), ("validation", validation), ("test", test)) if data is not None}
    set_seed(settings.seed)
    with open_model(args.model) as model_files, \
            tempfile.TemporaryDirectory(prefix="dnalm_finetune_") as scratch:
        scratch = Path(scratch)
        tokenizer = model_files.tokenizer()
        pad_id = pad_token_id(tokenizer, model_files.config)
        tokens = {name: tokenize(data, tokenizer, model_files.max_positions) for name, data in
                  (("train", train), ("validation", validation), ("test", test)) if data is not None}
        bf16 = bf16_pays(settings.precision, model_files.config.get("hidden_size", 0))
        attention = attention_implementation(settings.attention, bf16)
        model = classifier_model.load_for_finetuning(model_files, classes, attention=attention,
                                                     new_head_wanted=settings.new_head)
        model = classifier_model.apply_method(
            model, settings.method, settings.lora_r, settings.lora_alpha, settings.lora_dropout,
            settings.lora_targets)
        trainable, total = classifier_model.parameter_counts(model)
        print(f"model: {model_files.architecture} -> {len(classes)} classes; method "
              f"{settings.method}: {trainable:,} of {total:,} parameters train", flush=True)
        run = train_classifier(
            model, examples(tokens["train"], indices["train"]),
            examples(tokens["validation"], indices["validation"], sort_by_length=True),
            settings, pad_id, scratch / "trainer")
        final = classifier_model.merged(run.model)
        model_dir = scratch / "model"
        final.save_pretrained(str(model_dir))
        for name in TOKENIZER_FILES:
            if (model_files.directory / name).is_file():
                shutil.copy(model_files.directory / name, model_dir / name)
        test_values = evaluate_test(final, tokens.get("test"), indices.get("test"), pad_id)
        write_outputs(args, settings, run, model_dir, scratch, test_values,
                      dict(source=args.model_name or Path(args.model).name,
                           train=args.input_name or Path(args.train).name,
                           architecture=model_files.architecture,
                           classes=classes, trainable=trainable, total=total,
                           rows={n: len(d) for n, d in (("train", train), ("validation", validation),
                                                        ("test", test)) if d is not None}))


def read_inputs(args, settings):
    """Training, validation (given, or split off the training rows) and test sets."""
    from dnalm.training.classification_data import read_labelled

    def read(path):
        return read_labelled(path, sequence_column=args.column,
                             label_column=args.label_column)

    train = read(args.train)
    validation = read(args.validation) if args.validation else None
    test = read(args.test) if args.test else None
    if validation is None:
        train, validation = split_validation(train, settings.validation_fraction, settings.seed)
    return train, validation, test


def split_validation(data, fraction, seed):
    import numpy as np

    from dnalm.training.classification_data import LabelledSequences

    order = np.random.default_rng(seed).permutation(len(data))
    held_out = max(1, int(round(len(data) * fraction)))
    if held_out >= len(data):
        raise DnalmError(f"{data.source} has too few rows ({len(data)}) to hold some out for validation")

    def subset(positions):
        positions = sorted(positions)
        return LabelledSequences(data.source, [data.ids[i] for i in positions],
                                 [data.sequences[i] for i in positions],
                                 [data.labels[i] for i in positions])

    return subset(order[held_out:]), subset(order[:held_out])


def class_indices_of(data, classes):
    from dnalm.training.classification_data import class_indices

    return class_indices(data.labels, dict(enumerate(classes)), data.source,
                         model_source="the training set")


def pad_token_id(tokenizer, config):
    from dnalm.inference.batches import pad_id_of

    return pad_id_of(tokenizer, config)


def tokenize(data, tokenizer, max_positions):
    """Token ids with the tokenizer's special tokens; a sequence beyond the context is an error."""
    token_ids = [encoding.ids for encoding in tokenizer.encode_batch(data.sequences)]
    if max_positions:
        for record_id, ids in zip(data.ids, token_ids):
            if len(ids) > max_positions:
                raise DnalmError(f"{data.source} record '{record_id}' has {len(ids)} tokens, more "
                                 f"than the model's context of {max_positions}")
    return token_ids


def evaluate_test(model, token_ids, class_indices, pad_id):
    if token_ids is None:
        return None
    from dnalm.inference.classification import predict_probabilities
    from dnalm.inference.classification_metrics import classification_metrics

    values = classification_metrics(class_indices, predict_probabilities(model, token_ids, pad_id))
    print("test: " + "  ".join(f"{name} {value:.4f}" for name, value in values.items()), flush=True)
    return values


def write_outputs(args, settings, run, model_dir, scratch, test_values, facts):
    from dnalm.inference.classification_metrics import write_metrics_table
    from dnalm.io.model_archive import pack_model_directory
    from dnalm.training import classification_history as history
    from dnalm.training.report import write_html_report

    rows = history.epoch_rows(run.log_history)
    targets = (args.output, args.metrics, args.curves, args.report, args.test_metrics)
    with atomic_outputs(*targets) as (zip_path, metrics_path, curves_path, report_path, test_path):
        pack_model_directory(model_dir, zip_path)
        if metrics_path:
            history.write_epoch_table(rows, metrics_path)
        curves = curves_path or (scratch / "curves.png" if report_path and rows else None)
        if curves:
            history.plot_curves(rows, curves, settings.best_metric)
        if test_path:
            write_metrics_table(test_path, test_values, extra={"sequences": facts["rows"]["test"]})
        if report_path:
            write_html_report(report_path, report_sections(settings, run, facts, test_values),
                              curve_png=curves if rows else None,
                              title="DNA LM fine-tuning report")
    print(f"model written to {args.output}", flush=True)


def report_sections(settings, run, facts, test_values):
    """The report's tables for a ``finetuning.FinetuneRun``: data, model, settings, result."""
    import torch

    from dnalm.training.report import readable_setting, time_and_hardware

    sections = {
        "Data": {"training table": facts["train"],
                 **{f"{name} sequences": f"{count:,}" for name, count in facts["rows"].items()}},
        "Model": {"source": facts["source"], "architecture": facts["architecture"],
                  "classes (id2label order)": ", ".join(facts["classes"]),
                  "trainable / total parameters": f"{facts['trainable']:,} / {facts['total']:,}"},
        "Settings": {name: readable_setting(name, value, torch.cuda.is_available())
                     for name, value in settings_summary(settings).items()},
        "Result": {"best epoch": f"{run.best_epoch:.2f}" if run.best_epoch else "none evaluated",
                   f"best validation {run.best_metric}":
                       f"{run.best_value:.4f}" if run.best_value is not None else "",
                   "epochs run": f"{run.epochs_run:.2f}",
                   "optimiser steps": run.optimiser_steps, "stopped by": run.stopped_by},
        "Time and hardware": time_and_hardware(
            run.seconds, {"precision": "bf16" if run.bf16 else "fp32"}),
    }
    if test_values:
        sections["Test"] = {name: f"{value:.4f}" for name, value in test_values.items()}
    return sections
