"""The model argument of the tools that run a model (embed, score, score-variants, generate, predict).

Their settings are declared on settings dataclasses (``inference.batches.ContextSettings``,
``inference.pair_effects.EffectSettings``, ...) and become options through
``setting_options``; the options that read their sequences are ``sequence_options``'s.
"""


def add_model_argument(parser):
    parser.add_argument(
        "model", metavar="MODEL",
        help="model zip (as made by 'dnalm pretrain') or Hugging Face model directory "
        "with safetensors weights and tokenizer.json",
    )
