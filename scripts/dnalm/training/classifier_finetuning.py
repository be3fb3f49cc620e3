"""Fine-tune a model into a sequence classifier as one call: data -> model -> Trainer -> result.

``finetune`` is the whole run without any output writing (the command writes
the model zip, metrics, curves and report from the returned
``FinetuneResult``), as ``pretraining.pretrain`` is for pretraining. The
pieces: ``dnalm.io.labelled_sequences`` (labelled rows, classes, token ids),
``classification_data`` (the datasets and the validation split),
``classifier_model`` (the head and what trains), ``finetuning`` (the settings
and the Trainer recipe).
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

from transformers import set_seed

from dnalm.inference.batches import pad_id_of
from dnalm.inference.classification import predict_probabilities
from dnalm.inference.classification_metrics import classification_metrics
from dnalm.io.model_archive import open_model
from dnalm.io.model_tokenizers import TOKENIZER_FILES
from dnalm.runtime.hardware import attention_implementation
from dnalm.settings import settings_summary
from dnalm.training import classifier_model
from dnalm.io.labelled_sequences import class_indices, class_names, token_ids
from dnalm.training.finetuning import (FinetuneRun, auto_eval_batch_size, bf16_pays, examples,
                                       train_classifier)
from dnalm.training.report import readable_setting, time_and_hardware

# The tokenizer travels with the fine-tuned model as the files it came as: a tokenizer.json, or
# the vocab.txt of an ESM or BERT tokenizer (read again the same way, DNABERT-1's k-mers included).
COPIED_TOKENIZER_FILES = TOKENIZER_FILES + ("special_tokens_map.json",)


@dataclass
class FinetuneResult:
    """A finished fine-tuning: the merged model's folder and what the outputs need."""

    run: FinetuneRun
    model_dir: Path  # the merged model and its tokenizer, as save_pretrained writes them
    test_values: dict  # test metrics; None without a test set
    facts: dict  # source, train, architecture, classes, parameters and rows, for the report


def finetune(model_path, datasets, settings, scratch):
    """Fine-tune the model at ``model_path`` on ``datasets`` (``classification_data.read_datasets``).

    The merged model is saved under ``scratch``, which must outlive the result.
    """
    classes = class_names(datasets["train"].labels, datasets["train"].source)
    indices = {name: class_indices(data.labels, dict(enumerate(classes)), data.source,
                                   model_source="the training set")
               for name, data in datasets.items()}
    set_seed(settings.seed)
    with open_model(model_path) as model_files:
        tokenizer = model_files.tokenizer()
        pad_id = pad_id_of(tokenizer, model_files.config)
        tokens = {name: token_ids(data, tokenizer, model_files.max_positions)
                  for name, data in datasets.items()}
        bf16 = bf16_pays(settings.precision, model_files.config.get("hidden_size", 0))
        attention = attention_implementation(settings.attention, bf16)
        model = classifier_model.load_for_finetuning(model_files, classes, attention=attention,
                                                     new_head_wanted=settings.new_head)
        lora_targets = classifier_model.lora_targets(model_files.model_type, settings.lora_targets)
        model = classifier_model.apply_method(
            model, settings.method, settings.lora_r, settings.lora_alpha, settings.lora_dropout,
            lora_targets)
        trainable, total = classifier_model.parameter_counts(model)
        adapted = f" (LoRA on {','.join(lora_targets)})" if settings.method == "lora" else ""
        print(f"model: {model_files.architecture} -> {len(classes)} classes; method "
              f"{settings.method}{adapted}: {trainable:,} of {total:,} parameters train", flush=True)
        run = train_classifier(
            model, examples(tokens["train"], indices["train"]),
            examples(tokens["validation"], indices["validation"], sort_by_length=True),
            settings, pad_id, scratch / "trainer")
        final = classifier_model.merged(run.model)
        model_dir = scratch / "model"
        final.save_pretrained(str(model_dir))
        for name in COPIED_TOKENIZER_FILES:
            if (model_files.directory / name).is_file():
                shutil.copy(model_files.directory / name, model_dir / name)
        test_values = evaluate_test(final, tokens.get("test"), indices.get("test"), pad_id)
        facts = dict(source=Path(model_path).name, train=Path(datasets["train"].source).name,
                     architecture=model_files.architecture,
                     classes=classes, trainable=trainable, total=total, lora_targets=lora_targets,
                     rows={name: len(data) for name, data in datasets.items()},
                     record=model_files.record.summary() if model_files.record else None)
    return FinetuneResult(run=run, model_dir=model_dir, test_values=test_values, facts=facts)


def evaluate_test(model, token_ids, class_indices, pad_id):
    """The test set's metrics with the final model; None without a test set."""
    if token_ids is None:
        return None
    values = classification_metrics(class_indices, predict_probabilities(model, token_ids, pad_id))
    print("test: " + "  ".join(f"{name} {value:.4f}" for name, value in values.items()), flush=True)
    return values


def finetuning_report_sections(settings, run, facts, test_values):
    """The report's tables for a ``finetuning.FinetuneRun``: data, model, settings, result."""
    # what the settings left to the run came to
    automatic = {"eval_batch_size": auto_eval_batch_size(),
                 "lora_targets": ",".join(facts.get("lora_targets") or ())}
    sections = {
        "Data": {"training table": facts["train"],
                 **{f"{name} sequences": f"{count:,}" for name, count in facts["rows"].items()}},
        "Model": {"source": facts["source"], "architecture": facts["architecture"],
                  "classes (id2label order)": ", ".join(facts["classes"]),
                  "trainable / total parameters": f"{facts['trainable']:,} / {facts['total']:,}",
                  # an installed model's provenance: the exact weights behind the result
                  **({"installed model": facts["record"]} if facts.get("record") else {})},
        "Settings": {name: readable_setting(name, value, automatic.get(name))
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
