"""Train a causal DNA language model from scratch on a token table (next-token prediction).

The model is the tutorial's reduced Mixtral by default (or a smaller preset, a
config.json of your own, or an existing model to continue pretraining); the
output is a zip of a Hugging Face model directory with its tokenizer.
"""

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from dnalm.errors import DnalmError
from dnalm.io.outputs import atomic_outputs
from dnalm.runtime.hardware import ATTENTION_CHOICES, PRECISIONS
from dnalm.training.presets import PRESETS

EXPERTS_CHOICES = ("grouped_mm", "batched_mm", "eager")
SCHEDULES = ("linear", "cosine", "constant", "constant_with_warmup")


def add_arguments(parser):
    parser.add_argument("tokens", help="token table (Parquet) made by 'dnalm tokenize'")
    parser.add_argument("-o", "--output", required=True, help="model archive to write (.zip)")

    model = parser.add_argument_group("model").add_mutually_exclusive_group()
    model.add_argument("--preset", choices=PRESETS, default="tutorial",
                       help="architecture: the tutorial's Mixtral (default), a tiny Mixtral "
                            "for CPU demos, or a small dense Mistral")
    model.add_argument("--config", help="a Hugging Face config.json of a causal LM to build instead")
    model.add_argument("--init-model", help="model archive (.zip) to continue pretraining from")

    training = parser.add_argument_group("training (defaults are the tutorial's)")
    training.add_argument("--epochs", type=float, default=50, help="maximum number of epochs")
    training.add_argument("--batch-size", type=int, default=32, help="sequences per batch")
    training.add_argument("--gradient-accumulation", type=int, default=50,
                          help="batches per optimiser step (effective batch = batch size x this)")
    training.add_argument("--micro-batch-size", type=int, default=0,
                          help="sequences per forward pass; 0 = batch size x accumulation, up "
                               "to 256 (CPU) or 512 (GPU): the same update, fewer passes")
    training.add_argument("--learning-rate", type=float, default=5e-4)
    training.add_argument("--weight-decay", type=float, default=0.01)
    training.add_argument("--lr-scheduler", choices=SCHEDULES, default="linear",
                          help="learning-rate schedule after warmup")
    training.add_argument("--warmup-ratio", type=float, default=0.0,
                          help="share of the steps spent warming the learning rate up")
    training.add_argument("--max-grad-norm", type=float, default=1.0, help="gradient clipping")
    training.add_argument("--early-stopping-patience", type=int, default=3,
                          help="epochs without a better validation loss before stopping")
    training.add_argument("--validation-fraction", type=float, default=0.2,
                          help="share of sequences held out for validation")
    training.add_argument("--seed", type=int, default=42, help="seed of the split, initialisation and order")
    training.add_argument("--time-budget", type=float, default=0,
                          help="minutes of training after which it stops cleanly and keeps the "
                               "best model so far (0 = no limit)")
    training.add_argument("--max-steps", type=int, default=-1,
                          help="stop after this many optimiser steps (-1 = run the epochs)")

    speed = parser.add_argument_group("speed")
    speed.add_argument("--precision", choices=PRECISIONS, default="auto",
                       help="auto = bf16 mixed precision where the hardware has it (GPUs, CPUs "
                            "with AMX), else fp32")
    speed.add_argument("--compile", action="store_true", help="compile the model with torch.compile")
    speed.add_argument("--row-length", type=int, default=0,
                       help="tokens per packed row (sequences are packed, never split); "
                            "0 = twice the longest sequence")
    speed.add_argument("--attention", choices=ATTENTION_CHOICES, default="auto",
                       help="auto = flash-attn on a GPU in bf16 where installed, else PyTorch's "
                            "fused SDPA, or eager on a CPU in bf16 (faster there)")
    speed.add_argument("--experts", choices=EXPERTS_CHOICES, default="grouped_mm",
                       help="how mixture-of-experts layers run (eager = per-expert loop)")
    speed.add_argument("--dataloader-workers", type=int, default=0)

    outputs = parser.add_argument_group("outputs")
    outputs.add_argument("--metrics", help="training metrics table to write (TSV)")
    outputs.add_argument("--loss-curve", help="loss curve to write (PNG)")
    outputs.add_argument("--report", help="HTML report to write")
    outputs.add_argument("--logging-steps", type=int, default=0,
                         help="optimiser steps between progress lines (0 = about ten per epoch)")
    outputs.add_argument("--checkpoint-dir", default="dnalm_checkpoints",
                         help="where checkpoints go; a re-run with the same directory resumes")


def run(args):
    from dnalm.runtime.allocator import keep_freed_memory
    from dnalm.runtime.device import announce_device
    from dnalm.runtime.multi_gpu import relaunch_if_several_gpus

    if sys.argv[1:2] == ["pretrain"]:
        exit_code = relaunch_if_several_gpus(sys.argv[1:])
        if exit_code is not None:
            if exit_code:
                raise DnalmError(f"the data-parallel training processes failed (exit {exit_code})")
            return
    check_arguments(args)
    keep_freed_memory()
    announce_device("pretrain")
    pretrain(args)


