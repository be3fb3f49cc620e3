"""Every knob of a pretraining run, declared once: default, help and allowed values.

The knobs fine-tuning shares (precision, attention, time budget, ...) are
``trainer_settings.TrainerSettings``'s, which ``PretrainingSettings`` extends.

``dnalm pretrain`` makes its options from these fields
(``dnalm.commands.setting_options``); the Galaxy tool passes the options of the
same names. Defaults are the tutorial's, except four that depend on the
model (``None`` here, "the preset's"): the tiny preset is a CPU demo on a few
hundred to a few thousand sequences, where the tutorial's 1,600 sequences per
optimiser step would leave one or two steps per epoch and a flat loss curve;
cpu-dense is the CPU recipe measured on the yeast genome.
"""

from dataclasses import dataclass, replace

from dnalm.settings import setting
from dnalm.training.trainer_settings import SPEED, TRAINING, TrainerSettings

OBJECTIVES = ("causal", "masked")
SCHEDULES = ("linear", "cosine", "constant", "constant_with_warmup")
EXPERTS_CHOICES = ("grouped_mm", "batched_mm", "eager")
COMPILE_MODES = ("auto", "default", "reduce-overhead")

# The knobs whose default depends on the model: the tutorial's for every model but tiny.
TUTORIAL_DEFAULTS = dict(batch_size=32, gradient_accumulation=50, learning_rate=5e-4,
                         warmup_ratio=0.0)
PRESET_DEFAULTS = {
    # 8 sequences per step: ~10 steps per epoch on the demo's 128 windows, and a
    # rate that suits a 1M-parameter model (small models take larger steps).
    "tiny": dict(batch_size=8, gradient_accumulation=1, learning_rate=3e-3, warmup_ratio=0.0),
    # Batches of 32 windows per step at 2e-3 after a 5% warmup: on the yeast genome 1e-2
    # blew the residual stream up to norms of ~2,500 and the model learnt only base
    # composition; without the warmup the probe fell from 0.839 to 0.823 (bench/RESULTS.md).
    "cpu-dense": dict(batch_size=32, gradient_accumulation=1, learning_rate=2e-3,
                      warmup_ratio=0.05),
    # The masked counterpart of cpu-dense, trained with the same recipe so the two compare.
    "cpu-masked": dict(batch_size=32, gradient_accumulation=1, learning_rate=2e-3,
                       warmup_ratio=0.05),
}


def _by_model(name):
    presets = "; ".join(f"{values[name]:g} for {preset}" for preset, values in PRESET_DEFAULTS.items())
    return f"(default: {TUTORIAL_DEFAULTS[name]:g}, the tutorial's; {presets})"


@dataclass
class PretrainingSettings(TrainerSettings):
    """How to pretrain (besides ``TrainerSettings``'s shared knobs); ``with_model_defaults``
    fills in the model-dependent ``None`` defaults."""

    objective: str = setting(
        "causal", "what the model learns to predict: causal = each next token (the tutorial's "
        "objective); masked = the tokens chosen at random in each window, 15 in 100, of which "
        "8 in 10 are shown as [MASK], 1 as a random token and 1 unchanged (as BERT and the "
        "Nucleotide Transformer were trained). The model must be of that kind: for masked, the "
        "cpu-masked preset or an ESM, BERT or ModernBERT config or model",
        choices=OBJECTIVES, group=TRAINING)
    epochs: float = setting(50, "maximum number of epochs", group=TRAINING, above=0)
    batch_size: int = setting(None, f"sequences per batch {_by_model('batch_size')}",
                              group=TRAINING, min=1)
    gradient_accumulation: int = setting(
        None, "batches per optimiser step (effective batch = batch size x this) "
        + _by_model("gradient_accumulation"), group=TRAINING, min=1)
    micro_batch_size: int = setting(
        0, "sequences per forward pass; 0 = batch size x accumulation, up to 256 (CPU) or "
        "512 (GPU): the same update, fewer passes", group=TRAINING, min=0)
    learning_rate: float = setting(None, f"peak learning rate {_by_model('learning_rate')}",
                                   group=TRAINING, min=0)
    weight_decay: float = setting(0.01, "AdamW weight decay", group=TRAINING, min=0)
    lr_scheduler: str = setting("linear", "learning-rate schedule after warmup",
                                choices=SCHEDULES, group=TRAINING)
    warmup_ratio: float = setting(
        None, f"share of the steps spent warming the learning rate up {_by_model('warmup_ratio')}",
        group=TRAINING, min=0, below=1)
    max_grad_norm: float = setting(1.0, "gradient clipping", group=TRAINING, min=0)
    early_stopping_patience: int = setting(
        3, "epochs without a better validation loss before stopping", group=TRAINING, min=1)
    validation_fraction: float = setting(0.2, "share of sequences held out for validation, at "
                                         "random (unless --validation-contigs)", group=TRAINING,
                                         above=0, below=1)
    validation_contigs: list = setting(
        [], "comma-separated records (chromosomes, contigs) whose windows are held out for "
        "validation instead of a random share, e.g. chrXV,chrXVI: adjacent windows cannot leak "
        "between training and validation", group=TRAINING)
    max_validation_sequences: int = setting(
        2000, "validate on at most this many of the held-out sequences (a seeded sample; the rest "
        "are not trained on either), so each evaluation stays short on large corpora; 0 = all",
        group=TRAINING, min=0)
    compile: bool = setting(False, "compile the model with torch.compile (batches then get "
                            "one fixed shape)", group=SPEED)
    compile_mode: str = setting(
        "auto", "torch.compile mode with --compile: auto = reduce-overhead on a GPU (the step "
        "replayed as CUDA graphs, no kernel-launch overhead), default on a CPU",
        choices=COMPILE_MODES, group=SPEED)
    row_length: int = setting(
        0, "tokens per packed row (sequences are packed, never split); 0 = twice the longest "
        "sequence. The causal objective's only: a masked LM's windows are padded, not packed",
        group=SPEED, min=0)
    experts: str = setting("grouped_mm", "how mixture-of-experts layers run (eager = "
                           "per-expert loop)", choices=EXPERTS_CHOICES, group=SPEED)
    dataloader_workers: int = setting(0, "processes preparing batches (0 = the training "
                                      "process itself)", group=SPEED, min=0)

    def with_model_defaults(self, preset=None):
        """A copy where the model-dependent knobs left at ``None`` take ``preset``'s values."""
        defaults = PRESET_DEFAULTS.get(preset, TUTORIAL_DEFAULTS)
        unset = {name: value for name, value in defaults.items() if getattr(self, name) is None}
        return replace(self, **unset)
