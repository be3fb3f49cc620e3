"""Fine-tune a sequence classifier with ``transformers.Trainer``: the tutorial's recipe, faster.

The recipe is the GTN tutorial "Fine-tuning a LLM for DNA Sequence
Classification": LoRA (r 16, alpha 16, dropout 0.05) on the q/k/v/o
projections with the head trained, lr 1e-5, batch 16, bf16 where the hardware
has it, evaluation every epoch, the best epoch kept, early stopping after 3
epochs without improvement. What makes it faster than the notebook is below
the Trainer: batches of similar length (little padding, and no attention mask
at all when a batch has none), large sorted evaluation batches, the best
epoch's trainable weights kept in memory instead of checkpoints written to
disk every epoch, and fused AdamW.
"""

import math
import time
from dataclasses import dataclass

import torch
from transformers import Trainer, TrainerCallback

from dnalm.inference.classification import ClassificationCollator
from dnalm.inference.classification_metrics import SELECTION_METRICS, classification_metrics, softmax
from dnalm.runtime.hardware import use_bf16
from dnalm.settings import setting
from dnalm.training.callbacks import NothingLearned, ProgressLines, TimeBudget, how_training_stopped
from dnalm.training.classifier_model import METHODS
from dnalm.training.trainer import without_default_printers
from dnalm.training.trainer_settings import SPEED, TRAINING, TrainerSettings, build_training_arguments


@dataclass
class FinetuneSettings(TrainerSettings):
    """Every knob of ``dnalm finetune`` (``TrainerSettings``'s shared ones and its own); the
    defaults are the tutorial's."""

    method: str = setting("lora", "what trains: LoRA adapters + head (tutorial), every weight "
                          "(full), or the head on a frozen backbone (head: a linear probe)",
                          choices=METHODS, group="method")
    lora_r: int = setting(16, "LoRA rank (tutorial: 16)", group="method", min=1)
    lora_alpha: float = setting(16.0, "LoRA scaling alpha (tutorial: 16)", group="method", min=0)
    lora_dropout: float = setting(0.05, "dropout on the LoRA path (tutorial: 0.05)", group="method",
                                  min=0, below=1)
    lora_targets: list = setting([], "comma-separated linear layers to adapt, each must exist "
                                 "(default: the attention projections of the architecture: "
                                 "q_proj,k_proj,v_proj,o_proj as the tutorial for Mistral, Mixtral, "
                                 "Llama and Qwen; query,key,value,dense for ESM and BERT; Wqkv,Wo "
                                 "for ModernBERT)", group="method")
    new_head: bool = setting(False, "start from a new classification head even where the "
                             "checkpoint's own head has the same classes", group="method")
    epochs: float = setting(3.0, "maximum number of epochs (tutorial: 3)", group=TRAINING,
                            above=0)
    batch_size: int = setting(16, "sequences per optimiser step (tutorial: 16)", group=TRAINING,
                              min=1)
    learning_rate: float = setting(1e-5, "peak learning rate (tutorial: 1e-5)", group=TRAINING,
                                   min=0)
    weight_decay: float = setting(0.0, "AdamW weight decay (tutorial: 0)", group=TRAINING, min=0)
    warmup_ratio: float = setting(0.0, "share of the steps spent warming the learning rate up",
                                  group=TRAINING, min=0, below=1)
    best_metric: str = setting("loss", "validation metric that picks the best epoch (tutorial: "
                               "loss)", choices=tuple(SELECTION_METRICS), group=TRAINING)
    early_stopping_patience: int = setting(3, "epochs without a better validation metric before "
                                           "stopping (tutorial: 3; 0 = never stop early)",
                                           group=TRAINING, min=0)
    validation_fraction: float = setting(0.1, "share of the training rows held out for "
                                         "validation when no --validation table is given",
                                         group=TRAINING, above=0, below=1)
    eval_batch_size: int = setting(0, "sequences per evaluation pass (0 = 256 on a CPU, 1024 on "
                                   "a GPU)", group=SPEED, min=0)


def examples(token_ids, class_indices, sort_by_length=False):
    """Trainer examples; evaluation sets are sorted by length (order does not change metrics)."""
    rows = [{"input_ids": ids, "labels": label} for ids, label in zip(token_ids, class_indices)]
    return sorted(rows, key=lambda row: len(row["input_ids"])) if sort_by_length else rows


# What a run that learns nothing is told to try (the learning-rate help of the tool says the same).
NOT_LEARNING_ADVICE = ("try a higher --learning-rate (a new head on a small model learns faster "
                       "with 1e-4 to 1e-3), more epochs or more training rows")


def evaluation_metrics(prediction):
    """The classification metrics, and how many classes the predictions use (1: a collapse)."""
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    probabilities = softmax(logits)
    return {**classification_metrics(prediction.label_ids, probabilities),
            "predicted_classes": len(set(probabilities.argmax(axis=1).tolist()))}