def check_arguments(args):
    positive = ("batch_size", "gradient_accumulation")
    for name in positive:
        if getattr(args, name) < 1:
            raise DnalmError(f"--{name.replace('_', '-')} must be at least 1")
    if args.row_length < 0:
        raise DnalmError("--row-length must be 0 (automatic) or a number of tokens")
    if args.epochs <= 0:
        raise DnalmError("--epochs must be positive")
    if not 0 <= args.warmup_ratio < 1:
        raise DnalmError("--warmup-ratio must be in [0, 1)")
    if not Path(args.tokens).is_file():
        raise DnalmError(f"token table {args.tokens} does not exist")


def pretrain(args):
    from transformers import set_seed

    from dnalm.io.model_archive import open_model
    from dnalm.runtime.hardware import attention_implementation, use_bf16
    from dnalm.runtime.multi_gpu import is_main_process
    from dnalm.tokenization.loading import to_transformers
    from dnalm.training import data as data_module
    from dnalm.training import presets
    from dnalm.training import pretraining as training

    data = data_module.read_token_data(args.tokens)
    tokenizer = data.tokenizer
    attention = attention_implementation(args.attention, use_bf16(args.precision))
    set_seed(args.seed)
    with tempfile.TemporaryDirectory(prefix="dnalm_pretrain_") as scratch:
        if args.init_model:
            with open_model(args.init_model) as model_files:
                if not model_files.has_lm_head:  # e.g. a classifier made by 'dnalm finetune'
                    raise DnalmError(
                        f"model {args.init_model} is a {model_files.architecture} checkpoint "
                        "without a language-model head: pretraining continues a causal LM; "
                        "use 'dnalm finetune' to train a classifier further")
                check_same_tokenizer(model_files.tokenizer(), tokenizer, args.init_model, args.tokens)
                model = presets.load_model(
                    model_files.directory, attention=attention, experts=args.experts)
            model_source = f"continued from {Path(args.init_model).name}"
        else:
            if args.config:
                config = presets.config_from_file(args.config)
                check_config_vocabulary(tokenizer, args.config)
                model_source = f"config {Path(args.config).name}"
            else:
                config = presets.preset_config(args.preset)
                model_source = f"preset {args.preset}"
            config = presets.fit_config_to_tokenizer(config, tokenizer)
            model = presets.build_model(config, attention=attention, experts=args.experts)
        data_module.check_fits_model(data, model.config, args.tokens)
        total, active = presets.count_parameters(model)
        print(f"model: {model.config.model_type} ({model_source}), {total:,} parameters, "
              f"{active:,} active per token", flush=True)

        train_set, validation_set = data_module.split_train_validation(
            data.sequences, args.validation_fraction, args.seed)
        settings = training_settings(args)
        training.claim_checkpoint_directory(
            args.checkpoint_dir,
            training.run_fingerprint(
                Path(args.tokens).stat().st_size, data.ids[:100], model_source,
                model.config.to_dict(), args.validation_fraction,
                {k: v for k, v in training.settings_dict(settings).items()
                 if k not in ("epochs", "time_budget_minutes", "max_steps", "logging_steps",
                              "dataloader_workers", "compile")},
            ),
        )
        hf_tokenizer = to_transformers(tokenizer)
        trainer = training.train(model, hf_tokenizer, train_set, validation_set, settings,
                                 args.checkpoint_dir)
        if not is_main_process():
            return
        write_outputs(args, trainer, hf_tokenizer, data, train_set, validation_set,
                      model_source, (total, active), settings, Path(scratch))


def training_settings(args):
    from dnalm.training.pretraining import TrainingSettings

    return TrainingSettings(
        epochs=args.epochs,
        batch_size=args.batch_size,
        gradient_accumulation=args.gradient_accumulation,
        micro_batch_size=args.micro_batch_size,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        lr_scheduler=args.lr_scheduler,
        warmup_ratio=args.warmup_ratio,
        max_grad_norm=args.max_grad_norm,
        early_stopping_patience=args.early_stopping_patience,
        seed=args.seed,
        precision=args.precision,
        compile=args.compile,
        time_budget_minutes=args.time_budget,
        max_steps=args.max_steps,
        logging_steps=args.logging_steps,
        row_length=args.row_length,
        dataloader_workers=args.dataloader_workers,
    )


