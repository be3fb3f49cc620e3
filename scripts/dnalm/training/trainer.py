"""Train a language model with ``transformers.Trainer``, the tutorial's way, only faster.

The recipe is the tutorial's (Trainer, AdamW, lr 5e-4, weight decay 0.01,
batch 32 x gradient accumulation 50, evaluate and save every epoch, keep the
best model by validation loss, early stopping with patience 3). What makes it
fast is below the Trainer: packed rows (see ``packing``), fused attention
kernels, grouped-GEMM experts, fused AdamW, bf16 where the hardware has it
(see ``runtime.hardware``), a loss computed in chunks (see ``loss``), optional
``torch.compile`` on batches of one fixed shape, and bigger micro-batches
with the same effective batch in sequences (on a large GPU, the whole
optimiser step in one pass).

The objective (``--objective``) changes only the batches, the loss and the
accuracy: a causal LM learns every next token of packed rows; a masked LM the
tokens hidden in each window (see ``masking``).
"""

import math
import os
import time
from dataclasses import dataclass

import numpy as np
import torch
from transformers import Trainer
from transformers.trainer import TRAINING_ARGS_NAME
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from dnalm.runtime.hardware import compile_mode, use_bf16
from dnalm.runtime.multi_gpu import world_size
from dnalm.training.budget_schedule import ScheduleWithinBudget
from dnalm.training.callbacks import AnnouncedEarlyStopping, ProgressLines, TimeBudget, how_training_stopped
from dnalm.training.checkpoints import last_complete_checkpoint
from dnalm.training.loss import CausalLMLoss, masked_lm_loss
from dnalm.training.masking import MaskedLMCollator, MaskedOnce, masked_token_accuracy
from dnalm.training.packing import IGNORE_INDEX, PackedCollator, fixed_shape_collator
from dnalm.training.sampling import EpochPermutation
from dnalm.training.trainer_settings import build_training_arguments

FEW_STEPS_PER_EPOCH = 10  # fewer, and the job log says what to lower
# Sequences per forward pass at most (--micro-batch-size 0). On a GPU of 40 GiB or more the
# tutorial's whole optimiser step (1,600 sequences, ~72k tokens) is one pass: one launch of
# each kernel per step instead of four. The tutorial model took 4.6 GiB at 400 per pass (H100).
MICRO_BATCH_LIMITS = {"cpu": 256, "gpu": 512, "large gpu": 2048}
LARGE_GPU_GIB = 40


@dataclass
class TrainingRun:
    """What ``run_trainer`` returns: the best model and how training went."""

    model: torch.nn.Module  # the best model by validation loss, unwrapped
    log_history: list  # the Trainer's, across resumes
    epochs_run: float
    optimiser_steps: int
    stopped_by: str  # "time budget", "early stopping" or "all epochs / steps done"
    seconds: float  # of training in this process (a resumed run: since the resume)
    micro_batch: int
    accumulation: int
    bf16: bool


