"""Pretrain a DNA language model on a token table: data -> model -> Trainer -> result.

The objective (``--objective``) is causal (next token) or masked (hidden
tokens); the model must be of that kind, or the run is refused before it
starts: a causal Mistral cannot learn masked tokens, nor a ModernBERT the next.

``pretrain`` is the whole run as one call, without any output writing (the
command writes the model, metrics, curve and report from the returned
``PretrainResult``). The pieces: ``data`` (token ids, split), ``presets``
(which model), ``trainer`` (the Trainer recipe), ``checkpoints`` (where and
whose), ``pretraining_settings`` (every knob, on ``trainer_settings``' shared ones).
"""

import json
from dataclasses import dataclass, replace
from pathlib import Path

from transformers import set_seed

from dnalm.errors import DnalmError
from dnalm.runtime.hardware import attention_implementation, experts_implementation, use_bf16
from dnalm.settings import settings_summary
from dnalm.training import checkpoints, presets, token_data, validation_split
from dnalm.training.masking import MASKED_SHARE, check_mask_token
from dnalm.training.token_files import SequenceDataset
from dnalm.training.packing import auto_row_length
from dnalm.training.pretraining_settings import PretrainingSettings
from dnalm.training.trainer import TrainingRun, micro_batching, run_trainer

__all__ = ["ModelChoice", "PretrainResult", "PretrainingSettings", "micro_batching", "pretrain"]

# Settings a resumed run may change without becoming another run.
MAY_CHANGE_ON_RESUME = ("epochs", "time_budget_minutes", "max_steps", "logging_steps",
                        "dataloader_workers", "compile", "compile_mode", "attention", "experts")


@dataclass
class ModelChoice:
    """Which model to train: a preset, a user's config.json, or a model zip to continue."""

    preset: str = "tutorial"
    config: str = None
    init_model: str = None

    def preset_for_defaults(self):
        """The preset whose training defaults apply (the tutorial's unless a preset is built)."""
        return self.preset if not (self.config or self.init_model) else None


@dataclass
class PretrainResult:
    """A finished run: the best model and what the report and metrics need."""

    run: TrainingRun
    tokenizer: object  # transformers tokenizer, saved beside the model
    settings: PretrainingSettings  # as used: model defaults and row length filled in
    model_source: str
    parameters: tuple  # (total, active per token)
    token_table: str
    lengths: token_data.LengthStats  # tokens per sequence, all sequences
    n_train: int
    n_validation: int
    split: str  # how validation was chosen, in words


def pretrain(tokens, settings, model_choice, checkpoint_folder, print_fn=print):
    """Train on the token table ``tokens``; return a ``PretrainResult``.

    ``checkpoint_folder`` is a ``checkpoints.CheckpointFolder``; a run that finds
    its own checkpoints there resumes from the newest.
    """
    from dnalm.tokenization.loading import to_transformers

    if not Path(tokens).is_file():
        raise DnalmError(f"token table {tokens} does not exist")
    settings = settings.with_model_defaults(model_choice.preset_for_defaults())
    # The token ids are read from unlinked files beside the checkpoints (see token_data).
    corpus = token_data.read_token_data(tokens, Path(checkpoint_folder.path).parent,
                                        settings.validation_contigs)
    tokenizer = corpus.tokenizer
    bf16 = use_bf16(settings.precision)
    attention = attention_implementation(settings.attention, bf16)
    set_seed(settings.seed)
    hf_tokenizer = to_transformers(tokenizer)
    if settings.objective == "masked":
        check_mask_token(hf_tokenizer, tokens)
    model, model_source = build_or_load_model(
        model_choice, tokenizer, attention, experts_implementation(settings.experts, bf16), tokens,
        settings.objective)
    token_data.check_fits_model(corpus, model.config, tokens)
    total, active = presets.count_parameters(model)
    print_fn(f"model: {model.config.model_type} ({model_source}), {total:,} parameters, "
             f"{active:,} active per token", flush=True)
    print_fn(f"objective: {describe_objective(settings.objective)}", flush=True)

    split = validation_split.split_train_validation(
        corpus, settings.validation_fraction, settings.seed, settings.validation_contigs,
        settings.max_validation_sequences)
    print_fn(f"validation: {split.description}", flush=True)
    if not settings.row_length:
        settings = replace(settings, row_length=auto_row_length([corpus.lengths.longest]))
    checkpoints.claim(checkpoint_folder, pretraining_fingerprint(
        tokens, model_source, model.config, settings), print_fn)
    train_set = SequenceDataset(corpus.sequences, split.train)
    validation_set = SequenceDataset(corpus.sequences, split.validation)
    run = run_trainer(model, hf_tokenizer, train_set, validation_set, settings,
                      settings.row_length, checkpoint_folder.path, print_fn)
    return PretrainResult(
        run=run, tokenizer=hf_tokenizer, settings=settings, model_source=model_source,
        parameters=(total, active), token_table=Path(tokens).name, lengths=corpus.lengths,
        n_train=len(train_set), n_validation=len(validation_set), split=split.description,
    )