class BestEpoch(TrainerCallback):
    """Keep the best epoch's trainable weights in memory; stop after ``patience`` worse epochs.

    What the Trainer does with ``load_best_model_at_end`` and
    ``EarlyStoppingCallback``, without writing a checkpoint every epoch: with
    LoRA only the adapters and the head are copied.
    """

    def __init__(self, model, metric, patience, print_fn=print):
        self.model, self.print = model, print_fn
        self.key, self.greater_is_better = SELECTION_METRICS[metric]
        self.patience = patience
        self.best_value, self.best_epoch, self.best_weights, self.worse = None, None, None, 0

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        value = (metrics or {}).get(self.key)
        if value is None or math.isnan(value):
            return
        better = self.best_value is None or (
            value > self.best_value if self.greater_is_better else value < self.best_value)
        if better:
            self.best_value, self.best_epoch, self.worse = value, state.epoch, 0
            self.best_weights = {name: parameter.detach().clone()
                                 for name, parameter in self.model.named_parameters()
                                 if parameter.requires_grad}
        else:
            self.worse += 1
            if self.patience and self.worse >= self.patience:
                self.print(f"early stopping: {self.worse} epoch(s) without a better "
                           f"{self.key[5:]}", flush=True)
                control.should_training_stop = True

    def restore(self):
        if self.best_weights is None:
            return
        parameters = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in self.best_weights.items():
                parameters[name].copy_(value)


class ClassificationProgress(ProgressLines):
    """The pretraining tool's progress lines (loss, speed, ETA); evaluation as classification metrics."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        super().on_log(args, state, control, logs={k: v for k, v in logs.items()
                                                   if not k.startswith("eval_")}, **kwargs)
        if "eval_loss" in logs and state.is_world_process_zero:
            self.print(
                f"epoch {state.epoch:.2f}  validation loss {logs['eval_loss']:.4f}  "
                + "  ".join(f"{name} {logs.get('eval_' + name, float('nan')):.4f}"
                            for name in ("accuracy", "f1", "mcc", "auroc")),
                flush=True,
            )


def bf16_pays(precision, hidden_size):
    """bf16 where it pays: ``use_bf16``'s choice, except for narrow models on a CPU.

    On a CPU, autocast's casts cost more than AMX saves when the matrices are
    small: Mistral-DNA's 64-wide model trained about 1.5x slower in bf16
    (bench/bench_finetune.py). Asked for explicitly, bf16 is used anyway.
    """
    if precision == "auto" and not torch.cuda.is_available() and hidden_size < 512:
        return False
    return use_bf16(precision)


def auto_eval_batch_size():
    """Sequences per evaluation pass for --eval-batch-size 0: 1024 on a GPU, 256 on a CPU."""
    return 1024 if torch.cuda.is_available() else 256


def finetuning_arguments(settings, output_dir, steps_per_epoch, bf16=False):
    """The fine-tuning recipe's ``TrainingArguments``: no checkpoints, batches of similar length."""
    return build_training_arguments(
        settings, output_dir, steps_per_epoch,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.eval_batch_size or auto_eval_batch_size(),
        bf16=bf16,
        train_sampling_strategy="group_by_length",
        save_strategy="no",  # BestEpoch keeps the best weights in memory
        include_num_input_tokens_seen="all",
    )


@dataclass
class FinetuneRun:
    """What ``train_classifier`` returns: the best model and how training went."""

    model: torch.nn.Module  # the best epoch's weights loaded (LoRA still unmerged)
    log_history: list  # the Trainer's
    epochs_run: float
    optimiser_steps: int
    stopped_by: str  # "time budget", "early stopping" or "all epochs / steps done"
    seconds: float
    bf16: bool
    best_epoch: float  # None when no epoch was evaluated
    best_metric: str  # the selection metric's name, e.g. "loss"
    best_value: float  # None when no epoch was evaluated


def train_classifier(model, train_set, validation_set, settings, pad_id, scratch, print_fn=print):
    """Train ``model`` (already set up by ``apply_method``); return a ``FinetuneRun``, best epoch loaded.

    ``train_set`` / ``validation_set`` are lists of ``{"input_ids", "labels"}``.
    """
    steps_per_epoch = max(1, math.ceil(len(train_set) / settings.batch_size))
    bf16 = bf16_pays(settings.precision, model.config.hidden_size)
    arguments = finetuning_arguments(settings, scratch, steps_per_epoch, bf16)
    best = BestEpoch(model, settings.best_metric, settings.early_stopping_patience, print_fn)
    budget = TimeBudget(settings.time_budget_minutes, print_fn)
    trainer = without_default_printers(Trainer(
        model=model, args=arguments, train_dataset=train_set, eval_dataset=validation_set,
        data_collator=ClassificationCollator(pad_id), compute_metrics=evaluation_metrics,
        callbacks=[best, ClassificationProgress(print_fn, budget), budget, NothingLearned(
            ("eval_accuracy", "eval_f1", "eval_mcc", "eval_auroc"), "eval_predicted_classes",
            NOT_LEARNING_ADVICE, print_fn)],
    ))
    print_fn(f"training: {len(train_set):,} sequences, {len(validation_set):,} for validation; "
             f"batch {settings.batch_size}, {steps_per_epoch} steps per epoch; "
             f"{'bf16' if arguments.bf16 else 'fp32'}", flush=True)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    state = trainer.state
    print_fn(f"trained in {seconds:.1f} s: {state.global_step * settings.batch_size / seconds:,.1f} "
             "sequences/s (evaluation included)", flush=True)
    best.restore()
    if best.best_epoch is not None:
        print_fn(f"best epoch {best.best_epoch:.2f}: validation {best.key[5:]} "
                 f"{best.best_value:.4f}", flush=True)
    return FinetuneRun(
        model=trainer.model, log_history=state.log_history, epochs_run=state.epoch or 0.0,
        optimiser_steps=state.global_step, stopped_by=how_training_stopped(state, budget),
        seconds=seconds, bf16=arguments.bf16, best_epoch=best.best_epoch,
        best_metric=best.key[5:], best_value=best.best_value,
    )
