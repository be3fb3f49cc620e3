"""Command-line options shared by the tools that run a model (embed, score, score-variants, generate).

The options that read their sequences are ``sequence_options``'s, as tokenize's are.
"""

import argparse

from dnalm.inference.batches import LONG_SEQUENCE_POLICIES
from dnalm.inference.variant_distances import DISTANCES, POOLINGS, SOURCES


def add_model_argument(parser):
    parser.add_argument(
        "model", metavar="MODEL",
        help="model zip (as made by 'dnalm pretrain') or Hugging Face model directory "
        "with safetensors weights and tokenizer.json",
    )


def add_distance_options(parser):
    """The vector distances of ref/alt pairs (score, score-variants)."""
    parser.add_argument(
        "--distance", nargs="+", choices=DISTANCES, default=None,
        help="also give the distance between the pooled vectors of ref and alt (columns "
        "l2_distance, cosine_distance); a model without LM head then gives distances only",
    )
    parser.add_argument("--distance-pooling", choices=POOLINGS, default="max",
                        help="how token vectors become one vector (default: max, as the tutorial)")
    parser.add_argument(
        "--distance-from", choices=SOURCES, default="hidden",
        help="vectors to compare: the last hidden states (default; no LM head needed) or the "
        "LM head's logits (as the tutorial's model(inputs)[0])",
    )


def add_context_options(parser):
    parser.add_argument(
        "--long-sequences", choices=LONG_SEQUENCE_POLICIES, default="error",
        help="sequences longer than the model's context: stop with an error (default), "
        "truncate them (with a warning), or split them into pieces whose results are combined",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=None,
        help="sequences per forward pass (default: 128 on a CPU, 1024 on a GPU)",
    )


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
