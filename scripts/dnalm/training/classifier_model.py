"""A sequence classifier on top of a checkpoint, and what of it trains (LoRA, full, head).

``load_for_finetuning`` puts a classification head (``score``, one row per
class) on any checkpoint the suite reads: a causal LM from ``dnalm pretrain``
gets a new head; a classifier such as Mistral-DNA's keeps its head when it has
the same classes, else gets a new one. ``apply_method`` then chooses what
trains:

* ``lora``: low-rank adapters on the named linear layers (the attention
  projections by default), as the tutorial does; the head always trains, as
  peft's ``modules_to_save``. A target that matches no layer is an error: peft
  would otherwise adapt nothing and the run would silently train the head only.
* ``full``: every weight.
* ``head``: the head only, on a frozen backbone (a linear probe).

``merged`` folds the adapters into the weights (``merge_and_unload``), so the
saved model is a plain checkpoint that loads without peft.
"""

import torch

from dnalm.errors import DnalmError
from dnalm.io.checkpoint_loading import loading_checkpoint
from dnalm.io.model_archive import CLASSIFICATION_HEAD

METHODS = ("lora", "full", "head")


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
    if config.pad_token_id is None:
        pad = model_files.tokenizer().token_to_id("[PAD]")
        config.pad_token_id = pad if pad is not None else config.eos_token_id
    kwargs = dict(config=config, dtype=torch.float32, attn_implementation=attention,
                  use_safetensors=True, local_files_only=True, trust_remote_code=False,
                  ignore_mismatched_sizes=True, output_loading_info=True)
    if getattr(config, "num_local_experts", 0) > 1:
        kwargs["experts_implementation"] = experts
    with loading_checkpoint(model_files.source):
        model, info = AutoModelForSequenceClassification.from_pretrained(directory, **kwargs)
    backbone_missing = [key for key in info.get("missing_keys") or ()
                        if CLASSIFICATION_HEAD not in key.split(".")]
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


def new_head(model):
    """A freshly initialised ``score`` layer (also where a same-shaped old head was loaded)."""
    head = getattr(model, CLASSIFICATION_HEAD)
    torch.nn.init.normal_(head.weight, std=model.config.initializer_range)
    if head.bias is not None:
        torch.nn.init.zeros_(head.bias)


def linear_layer_names(model):
    return [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]


def check_lora_targets(model, targets):
    """Every target must name at least one linear layer (by its last name part(s))."""
    if not targets:
        raise DnalmError("--lora-targets is empty: name the layers to adapt, e.g. q_proj,v_proj")
    names = linear_layer_names(model)
    unmatched = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if unmatched:
        available = sorted({name.rsplit(".", 1)[-1] for name in names} - {CLASSIFICATION_HEAD})
        raise DnalmError(
            f"LoRA target(s) {', '.join(unmatched)} match no linear layer of the model "
            f"(its linear layers: {', '.join(available)})"
        )


def apply_method(model, method, lora_r=16, lora_alpha=16, lora_dropout=0.05, targets=()):
    """The model to train: peft-wrapped for ``lora``, partly frozen for ``head``."""
    if method not in METHODS:
        raise DnalmError(f"unknown method '{method}' (use one of {', '.join(METHODS)})")
    if method == "full":
        return model
    if method == "head":
        for name, parameter in model.named_parameters():
            parameter.requires_grad = name.split(".")[0] == CLASSIFICATION_HEAD
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    check_lora_targets(model, targets)
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=lora_r, lora_alpha=lora_alpha,
                        lora_dropout=lora_dropout, target_modules=list(targets),
                        modules_to_save=[CLASSIFICATION_HEAD])
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
