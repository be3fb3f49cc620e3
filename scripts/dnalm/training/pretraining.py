"""Train a causal LM with ``transformers.Trainer``, the tutorial's way, only faster.

The recipe is the tutorial's (Trainer, AdamW, lr 5e-4, weight decay 0.01,
batch 32 x gradient accumulation 50, evaluate and save every epoch, keep the
best model by validation loss, early stopping with patience 3). What makes it
fast is below the Trainer: packed rows (see ``packing``), fused attention
kernels, grouped-GEMM experts, fused AdamW, bf16 where the hardware has it
(see ``hardware``), optional ``torch.compile``, and bigger micro-batches with
the same effective batch in sequences.
"""

import functools
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import (
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from dnalm.errors import DnalmError
from dnalm.runtime.hardware import use_bf16
from dnalm.training.packing import IGNORE_INDEX, PackedCollator, auto_row_length

CHECKPOINT_PREFIX = "checkpoint-"
RUN_FILE = "dnalm_run.json"  # which run the checkpoints in a directory belong to


@dataclass
class TrainingSettings:
    """Every training knob of the tool; defaults are the tutorial's."""

    epochs: float = 50
    batch_size: int = 32  # sequences per device and micro-batch, as in the tutorial
    gradient_accumulation: int = 50
    micro_batch_size: int = 0  # 0: the batch size on CPU, bigger on a GPU (same effective batch)
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    lr_scheduler: str = "linear"
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    early_stopping_patience: int = 3
    seed: int = 42
    precision: str = "auto"  # auto: bf16 where the hardware has it (hardware.use_bf16)
    compile: bool = False
    time_budget_minutes: float = 0  # 0: no limit
    max_steps: int = -1  # -1: run the epochs
    logging_steps: int = 0  # 0: about ten lines per epoch
    row_length: int = 0  # tokens per packed row; 0: twice the longest sequence
    dataloader_workers: int = 0
    extra: dict = field(default_factory=dict)


def world_size():
    return int(os.environ.get("WORLD_SIZE", "1"))


def micro_batching(settings):
    """``(micro-batch, accumulation)`` keeping batch x accumulation sequences per update.

    32 sequences of ~45 tokens are too few to keep the hardware busy (64
    experts get ~20 tokens each), so the accumulation is folded into larger
    micro-batches: the largest divisor of the per-device sequences per update
    up to 256 on a CPU, 512 on a GPU. The update is the same: the Trainer
    averages the loss over all target tokens of the update either way.
    """
    effective = settings.batch_size * settings.gradient_accumulation
    per_device = max(1, effective // world_size())
    micro = settings.micro_batch_size
    if micro <= 0:
        limit = 512 if torch.cuda.is_available() else 256
        micro = max(d for d in range(1, min(per_device, limit) + 1) if per_device % d == 0)
    micro = min(micro, per_device)
    return micro, max(1, per_device // micro)


class ProgressLines(TrainerCallback):
    """One line per logging step in the job log: epoch, step, loss, tokens/s, ETA.

    It also writes ``tokens_per_second`` into the Trainer's log history, which
    is saved in every checkpoint, so the metrics table survives a resume.
    """

    def __init__(self, print_fn=print):
        self.print = print_fn
        self._last = None  # (time, tokens seen) at the last training log

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()
        self._start_step = state.global_step
        self._last = (self._start, state.num_input_tokens_seen)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        logs = logs or {}
        entry = state.log_history[-1] if state.log_history else {}
        now = time.perf_counter()
        if "loss" in logs:
            seconds = now - self._last[0]
            tokens = state.num_input_tokens_seen - self._last[1]
            speed = tokens / seconds if seconds > 0 else float("nan")
            entry["tokens_per_second"] = speed
            self._last = (now, state.num_input_tokens_seen)
            done = state.global_step - self._start_step
            left = state.max_steps - state.global_step
            eta = (now - self._start) / done * left if done else float("nan")
            self.print(
                f"epoch {state.epoch:.2f}/{args.num_train_epochs:g}  "
                f"step {state.global_step}/{state.max_steps}  loss {logs['loss']:.4f}  "
                f"lr {logs.get('learning_rate', float('nan')):.2e}  "
                f"tokens/s {speed:,.0f}  ETA {format_seconds(eta)}",
                flush=True,
            )
        if "eval_loss" in logs:
            self.print(
                f"epoch {state.epoch:.2f}  validation loss {logs['eval_loss']:.4f}  "
                f"perplexity {math.exp(min(logs['eval_loss'], 50)):.2f}  "
                f"accuracy {logs.get('eval_accuracy', float('nan')):.4f}",
                flush=True,
            )


class TimeBudget(TrainerCallback):
    """Stop cleanly once the wall-time budget is spent.

    Stopping mid-epoch still ends the epoch the Trainer's way: it evaluates and
    saves there, then loads the best model seen.
    """

    def __init__(self, minutes, print_fn=print):
        self.seconds = minutes * 60
        self.print = print_fn
        self.stopped = False

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self.seconds and time.perf_counter() - self._start > self.seconds:
            self.print(f"time budget of {self.seconds / 60:g} min used: stopping", flush=True)
            self.stopped = True
            control.should_training_stop = True
        return control


def format_seconds(seconds):
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def next_token_argmax(logits, labels):
    """Keep only each position's most likely token: evaluation then stores ints, not logits."""
    return logits.argmax(dim=-1)


def next_token_accuracy(prediction):
    """Share of target tokens the model ranks first (position t predicts token t+1)."""
    predicted = np.asarray(prediction.predictions)[:, :-1]
    targets = np.asarray(prediction.label_ids)[:, 1:]
    counted = targets != IGNORE_INDEX
    return {"accuracy": float((predicted[counted] == targets[counted]).mean())}


def last_complete_checkpoint(directory):
    """The newest checkpoint whose trainer state was written (the last file saved)."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    complete = [
        path
        for path in directory.glob(f"{CHECKPOINT_PREFIX}*")
        if path.name[len(CHECKPOINT_PREFIX) :].isdigit() and (path / "trainer_state.json").is_file()
    ]
    if not complete:
        return None
    return str(max(complete, key=lambda path: int(path.name[len(CHECKPOINT_PREFIX) :])))


def claim_checkpoint_directory(directory, fingerprint):
    """Mark ``directory`` as this run's; refuse to resume someone else's checkpoints."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    run_file = directory / RUN_FILE
    if run_file.is_file():
        if json.loads(run_file.read_text())["fingerprint"] != fingerprint:
            raise DnalmError(
                f"{directory} holds checkpoints of a different run (other data, model or "
                "settings): remove it or choose another --checkpoint-dir"
            )
    else:
        run_file.write_text(json.dumps({"fingerprint": fingerprint}))


def run_fingerprint(*parts):
    """A short hash of what makes two runs the same run (data, model, settings)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def training_arguments(settings, checkpoint_dir, steps_per_epoch):
    micro, accumulation = micro_batching(settings)
    logging_steps = settings.logging_steps or max(1, steps_per_epoch // 10)
    bf16 = use_bf16(settings.precision)
    return TrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=micro,
        per_device_eval_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_ratio,  # a float < 1 is a ratio of the total steps
        max_grad_norm=settings.max_grad_norm,
        optim="adamw_torch_fused",
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),  # the Trainer allows bf16 on a CPU only if told
        tf32=True if torch.cuda.is_available() else None,
        torch_compile=settings.compile,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,  # the newest, plus the best kept by load_best_model_at_end
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        restore_callback_states_from_checkpoint=True,  # early stopping's patience survives a resume
        logging_strategy="steps",
        logging_steps=logging_steps,
        include_num_input_tokens_seen="non_padding",
        seed=settings.seed,
        data_seed=settings.seed,
        dataloader_num_workers=settings.dataloader_workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        remove_unused_columns=False,
        disable_tqdm=True,
        report_to="none",
    )


class DnalmTrainer(Trainer):
    """``Trainer`` whose checkpoints keep the weight names the model has in memory.

    transformers 5 saves mixture-of-experts weights under their legacy names
    (``save_pretrained(save_original_format=True)``) but the Trainer reloads a
    checkpoint (to resume, or to load the best model at the end) with a plain
    ``load_state_dict``, which would then miss every expert weight. Checkpoints
    are therefore saved as they are in memory; the final model is saved by
    ``save_pretrained`` in the standard format.
    """

    def _save(self, output_dir=None, state_dict=None):
        model = self.accelerator.unwrap_model(self.model, keep_torch_compile=False)
        model.save_pretrained = functools.partial(model.save_pretrained, save_original_format=False)
        try:
            super()._save(output_dir, state_dict)
        finally:
            del model.save_pretrained  # back to the class's method


def train(model, tokenizer, train_set, validation_set, settings, checkpoint_dir, print_fn=print):
    """Run the Trainer; returns it with the best model loaded (resumes if it can)."""
    if not settings.row_length:
        lengths = [len(s) for s in train_set.sequences] + [len(s) for s in validation_set.sequences]
        settings.row_length = auto_row_length(lengths)
    micro, accumulation = micro_batching(settings)
    steps_per_epoch = max(1, math.ceil(len(train_set) / (micro * world_size())) // accumulation)
    arguments = training_arguments(settings, checkpoint_dir, steps_per_epoch)
    time_budget = TimeBudget(settings.time_budget_minutes, print_fn)
    trainer = DnalmTrainer(
        model=model,
        args=arguments,
        train_dataset=train_set,
        eval_dataset=validation_set,
        data_collator=PackedCollator(tokenizer.pad_token_id, settings.row_length,
                                     fixed_width=settings.compile),
        processing_class=tokenizer,
        # Evaluation keeps only the argmax of each position (ints), never the logits.
        preprocess_logits_for_metrics=next_token_argmax,
        compute_metrics=next_token_accuracy,
        callbacks=[
            EarlyStoppingCallback(early_stopping_patience=settings.early_stopping_patience),
            ProgressLines(print_fn),
            time_budget,
        ],
    )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    checkpoint = last_complete_checkpoint(checkpoint_dir)
    if checkpoint:
        print_fn(f"resuming from {checkpoint}", flush=True)
    print_fn(
        f"training: {len(train_set):,} sequences, {len(validation_set):,} for validation; "
        f"micro-batch {micro} x accumulation {accumulation} x {world_size()} device(s); "
        f"{'bf16' if arguments.bf16 else 'fp32'}",
        flush=True,
    )
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    trainer.dnalm_seconds = time.perf_counter() - started
    trainer.dnalm_budget_stop = time_budget.stopped
    return trainer


def settings_dict(settings):
    return asdict(settings)
