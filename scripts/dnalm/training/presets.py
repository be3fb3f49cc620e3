"""Which model to train: named architectures, a user's config.json, or an existing model.

Every model is a transformers language model built from a config, never from
remote code: a causal LM (Mistral, Mixtral, ...) or a masked LM (ESM, BERT,
ModernBERT), which is what the model type decides. The vocabulary size and
special token ids always come from the tokenizer of the data, so a preset works
with any tokenizer the tokenize tool produced.
"""

import json
from importlib import resources
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, PretrainedConfig

from dnalm.errors import DnalmError
from dnalm.io.model_archive import MASKED_MODEL_TYPES, SUPPORTED_MODEL_TYPES
from dnalm.tokenization.special_tokens import CLS, MASK, PAD, SEP

# The tutorial's reduced Mixtral, copied from the Mistral-DNA repository.
TUTORIAL_CONFIG = "data/configs/mixtral-dna-tutorial/config.json"

# Small architectures written out in full, so they read like the tutorial's.
SMALL_PRESETS = {
    # Like Mistral-DNA's 1M-parameter model: trains on a CPU in seconds.
    "tiny": dict(
        model_type="mixtral",
        hidden_size=64,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=8,
        head_dim=8,
        num_local_experts=8,
        num_experts_per_tok=1,
        max_position_embeddings=512,
        rope_theta=1_000_000.0,
        router_aux_loss_coef=0.02,
        output_router_logits=False,
        sliding_window=None,
        tie_word_embeddings=False,
    ),
    # A dense Mistral of about the tutorial model's active size per token.
    "small-dense": dict(
        model_type="mistral",
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=8,
        head_dim=32,
        max_position_embeddings=512,
        rope_theta=1_000_000.0,
        sliding_window=None,
        tie_word_embeddings=False,
    ),
    # The CPU recipe for a whole small genome (bench/RESULTS.md, yeast probe): a narrow dense
    # Mistral on codon-sized tokens (--tokenizer kmer:3), 200-bp windows, batches of 32 at
    # lr 2e-3 decaying over the time budget; dense layers run faster on a CPU than experts.
    "cpu-dense": dict(
        model_type="mistral",
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        head_dim=32,
        max_position_embeddings=512,
        rope_theta=10_000.0,
        sliding_window=None,
        tie_word_embeddings=False,
    ),
    # The masked-LM counterpart of cpu-dense: the same width, depth and gated MLP, attending
    # both ways. ModernBERT rather than ESM by training speed at this shape (batches of 32
    # windows of 69 tokens, fp32, 2-core CPU, median of 5 alternating rounds;
    # bench/bench_masked_architectures.py, bench/RESULTS.md): ModernBERT 13,422 tokens/s,
    # ESM (rotary) 9,377, cpu-dense itself 13,335. Every layer attends globally (a 200-bp
    # window is shorter than ModernBERT's local window anyway).
    "cpu-masked": dict(
        model_type="modernbert",
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=4,
        num_attention_heads=4,
        max_position_embeddings=512,
        global_attn_every_n_layers=1,
        global_rope_theta=10_000.0,
        tie_word_embeddings=False,  # as cpu-dense's; the Trainer's reload of a tied head warns
    ),
}
PRESETS = ("tutorial", *SMALL_PRESETS)


def preset_config(name):
    """Return the ``PretrainedConfig`` of a named preset."""
    if name == "tutorial":
        path = Path(str(resources.files("dnalm").joinpath(TUTORIAL_CONFIG)))
        return config_from_file(path)
    if name not in SMALL_PRESETS:
        raise DnalmError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
    settings = dict(SMALL_PRESETS[name])
    return AutoConfig.for_model(settings.pop("model_type"), **settings)


def objective_of(config):
    """``"masked"`` for a masked LM's config (ESM, BERT, ModernBERT), else ``"causal"``."""
    return "masked" if config.model_type in MASKED_MODEL_TYPES else "causal"


def config_from_file(path):
    """Read a user's ``config.json``; it must describe a language model dnalm runs."""
    try:
        settings = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DnalmError(f"{path} is not a readable JSON file: {error}") from None
    if not isinstance(settings, dict) or "model_type" not in settings:
        raise DnalmError(f"{path} is not a model config: it has no 'model_type'")
    if "auto_map" in settings:
        raise DnalmError(f"{path} asks for remote code ('auto_map'); only built-in models run")
    settings.pop("transformers_version", None)
    model_type = settings.pop("model_type")
    try:
        config = AutoConfig.for_model(model_type, **settings)
    except (ValueError, KeyError) as error:
        raise DnalmError(f"{path}: model_type '{model_type}' is not usable: {error}") from None
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise DnalmError(
            f"{path}: model_type '{model_type}' is not a language model the DNA LM tools "
            f"run (choose from {', '.join(SUPPORTED_MODEL_TYPES)})"
        )
    return config


def fit_config_to_tokenizer(config, tokenizer):
    """Take the vocabulary size and special token ids from the data's tokenizer."""
    config.vocab_size = tokenizer.get_vocab_size()
    config.pad_token_id = tokenizer.token_to_id(PAD)
    config.bos_token_id = tokenizer.token_to_id(CLS)
    config.eos_token_id = tokenizer.token_to_id(SEP)
    if objective_of(config) == "masked":  # what ESM and ModernBERT's configs also name
        config.mask_token_id = tokenizer.token_to_id(MASK)
        config.cls_token_id = tokenizer.token_to_id(CLS)
        config.sep_token_id = tokenizer.token_to_id(SEP)
    return config


def model_class(config):
    """``AutoModelForMaskedLM`` for a masked LM's config, ``AutoModelForCausalLM`` otherwise."""
    return AutoModelForMaskedLM if objective_of(config) == "masked" else AutoModelForCausalLM


def build_model(config, dtype=torch.float32, attention="sdpa", experts="grouped_mm"):
    """A freshly initialised language model in ``dtype`` (weights kept in fp32 for training).

    transformers 5 builds a model in the config's own dtype (bf16 for the
    tutorial's config), so the dtype is always given explicitly here.
    """
    config = _with_implementations(config, attention, experts)
    return model_class(config).from_config(config, dtype=dtype)


def load_model_to_continue(model_dir, dtype=torch.float32, attention="sdpa", experts="grouped_mm"):
    """Load a saved model directory (safetensors only) to continue pretraining."""
    kwargs = dict(dtype=dtype, attn_implementation=attention, use_safetensors=True,
                  local_files_only=True, trust_remote_code=False)
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    if _is_mixture_of_experts(config):
        kwargs["experts_implementation"] = experts
    return model_class(config).from_pretrained(model_dir, **kwargs)


def _with_implementations(config: PretrainedConfig, attention, experts):
    config._attn_implementation = attention
    if _is_mixture_of_experts(config):
        config._experts_implementation = experts
    return config


def _is_mixture_of_experts(config):
    return getattr(config, "num_local_experts", 0) > 1


def count_parameters(model):
    """Return ``(total, active per token)``.

    A token passes through only ``num_experts_per_tok`` of the
    ``num_local_experts`` experts of each layer, and reads one embedding row.
    """
    total = sum(p.numel() for p in model.parameters())
    inactive = 0
    config = model.config
    for name, parameter in model.named_parameters():
        if ".experts." in name:
            experts = config.num_local_experts
            inactive += parameter.numel() * (experts - config.num_experts_per_tok) // experts
    embedding = model.get_input_embeddings().weight
    inactive += embedding.numel() - embedding.shape[1]
    return total, total - inactive
