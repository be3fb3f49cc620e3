"""Run a sequence classifier: load it, batch sequences by length, return class probabilities.

Shared by ``dnalm predict`` and by fine-tuning's test evaluation, so both give
the same numbers as plain transformers: sequences are padded on the right to
the longest of their batch, and Mistral-style classifiers read the last token
that is not ``[PAD]`` (ESM, BERT and ModernBERT the first, [CLS]-like one, with
the padding masked), so a sequence gets the logits it gets alone.
"""

import numpy as np
import torch

from dnalm.errors import DnalmError
from dnalm.inference.classification_metrics import softmax
from dnalm.inference.model_loading import load_for_inference


def load_classifier(model_files, device=None):
    """``AutoModelForSequenceClassification`` of a checkpoint that has a trained head."""
    from transformers import AutoModelForSequenceClassification

    if not model_files.has_classification_head:
        raise DnalmError(
            f"model {model_files.source} is a {model_files.architecture} checkpoint without a "
            f"classification head (no {model_files.classification_head}.weight): fine-tune it "
            "into a classifier with "
            "'dnalm finetune' first ('dnalm score' and 'dnalm embed' can use it as it is)"
        )
    return load_for_inference(AutoModelForSequenceClassification, model_files, device)


class ClassificationCollator:
    """Pad a batch to its longest sequence (on the right); no mask when nothing is padded.

    Mistral-style classifiers read the last token that is not ``[PAD]``, so
    right padding gives the same logits as each sequence alone.
    """

    def __init__(self, pad_id):
        self.pad_id = pad_id

    def __call__(self, features):
        width = max(len(f["input_ids"]) for f in features)
        input_ids = torch.full((len(features), width), self.pad_id, dtype=torch.long)
        for row, feature in enumerate(features):
            input_ids[row, :len(feature["input_ids"])] = torch.tensor(feature["input_ids"])
        batch = {"input_ids": input_ids,
                 "labels": torch.tensor([f["labels"] for f in features], dtype=torch.long)}
        if any(len(f["input_ids"]) < width for f in features):
            batch["attention_mask"] = (input_ids != self.pad_id).long()
        return batch


def predict_probabilities(model, token_ids, pad_id, batch_size=256, bf16=False):
    """Class probabilities (n, k) in input order: length-sorted batches, no gradients."""
    return softmax(predict_logits(model, token_ids, pad_id, batch_size, bf16))


def predict_logits(model, token_ids, pad_id, batch_size=256, bf16=False):
    """Class logits (n, k) in input order, float32 on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
    collate = ClassificationCollator(pad_id)
    out = np.zeros((len(token_ids), model.config.num_labels), dtype=np.float32)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    with torch.inference_mode(), autocast:
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = collate([{"input_ids": token_ids[i], "labels": 0} for i in chunk])
            batch.pop("labels")
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            out[chunk] = logits.float().cpu().numpy()
    return out
