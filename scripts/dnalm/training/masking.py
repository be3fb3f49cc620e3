"""Masked language modelling's batches: which tokens each window hides, and a validation set
hidden once.

Training windows are masked anew in every batch by transformers'
``DataCollatorForLanguageModeling`` (``mlm_probability`` 0.15), as BERT and the
Nucleotide Transformer were trained: 15% of each window's tokens are chosen,
never a special token ([CLS], [SEP], [PAD], [UNK], [MASK]); of those, 80% are
shown as [MASK], 10% as a random token and 10% unchanged. The labels are the
chosen tokens' ids (-100 elsewhere), so the loss and the accuracy count the
chosen positions only. The draws come from torch's global generator, which
the Trainer seeds and saves in every checkpoint: a resumed run masks as the
uninterrupted one would.

Validation windows are masked once, before training, by the same collator
seeded with ``--seed`` (``MaskedOnce``): every evaluation scores the same
hidden tokens, so evaluations compare.

Windows are not packed: each has its own row, padded to the batch's longest,
with an ``attention_mask``. The encoders attend both ways, and transformers'
bidirectional masks do not separate packed sequences as its causal ones do.
"""

import numpy as np
import torch
from transformers import DataCollatorForLanguageModeling, DataCollatorForTokenClassification

from dnalm.errors import DnalmError
from dnalm.training.packing import IGNORE_INDEX

MASKED_SHARE = 0.15  # BERT's mlm_probability; 80/10/10 are the collator's defaults
PAD_TO_MULTIPLE_OF = 8  # friendlier shapes for the kernels
MASKING_BATCH = 256  # validation windows masked per call


def check_mask_token(tokenizer, source):
    """Refuse a tokenizer without a mask token: masked pretraining shows hidden tokens as one."""
    if tokenizer.mask_token_id is None:
        raise DnalmError(
            f"{source}: its tokenizer has no mask token ([MASK]): --objective masked needs one; "
            "tokenize with one of the suite's tokenizers (dnabert2, kmer:K, char), which have it")


def masking_collator(tokenizer, seed=None):
    """transformers' masking collator with BERT's proportions; ``seed``: its own generator."""
    return DataCollatorForLanguageModeling(tokenizer, mlm_probability=MASKED_SHARE, seed=seed,
                                           pad_to_multiple_of=PAD_TO_MULTIPLE_OF)


def with_special_tokens_mask(windows, special_ids):
    """Examples for the masking collator; their special-token masks, found here in one NumPy
    call per window, spare it a lookup per token."""
    return [{"input_ids": ids, "special_tokens_mask": np.isin(ids, special_ids).astype(np.int8)}
            for ids in windows]


class MaskedLMCollator:
    """``DataCollator`` for ``Trainer``: training windows masked anew, validation windows (which
    arrive masked, with their labels) only padded; both with an ``attention_mask``."""

    def __init__(self, tokenizer):
        self.masking = masking_collator(tokenizer)
        self.padding = DataCollatorForTokenClassification(
            tokenizer, pad_to_multiple_of=PAD_TO_MULTIPLE_OF, label_pad_token_id=IGNORE_INDEX)
        self.special_ids = np.array(tokenizer.all_special_ids)

    def __call__(self, examples):
        if "labels" in examples[0]:
            return self.padding(examples)
        windows = [example["input_ids"] for example in examples]
        return self.masking(with_special_tokens_mask(windows, self.special_ids))


class MaskedOnce(torch.utils.data.Dataset):
    """A validation set whose windows were masked once, by a collator seeded with ``seed``.

    Holds each window's masked ids and labels (int32, 8 bytes a token); the
    validation set is capped (``--max-validation-sequences``), so this stays small.
    """

    def __init__(self, dataset, tokenizer, seed):
        self.dataset = dataset
        masking = masking_collator(tokenizer, seed=seed)
        special_ids = np.array(tokenizer.all_special_ids)
        self.windows = []
        for start in range(0, len(dataset), MASKING_BATCH):
            windows = [np.asarray(dataset[i]["input_ids"])
                       for i in range(start, min(start + MASKING_BATCH, len(dataset)))]
            batch = masking(with_special_tokens_mask(windows, special_ids))
            for row, ids in enumerate(windows):
                self.windows.append((batch["input_ids"][row, : len(ids)].numpy().astype(np.int32),
                                     batch["labels"][row, : len(ids)].numpy().astype(np.int32)))

    def __len__(self):
        return len(self.windows)

    def __getitem__(self, index):
        input_ids, labels = self.windows[index]
        return {"input_ids": input_ids, "labels": labels}

    def lengths(self):
        return self.dataset.lengths()


def masked_token_accuracy(prediction):
    """Share of the chosen (masked) positions whose token the model ranks first."""
    predicted = np.asarray(prediction.predictions)
    targets = np.asarray(prediction.label_ids)
    counted = targets != IGNORE_INDEX
    return {"accuracy": float((predicted[counted] == targets[counted]).mean())}
