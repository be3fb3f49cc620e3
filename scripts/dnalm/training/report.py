"""How training went, for people: a loss-curve PNG and a self-contained HTML report, and its content."""

from dnalm.io.plotting import pyplot, show_at_least
from dnalm.runtime.hardware import compile_mode


ACCURACY_LABELS = {"causal": "validation next-token accuracy",
                   "masked": "validation masked-token accuracy"}


def plot_loss_curve(rows, path, title="Pretraining", objective="causal"):
    """Training loss per logging step and validation loss per epoch, against epochs
    (a masked LM's: on its masked tokens)."""
    steps = [row for row in rows if row["kind"] == "step"]
    epochs = [row for row in rows if row["kind"] == "epoch"]
    plt = pyplot()
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot([r["epoch"] for r in steps], [r["train_loss"] for r in steps], label="training")
    loss_axes.plot(
        [r["epoch"] for r in epochs], [r["val_loss"] for r in epochs], "o-", label="validation"
    )
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("cross-entropy loss (nats/token)")
    loss_axes.set_title(f"{title} ({objective})")
    loss_axes.legend()
    accuracy_axes.plot(
        [r["epoch"] for r in epochs], [r["accuracy"] for r in epochs], "o-", color="tab:green"
    )
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel(ACCURACY_LABELS[objective])
    show_at_least(accuracy_axes, [r["accuracy"] for r in epochs])
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)


def pretraining_report_sections(result, input_name=None):
    """The report's tables for a ``pretraining.PretrainResult``: data, model, settings, result.

    ``input_name`` names the token table (Galaxy's dataset name); default: its file name.
    """
    from dnalm.runtime.multi_gpu import world_size
    from dnalm.training.metrics import best_epoch, metrics_rows
    from dnalm.training.pretraining import describe_objective

    run, settings, lengths = result.run, result.settings, result.lengths
    config = run.model.config
    total, active = result.parameters
    best = best_epoch(metrics_rows(run.log_history))
    model_table = {
        "source": result.model_source,
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
            "token table": input_name or result.token_table,
            "sequences": f"{lengths.sequences:,}",
            "tokens": f"{lengths.tokens:,}",
            "tokens per sequence (min / mean / max)":
                f"{lengths.shortest} / {lengths.mean:.1f} / {lengths.longest}",
            "validation split": result.split,
            "training / validation sequences": f"{result.n_train:,} / {result.n_validation:,}",
        },
        "Model": model_table,
        "Hyperparameters": {
            "objective": describe_objective(settings.objective),
            "epochs (max)": f"{settings.epochs:g}",
            "batch size x gradient accumulation":
                f"{settings.batch_size} x {settings.gradient_accumulation}",
            "micro-batch x accumulation x devices":
                f"{run.micro_batch} x {run.accumulation} x {world_size()}",
            "learning rate": settings.learning_rate,
            "schedule (warmup ratio)": f"{settings.lr_scheduler} ({settings.warmup_ratio:g})",
            "weight decay": settings.weight_decay,
            "early stopping patience": readable_setting("early_stopping_patience",
                                                        settings.early_stopping_patience),
            "time budget": readable_setting("time_budget_minutes", settings.time_budget_minutes),
            "seed": settings.seed,
            "precision": "bf16" if run.bf16 else "fp32",
            **batch_shape(settings),
            "attention / experts": f"{config._attn_implementation} / {settings.experts}",
            "torch.compile": (compile_mode(settings.compile_mode) if settings.compile
                              else "off"),
        },
        "Result": {
            "best epoch": f"{best['epoch']:.2f}" if best else "none evaluated",
            "best validation loss": f"{best['val_loss']:.4f}" if best else "",
            "best validation perplexity": f"{best['perplexity']:.3f}" if best else "",
            "best validation accuracy": f"{best['accuracy']:.4f}" if best else "",
            "epochs run": f"{run.epochs_run:.2f}",
            "optimiser steps": run.optimiser_steps,
            "stopped by": run.stopped_by,
        },
        "Time and hardware": time_and_hardware(run.seconds, {"devices": world_size()}),
    }


def batch_shape(settings):
    """How the report says a batch is laid out: packed rows (causal), or padded windows."""
    if settings.objective == "masked":
        return {"batch rows": "one window each, padded to the batch's longest"}
    return {"packed row length": settings.row_length}


def readable_setting(name, value, auto=None):
    """A setting's value as a report shows it: what 0, -1 or "auto" mean, said in words.

    ``auto`` is what an automatic value came to in this run, where the caller knows it.
    """
    if isinstance(value, list):  # an empty list leaves the choice to the run
        return ",".join(map(str, value)) or (f"auto: {auto}" if auto else "auto")
    meanings = {
        "time_budget_minutes": {0: "no limit"},
        "max_steps": {-1: "no limit: the epochs decide"},
        "early_stopping_patience": {0: "never stop early"},
        "eval_batch_size": {0: f"auto: {auto}" if auto else "auto"},
        "logging_steps": {0: "auto: about ten per epoch"},
        "micro_batch_size": {0: "auto: batch size x accumulation, up to the device's limit"},
        "row_length": {0: "auto: twice the longest sequence"},
        "dataloader_workers": {0: "none: the training process itself"},
        "warmup_ratio": {0: "0 (no warmup)"},
    }
    if value in meanings.get(name, {}) and not isinstance(value, bool):
        return meanings[name][value]
    if name == "time_budget_minutes":
        return f"{value:g} min"
    return value


def time_and_hardware(seconds, extra):
    """The report table of training time, device (then ``extra``'s rows), threads and versions."""
    import platform

    import torch
    import transformers

    from dnalm.training.callbacks import format_seconds

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else (
        platform.processor() or platform.machine())
    return {
        "training time": format_seconds(seconds),
        "device": device,
        **extra,
        "CPU threads": torch.get_num_threads(),
        "torch / transformers": f"{torch.__version__} / {transformers.__version__}",
    }
