"""What every dnalm Trainer run takes, declared once, and the ``TrainingArguments`` built from it.

``TrainerSettings`` holds the knobs pretraining and fine-tuning share with the
same meaning and default; ``PretrainingSettings`` and ``FinetuneSettings``
extend it with their own, and each declares its own default for the knobs the
two recipes set differently (epochs, batch size, learning rate, weight decay,
warmup). ``build_training_arguments`` is the one place a ``TrainingArguments``
is made: both recipes share the optimiser (fused AdamW), the schedule
settings, evaluation every epoch, seeding, the hardware switches and logging
by dnalm's own callbacks; each adds what is its own (batching, checkpoints,
best-model choice).
"""

from dataclasses import dataclass

import torch
from transformers import TrainingArguments

from dnalm.runtime.hardware import ATTENTION_CHOICES, PRECISIONS
from dnalm.settings import check_settings, setting

# The --help sections of the training tools' settings.
TRAINING = "training"
SPEED = "speed"
OUTPUTS = "outputs"


@dataclass
class TrainerSettings:
    """The knobs both training tools share; a subclass adds epochs, batch size, learning rate,
    weight decay and warmup ratio (read by ``build_training_arguments``) with its own defaults."""

    max_steps: int = setting(-1, "stop after this many optimiser steps (-1 = run the epochs)",
                             group=TRAINING, min=-1)
    time_budget_minutes: float = setting(
        0.0, "minutes of training after which it stops cleanly and keeps the best model so far "
        "(0 = no limit)", group=TRAINING, flag="time_budget", min=0)
    seed: int = setting(42, "seed of everything drawn at random: the validation split, new "
                        "weights, dropout and the batch order", group=TRAINING)
    precision: str = setting(
        "auto", "auto = bf16 mixed precision where the hardware has it (GPUs, CPUs with AMX or "
        "AVX512-BF16) and it pays, else fp32", choices=PRECISIONS, group=SPEED)
    attention: str = setting(
        "auto", "auto = flash-attn on a GPU in bf16 where installed, else PyTorch's fused SDPA, "
        "or eager on a CPU in bf16 (faster there)", choices=ATTENTION_CHOICES, group=SPEED)
    logging_steps: int = setting(
        0, "optimiser steps between progress lines (0 = about ten per epoch)", group=OUTPUTS,
        min=0)

    def __post_init__(self):
        check_settings(self)


def build_training_arguments(settings, output_dir, steps_per_epoch, **recipe):
    """``TrainingArguments`` from the settings both tools declare; ``recipe`` adds or overrides."""
    on_gpu = torch.cuda.is_available()
    shared = dict(
        output_dir=str(output_dir),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        warmup_steps=settings.warmup_ratio,  # a float < 1 is a ratio of the total steps
        optim="adamw_torch_fused",
        use_cpu=not on_gpu,  # the Trainer allows bf16 on a CPU only if told
        tf32=True if on_gpu else None,
        eval_strategy="epoch",
        logging_strategy="steps",
        logging_steps=settings.logging_steps or max(1, steps_per_epoch // 10),
        seed=settings.seed,
        data_seed=settings.seed,
        dataloader_pin_memory=on_gpu,
        remove_unused_columns=False,  # the collators need the raw columns
        disable_tqdm=True,  # ProgressLines writes the job log instead
        report_to="none",
    )
    return TrainingArguments(**{**shared, **recipe})
