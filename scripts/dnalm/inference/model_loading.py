"""Load a checked model directory into torch, the same way for every tool.

Always local files, safetensors only, no remote code, and an explicit dtype:
float32 on a CPU (bf16 matmuls are slow there and float32 makes results
reproducible), bf16 on a GPU (twice the speed, half the memory).

Which class is loaded depends on the job:

* ``load_base_model`` (embed) gives the decoder stack without any head, so a
  ``MixtralForSequenceClassification`` checkpoint such as Mistral-DNA loads as
  its base ``MixtralModel`` and its classification head is simply not used.
* ``load_causal_lm`` (score, generate) needs trained next-token weights
  (``lm_head``). A checkpoint without them is refused with a clear message:
  transformers would otherwise start a random head, and the log-likelihoods or
  sequences it produced would look real but mean nothing.
* ``load_masked_lm`` is the same for a masked LM (ESM, BERT, ModernBERT): the
  trained head that gives the probabilities of a masked token.
"""

import torch

from dnalm.errors import DnalmError
from dnalm.io.checkpoint_loading import loading_checkpoint
from dnalm.runtime.device import announce_device


def inference_device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_batch_size(device):
    """Sequences per forward pass: a GPU needs large batches to be busy, a CPU does not."""
    return 1024 if torch.device(device).type == "cuda" else 128


def inference_dtype(device):
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def load_base_model(model_files, device=None):
    """The model's decoder stack (``AutoModel``), in eval mode on ``device``."""
    from transformers import AutoModel

    # ESM and BERT add a pooler (a trained layer for their next-sentence task) unless told not to;
    # a masked-LM checkpoint has none, and embed pools the hidden states itself.
    options = {"add_pooling_layer": False} if model_files.model_type in ("esm", "bert") else {}
    return load_for_inference(AutoModel, model_files, device, **options)


def load_causal_lm(model_files, device=None, purpose="score and generate"):
    """The causal LM (``AutoModelForCausalLM``); refuse checkpoints without an LM head."""
    from transformers import AutoModelForCausalLM

    if model_files.is_masked_lm:
        raise DnalmError(
            f"model {model_files.source} is a masked LM ({model_files.architecture}): {purpose} "
            "need a causal LM that predicts the next token"
        )
    if not model_files.has_lm_head:
        classifier = model_files.architecture.endswith("ForSequenceClassification")
        raise DnalmError(
            f"model {model_files.source} is a {model_files.architecture} checkpoint without a "
            f"language-model head (no lm_head.weight): {purpose} need next-token "
            "probabilities, so use a causal LM (e.g. made by 'dnalm pretrain'); "
            + ("'dnalm predict' classifies with it, 'dnalm embed' " if classifier else "'dnalm embed' ")
            + "can use this model"
        )
    return load_for_inference(AutoModelForCausalLM, model_files, device)


def load_masked_lm(model_files, device=None, purpose="masked-token scores"):
    """The masked LM (``AutoModelForMaskedLM``); refuse causal LMs and checkpoints without the
    trained masked-token head."""
    from transformers import AutoModelForMaskedLM

    if not model_files.is_masked_lm:
        raise DnalmError(f"model {model_files.source} is a causal LM "
                         f"({model_files.architecture}): {purpose} need a masked LM")
    if not model_files.has_lm_head:
        raise DnalmError(
            f"model {model_files.source} is a {model_files.architecture} checkpoint without its "
            f"masked-LM head: {purpose} need the trained token probabilities; 'dnalm embed' can "
            "use this model"
        )
    return load_for_inference(AutoModelForMaskedLM, model_files, device)


def load_for_inference(auto_class, model_files, device=None, **options):
    """``auto_class`` (an ``AutoModel...``) of ``model_files``: local safetensors, checked, eval mode."""
    device = torch.device(device) if device is not None else torch.device(announce_device())
    with loading_checkpoint(model_files.source):
        model, info = auto_class.from_pretrained(
            str(model_files.directory),
            dtype=inference_dtype(device),
            use_safetensors=True,
            trust_remote_code=False,
            local_files_only=True,
            output_loading_info=True,
            **options,
        )
    missing = sorted(info.get("missing_keys") or ())
    mismatched = sorted(str(key) for key in info.get("mismatched_keys") or ())
    if missing or mismatched:
        names = ", ".join((missing + mismatched)[:3])
        raise DnalmError(
            f"model {model_files.source}: the weights do not match config.json "
            f"({len(missing) + len(mismatched)} tensors missing or mis-shaped, e.g. {names})"
        )
    return model.to(device).eval()
