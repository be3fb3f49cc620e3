"""A sequence classifier on top of a checkpoint, and what of it trains (LoRA, full, head).

``load_for_finetuning`` puts a classification head (one row per class: ``score``
for Mistral, Mixtral, Llama and Qwen, ``classifier`` for ESM, BERT and
ModernBERT) on any checkpoint the suite reads: a causal LM from ``dnalm
pretrain`` or a masked LM gets a new head; a classifier such as Mistral-DNA's
keeps its head when it has the same classes, else gets a new one.
``apply_method`` then chooses what trains:

* ``lora``: low-rank adapters on the named linear layers (by default the
  attention projections of the architecture, ``LORA_TARGETS``), as the tutorial
  does; the head always trains, as peft's ``modules_to_save``. A target that
  matches no layer is an error: peft would otherwise adapt nothing and the run
  would silently train the head only.
* ``full``: every weight.
* ``head``: the head only, on a frozen backbone (a linear probe).

``merged`` folds the adapters into the weights (``merge_and_unload``), so the
saved model is a plain checkpoint that loads without peft.
"""

import torch

from dnalm.errors import DnalmError
from dnalm.inference.batches import pad_id_of
from dnalm.io.checkpoint_loading import loading_checkpoint
from dnalm.io.model_archive import CAUSAL_MODEL_TYPES

METHODS = ("lora", "full", "head")
# The linear layers LoRA adapts unless told otherwise, by the last part of their names: the
# tutorial's attention projections for the causal models; for ESM and BERT the attention's
# query, key, value and dense, a name their feed-forward layers share; ModernBERT fuses q, k, v
# into Wqkv, and Wo is both the attention's and the MLP's output.
LORA_TARGETS = {**{model_type: ("q_proj", "k_proj", "v_proj", "o_proj")
                   for model_type in CAUSAL_MODEL_TYPES},
                "esm": ("query", "key", "value", "dense"), "bert": ("query", "key", "value", "dense"),
                "modernbert": ("Wqkv", "Wo")}
# The modules that make the classification head: they train whatever the method (peft's
# modules_to_save), alone with --method head. The first holds the class rows; BERT's pooler and
# ModernBERT's head (a dense layer before the classifier) serve the classifier only.
HEAD_MODULES = {**{model_type: ("score",) for model_type in CAUSAL_MODEL_TYPES},
                "esm": ("classifier",), "bert": ("classifier", "pooler"),
                "modernbert": ("classifier", "head")}


def same_classes(config, class_names):
    """True when a checkpoint's own head was trained on exactly these classes, in this order."""
    # A config.json without id2label has transformers' default: two classes LABEL_0, LABEL_1.
    declared = config.get("id2label") or {i: f"LABEL_{i}" for i in range(config.get("num_labels", 2))}
    id2label = {int(index): str(name) for index, name in declared.items()}
    if len(id2label) != len(class_names):
        return False
    return all(id2label[i] in (name, f"LABEL_{name}") for i, name in enumerate(class_names))


