"""The ``TrainingArguments`` of every dnalm Trainer, built in one place for pretraining and fine-tuning.

Both recipes share the optimiser (fused AdamW), the schedule settings, evaluation
every epoch, seeding, the hardware switches and logging by dnalm's own
callbacks; each adds what is its own (batching, checkpoints, best-model choice).
"""

import torch
from transformers import TrainingArguments


def training_arguments(settings, output_dir, steps_per_epoch, **recipe):
    """``TrainingArguments`` from the settings both tools declare, plus the ``recipe``'s own."""
    on_gpu = torch.cuda.is_available()
    return TrainingArguments(
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
        **recipe,
    )