def micro_batching(settings):
    """``(micro-batch, accumulation)`` keeping batch x accumulation sequences per update.

    32 sequences of ~45 tokens are too few to keep the hardware busy (64
    experts get ~20 tokens each), so the accumulation is folded into larger
    micro-batches: the largest divisor of the per-device sequences per update
    up to ``micro_batch_limit()``. The update is the same: the Trainer
    averages the loss over all target tokens of the update either way.
    """
    effective = settings.batch_size * settings.gradient_accumulation
    per_device = max(1, effective // world_size())
    micro = settings.micro_batch_size
    if micro <= 0:
        limit = micro_batch_limit()
        micro = max(d for d in range(1, min(per_device, limit) + 1) if per_device % d == 0)
    micro = min(micro, per_device)
    return micro, max(1, per_device // micro)


def micro_batch_limit():
    """The most sequences per forward pass this machine takes by default."""
    if not torch.cuda.is_available():
        return MICRO_BATCH_LIMITS["cpu"]
    gib = torch.cuda.get_device_properties(0).total_memory / 2**30
    return MICRO_BATCH_LIMITS["large gpu" if gib >= LARGE_GPU_GIB else "gpu"]


def steps_per_epoch(n_sequences, settings):
    """Optimiser steps in one epoch, counted as the Trainer counts them."""
    micro, accumulation = micro_batching(settings)
    batches = math.ceil(n_sequences / (micro * world_size()))
    return max(1, -(-batches // accumulation))


def pretraining_arguments(settings, checkpoint_dir, epoch_steps, **overrides):
    """The pretraining recipe's ``TrainingArguments``: micro-batching, checkpoints every epoch,
    the best model by validation loss; ``overrides`` replace any of them (the benches')."""
    micro, accumulation = micro_batching(settings)
    recipe = dict(
        per_device_train_batch_size=micro,
        per_device_eval_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        lr_scheduler_type=settings.lr_scheduler,
        max_grad_norm=settings.max_grad_norm,
        bf16=use_bf16(settings.precision),
        torch_compile=settings.compile,
        torch_compile_mode=compile_mode(settings.compile_mode) if settings.compile else None,
        save_strategy="epoch",
        save_total_limit=2,  # the newest, plus the best kept by load_best_model_at_end
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        restore_callback_states_from_checkpoint=True,  # early stopping's patience survives a resume
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=settings.dataloader_workers,
    )
    return build_training_arguments(settings, checkpoint_dir, epoch_steps, **{**recipe, **overrides})


def without_default_printers(trainer):
    """Drop the Trainer's own log printers: ``ProgressLines`` writes the job log."""
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


class CheckpointsAsInMemory(Trainer):
    """A ``Trainer`` whose checkpoints keep the weight names the model has in memory.

    Why: transformers 5 converts mixture-of-experts weights at load time (one
    fused tensor per layer in memory) and ``save_pretrained`` converts them
    back to the legacy per-expert names by default (``save_original_format``).
    The Trainer reloads its own checkpoints (to resume, and to load the best
    model at the end) with ``load_state_dict(strict=False)``, which would then
    silently skip every expert weight. Checkpoints are therefore saved as they
    are in memory; the final model is saved by ``save_pretrained`` in the
    standard format. tests/test_pretrain.py checks both halves.
    """

    def _save(self, output_dir=None, state_dict=None):
        if not self.args.should_save:
            return
        output_dir = output_dir or self.args.output_dir
        os.makedirs(output_dir, exist_ok=True)
        model = self.accelerator.unwrap_model(self.model, keep_torch_compile=False)
        model.save_pretrained(output_dir, state_dict=state_dict, save_original_format=False)
        self.processing_class.save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, TRAINING_ARGS_NAME))


class PretrainingTrainer(ScheduleWithinBudget, CheckpointsAsInMemory):
    """The pretraining Trainer: checkpoints as in memory, the schedule ending with the budget,
    and the training order held compactly at genome scale (``sampling.EpochPermutation``)."""

    def _get_train_sampler(self, train_dataset=None):
        dataset = self.train_dataset if train_dataset is None else train_dataset
        return EpochPermutation(len(dataset), self.args.data_seed)


def most_likely_tokens(logits, labels):
    """Keep only each position's most likely token: evaluation then stores ints, not logits."""
    return logits.argmax(dim=-1)


def next_token_accuracy(prediction):
    """Share of target tokens the model ranks first (position t predicts token t+1)."""
    predicted = np.asarray(prediction.predictions)[:, :-1]
    targets = np.asarray(prediction.label_ids)[:, 1:]
    counted = targets != IGNORE_INDEX
    return {"accuracy": float((predicted[counted] == targets[counted]).mean())}


def batch_collator(pad_token_id, row_length, datasets, settings):
    """Packed rows; with ``--compile``, all of one shape (a compiled step replays for one shape)."""
    if not settings.compile:
        return PackedCollator(pad_token_id, row_length)
    lengths = np.concatenate([dataset.lengths() for dataset in datasets])
    return fixed_shape_collator(pad_token_id, row_length, lengths, micro_batching(settings)[0])


def objective_parts(model, tokenizer, datasets, settings, row_length):
    """``(collator, loss, metrics)`` of ``settings.objective``: what the two objectives differ in."""
    if settings.objective == "masked":
        return MaskedLMCollator(tokenizer), masked_lm_loss, masked_token_accuracy
    collator = batch_collator(tokenizer.pad_token_id, row_length, datasets, settings)
    loss = CausalLMLoss(getattr(model.config, "router_aux_loss_coef", 0.0))
    return collator, loss, next_token_accuracy


def make_trainer(model, tokenizer, train_set, validation_set, settings, row_length,
                 checkpoint_dir, callbacks=(), time_budget=None):
    """The Trainer of a run; ``settings`` must have its model defaults filled in.

    ``time_budget`` (a ``TimeBudget``) stops the run and ends its learning-rate schedule.
    For a masked LM the validation windows are masked here, once (``masking.MaskedOnce``).
    """
    arguments = pretraining_arguments(settings, checkpoint_dir,
                                      steps_per_epoch(len(train_set), settings))
    if settings.objective == "masked":
        validation_set = MaskedOnce(validation_set, tokenizer, settings.seed)
    collator, loss, metrics = objective_parts(model, tokenizer, (train_set, validation_set),
                                              settings, row_length)
    trainer = PretrainingTrainer(
        model=model,
        args=arguments,
        train_dataset=train_set,
        eval_dataset=validation_set,
        data_collator=collator,
        compute_loss_func=loss,
        processing_class=tokenizer,
        # Evaluation keeps only the argmax of each position (ints), never the logits.
        preprocess_logits_for_metrics=most_likely_tokens,
        compute_metrics=metrics,
        callbacks=[AnnouncedEarlyStopping(early_stopping_patience=settings.early_stopping_patience),
                   *callbacks, *([time_budget] if time_budget else [])],
        time_budget=time_budget,
    )
    return without_default_printers(trainer)


def run_trainer(model, tokenizer, train_set, validation_set, settings, row_length,
                checkpoint_dir, print_fn=print):
    """Train (resuming from the newest checkpoint in ``checkpoint_dir``) and return a ``TrainingRun``."""
    time_budget = TimeBudget(settings.time_budget_minutes, print_fn,
                             validation_tokens=int(validation_set.lengths().sum()))
    trainer = make_trainer(model, tokenizer, train_set, validation_set, settings, row_length,
                           checkpoint_dir, callbacks=[ProgressLines(print_fn, time_budget)],
                           time_budget=time_budget)
    micro, accumulation = micro_batching(settings)
    checkpoint = last_complete_checkpoint(checkpoint_dir)
    if checkpoint:
        print_fn(f"resuming from {checkpoint}", flush=True)
    print_fn(
        f"training: {len(train_set):,} sequences, {len(validation_set):,} for validation; "
        f"micro-batch {micro} x accumulation {accumulation} x {world_size()} device(s); "
        f"{'bf16' if trainer.args.bf16 else 'fp32'}{compiled_shape(trainer)}",
        flush=True,
    )
    warn_if_few_steps(len(train_set), settings, print_fn)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    state = trainer.state
    return TrainingRun(
        model=trainer.accelerator.unwrap_model(trainer.model, keep_torch_compile=False),
        log_history=state.log_history,
        epochs_run=state.epoch or 0.0,
        optimiser_steps=state.global_step,
        stopped_by=how_training_stopped(state, time_budget),
        seconds=time.perf_counter() - started,
        micro_batch=micro,
        accumulation=accumulation,
        bf16=trainer.args.bf16,
    )


def compiled_shape(trainer):
    """``"; torch.compile MODE, batches of R x W tokens"`` for the log, or "" when not compiled."""
    if not trainer.args.torch_compile:
        return ""
    collator = trainer.data_collator
    if not isinstance(collator, PackedCollator):  # a masked LM's batches: windows, padded
        return f"; torch.compile {trainer.args.torch_compile_mode}"
    return (f"; torch.compile {trainer.args.torch_compile_mode}, batches of "
            f"{collator.fixed_rows} x {collator.row_length} tokens")


def warn_if_few_steps(n_train, settings, print_fn=print):
    """Say so when an epoch is too few optimiser steps for the loss to fall visibly."""
    steps = steps_per_epoch(n_train, settings)
    if steps >= FEW_STEPS_PER_EPOCH or settings.max_steps > 0:
        return
    per_step = settings.batch_size * settings.gradient_accumulation
    enough = max(1, n_train // FEW_STEPS_PER_EPOCH)
    print_fn(
        f"note: an epoch is only {steps} optimiser step(s): {n_train:,} training sequences, "
        f"{per_step:,} per step (batch size {settings.batch_size} x gradient accumulation "
        f"{settings.gradient_accumulation}); the model learns little per epoch. For "
        f"{FEW_STEPS_PER_EPOCH} or more steps per epoch, lower --gradient-accumulation or "
        f"--batch-size to about {enough:,} sequences per step, or give more sequences",
        flush=True,
    )