def write_outputs(args, trainer, hf_tokenizer, data, train_set, validation_set,
                  model_source, parameter_counts, settings, scratch):
    from dnalm.io.model_archive import pack_model_directory
    from dnalm.training import metrics, report

    rows = metrics.metrics_rows(trainer.state.log_history)
    model_dir = scratch / "model"
    model = trainer.accelerator.unwrap_model(trainer.model, keep_torch_compile=False)
    model.config.use_cache = True  # for generation by the next tools
    model.save_pretrained(str(model_dir))
    hf_tokenizer.save_pretrained(str(model_dir))

    targets = (args.output, args.metrics, args.loss_curve, args.report)
    with atomic_outputs(*targets) as (zip_path, metrics_path, curve_path, report_path):
        pack_model_directory(model_dir, zip_path)
        if metrics_path:
            metrics.write_metrics_tsv(rows, metrics_path)
        curve = curve_path or (scratch / "curve.png" if report_path else None)
        if curve:
            report.plot_loss_curve(rows, curve)
        if report_path:
            report.write_html_report(
                report_path,
                report_sections(args, trainer, data, train_set, validation_set, model_source,
                                parameter_counts, settings, rows),
                curve_png=curve,
            )
    best = metrics.best_epoch(rows)
    if best:
        print(f"best epoch {best['epoch']:.0f}: validation loss {best['val_loss']:.4f}, "
              f"accuracy {best['accuracy']:.4f}", flush=True)
    print(f"model written to {args.output}", flush=True)


def report_sections(args, trainer, data, train_set, validation_set, model_source,
                    parameter_counts, settings, rows):
    import torch
    import transformers

    from dnalm.runtime.hardware import use_bf16
    from dnalm.training.metrics import best_epoch
    from dnalm.training.pretraining import format_seconds, micro_batching

    lengths = data.lengths()
    config = trainer.model.config
    total, active = parameter_counts
    best = best_epoch(rows)
    state = trainer.state
    if trainer.dnalm_budget_stop:
        stopped = "time budget"
    elif state.max_steps and state.global_step < state.max_steps:
        stopped = "early stopping"
    else:
        stopped = "all epochs / steps done"
    micro, accumulation = micro_batching(settings)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else (
        platform.processor() or platform.machine())
    model_table = {
        "source": model_source,
        "architecture": config.architectures[0] if config.architectures else config.model_type,
        "layers": config.num_hidden_layers,
        "hidden size": config.hidden_size,
        "attention heads": config.num_attention_heads,
        "vocabulary": config.vocab_size,
        "parameters (total)": f"{total:,}",
        "parameters (active per token)": f"{active:,}",
    }
    if getattr(config, "num_local_experts", None):
        model_table["experts (used per token)"] = (
            f"{config.num_local_experts} ({config.num_experts_per_tok})")
    return {
        "Data": {
            "token table": Path(args.tokens).name,
            "sequences": f"{len(data.sequences):,}",
            "tokens": f"{int(lengths.sum()):,}",
            "tokens per sequence (min / mean / max)":
                f"{lengths.min()} / {lengths.mean():.1f} / {lengths.max()}",
            "training / validation sequences": f"{len(train_set):,} / {len(validation_set):,}",
        },
        "Model": model_table,
        "Hyperparameters": {
            "epochs (max)": f"{settings.epochs:g}",
            "batch size x gradient accumulation": f"{settings.batch_size} x {settings.gradient_accumulation}",
            "micro-batch x accumulation x devices": f"{micro} x {accumulation} x {os.environ.get('WORLD_SIZE', '1')}",
            "learning rate": settings.learning_rate,
            "schedule (warmup ratio)": f"{settings.lr_scheduler} ({settings.warmup_ratio:g})",
            "weight decay": settings.weight_decay,
            "early stopping patience": settings.early_stopping_patience,
            "seed": settings.seed,
            "precision": "bf16" if use_bf16(settings.precision) else "fp32",
            "packed row length": settings.row_length,
            "attention / experts": f"{config._attn_implementation} / {args.experts}",
            "torch.compile": settings.compile,
        },
        "Result": {
            "best epoch": f"{best['epoch']:.0f}" if best else "none evaluated",
            "best validation loss": f"{best['val_loss']:.4f}" if best else "",
            "best validation perplexity": f"{best['perplexity']:.3f}" if best else "",
            "best validation accuracy": f"{best['accuracy']:.4f}" if best else "",
            "epochs run": f"{state.epoch:.2f}",
            "optimiser steps": state.global_step,
            "stopped by": stopped,
        },
        "Time and hardware": {
            "training time": format_seconds(trainer.dnalm_seconds),
            "device": device,
            "devices": os.environ.get("WORLD_SIZE", "1"),
            "CPU threads": torch.get_num_threads(),
            "torch / transformers": f"{torch.__version__} / {transformers.__version__}",
        },
    }


def check_same_tokenizer(model_tokenizer, tokenizer, model_source, data_source):
    if model_tokenizer.get_vocab(with_added_tokens=True) != tokenizer.get_vocab(with_added_tokens=True):
        raise DnalmError(
            f"{data_source} was tokenized with a different tokenizer than the model "
            f"{model_source} ({tokenizer.get_vocab_size()} vs {model_tokenizer.get_vocab_size()} "
            "tokens): tokenize the data with the model's tokenizer"
        )


def check_config_vocabulary(tokenizer, source):
    declared = json.loads(Path(source).read_text(encoding="utf-8")).get("vocab_size")
    if declared is not None and declared != tokenizer.get_vocab_size():
        raise DnalmError(
            f"{source} has vocab_size {declared} but the data's tokenizer has "
            f"{tokenizer.get_vocab_size()} tokens: set vocab_size to {tokenizer.get_vocab_size()}"
        )