def load_for_finetuning(model_files, class_names, attention="sdpa", experts="grouped_mm",
                        new_head_wanted=False, print_fn=print):
    """``AutoModelForSequenceClassification`` in float32 with ``class_names`` as its classes."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    keep_head = (not new_head_wanted and model_files.has_classification_head
                 and same_classes(model_files.config, class_names))
    directory = str(model_files.directory)
    config = AutoConfig.from_pretrained(directory, local_files_only=True, trust_remote_code=False)
    config.num_labels = len(class_names)
    config.id2label = dict(enumerate(class_names))
    config.label2id = {name: index for index, name in enumerate(class_names)}
    config.problem_type = "single_label_classification"
    if config.pad_token_id is None:  # the classifier finds the padding by this id
        config.pad_token_id = pad_id_of(model_files.tokenizer(), model_files.config)
    kwargs = dict(config=config, dtype=torch.float32, attn_implementation=attention,
                  use_safetensors=True, local_files_only=True, trust_remote_code=False,
                  ignore_mismatched_sizes=True, output_loading_info=True)
    if getattr(config, "num_local_experts", 0) > 1:
        kwargs["experts_implementation"] = experts
    with loading_checkpoint(model_files.source):
        model, info = AutoModelForSequenceClassification.from_pretrained(directory, **kwargs)
    # A masked LM's checkpoint has no classifier (nor BERT's pooler): those start new.
    backbone_missing = [key for key in info.get("missing_keys") or () if not is_head(model, key)]
    if backbone_missing:
        raise DnalmError(
            f"model {model_files.source}: the weights do not match config.json "
            f"({len(backbone_missing)} tensors missing, e.g. {backbone_missing[0]})"
        )
    if keep_head:
        print_fn(f"classification head: the checkpoint's own ({', '.join(class_names)})", flush=True)
    else:
        new_head(model)
        print_fn(f"classification head: new, {len(class_names)} classes ({', '.join(class_names)})",
                 flush=True)
    return model


def head_modules(model):
    return HEAD_MODULES[model.config.model_type]


def is_head(model, parameter_name):
    """True for a weight of the classification head (``score.weight``, ``bert.pooler.dense.bias``)."""
    return any(part in head_modules(model) for part in parameter_name.split(".")[:-1])


def new_head(model):
    """A freshly initialised class layer (``score``; ESM's two-layer ``classifier``), also where a
    same-shaped old head was loaded."""
    for layer in model.get_submodule(head_modules(model)[0]).modules():
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.normal_(layer.weight, std=model.config.initializer_range)
            if layer.bias is not None:
                torch.nn.init.zeros_(layer.bias)


def lora_targets(model_type, targets=()):
    """The layers LoRA adapts: ``targets`` as given, else the architecture's ``LORA_TARGETS``."""
    return list(targets) or list(LORA_TARGETS[model_type])


def linear_layer_names(model):
    return [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]


def lora_layers(model, targets):
    """The backbone's linear layers that ``targets`` name (by their last name part(s)), in full.

    Full names, so that a target never reaches into the head (ESM's classifier has a ``dense``
    layer too, which trains whole). Every target must name at least one layer.
    """
    names = [name for name in linear_layer_names(model) if not is_head(model, name + ".weight")]
    chosen = {target: [name for name in names if name == target or name.endswith("." + target)]
              for target in targets}
    unmatched = [target for target, found in chosen.items() if not found]
    if unmatched:
        available = sorted({name.rsplit(".", 1)[-1] for name in names})
        raise DnalmError(
            f"LoRA target(s) {', '.join(unmatched)} match no linear layer of the model "
            f"(its linear layers: {', '.join(available)})"
        )
    return sorted({name for found in chosen.values() for name in found})


def apply_method(model, method, lora_r=16, lora_alpha=16, lora_dropout=0.05, targets=()):
    """The model to train: peft-wrapped for ``lora`` (on ``lora_targets(targets)``), partly frozen
    for ``head``."""
    if method not in METHODS:
        raise DnalmError(f"unknown method '{method}' (use one of {', '.join(METHODS)})")
    if method == "full":
        return model
    if method == "head":
        for name, parameter in model.named_parameters():
            parameter.requires_grad = is_head(model, name)
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    layers = lora_layers(model, lora_targets(model.config.model_type, targets))
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=lora_r, lora_alpha=lora_alpha,
                        lora_dropout=lora_dropout, target_modules=layers,
                        modules_to_save=list(head_modules(model)))
    return get_peft_model(model, config)


def merged(model):
    """A plain transformers model: LoRA folded into the weights, peft's wrappers gone."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    for parameter in model.parameters():
        parameter.requires_grad = True
    return model


def parameter_counts(model):
    """``(trainable, total)`` parameters."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())