def describe_objective(objective):
    """The objective in words, for the log and the report."""
    if objective == "masked":
        return (f"masked: {MASKED_SHARE:.0%} of each window's tokens chosen anew in every batch "
                "(80% shown as [MASK], 10% random, 10% unchanged); loss and accuracy on the "
                "chosen tokens, the validation set's chosen once (seeded)")
    return "causal: every next token; loss and accuracy on all of them"


def build_or_load_model(choice, tokenizer, attention, experts, data_source, objective="causal"):
    """``(model, description)``: a fresh model of the preset or config, or a model to continue;
    refused when it is not of the kind ``objective`` trains (causal or masked)."""
    from dnalm.io.model_archive import open_model

    if choice.init_model:
        with open_model(choice.init_model) as model_files:
            if not model_files.has_lm_head:  # e.g. a classifier made by 'dnalm finetune'
                raise DnalmError(
                    f"model {choice.init_model} is a {model_files.architecture} checkpoint "
                    f"without its language-model head: pretraining continues a {objective} LM; "
                    "use 'dnalm finetune' to train a classifier further")
            check_objective(model_files.objective, objective, f"model {choice.init_model}",
                            model_files.model_type)
            check_same_tokenizer(model_files.tokenizer(), tokenizer, choice.init_model,
                                 data_source)
            model = presets.load_model_to_continue(model_files.directory, attention=attention,
                                                   experts=experts)
        return model, f"continued from {Path(choice.init_model).name}"
    if choice.config:
        config = presets.config_from_file(choice.config)
        check_config_vocabulary(tokenizer, choice.config)
        source = f"config {Path(choice.config).name}"
    else:
        config = presets.preset_config(choice.preset)
        source = f"preset {choice.preset}"
    check_objective(presets.objective_of(config), objective, source, config.model_type)
    config = presets.fit_config_to_tokenizer(config, tokenizer)
    return presets.build_model(config, attention=attention, experts=experts), source


def check_objective(model_objective, objective, source, model_type):
    """Refuse, in one line, a model of the other kind than the objective trains."""
    if model_objective != objective:
        raise DnalmError(f"{source} is a {model_objective} LM ({model_type}): pretrain it with "
                         f"--objective {model_objective}, or choose a {objective} model for "
                         f"--objective {objective}")


def pretraining_fingerprint(tokens, model_source, config, settings):
    """What makes a rerun the same run, to resume: data, model and the settings that count."""
    counted = {name: value for name, value in settings_summary(settings).items()
               if name not in MAY_CHANGE_ON_RESUME}
    return checkpoints.run_fingerprint(
        Path(tokens).stat().st_size, token_data.first_ids(tokens), model_source, config.to_dict(),
        counted)


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


