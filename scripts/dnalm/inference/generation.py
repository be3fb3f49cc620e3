"""Sample new DNA from a causal language model, one prompt at a time.

Each prompt (or, without prompts, just ``[CLS]``) is continued token by token
with ``model.generate``. Tokens that are not pure A/C/G/T (the special tokens,
``[UNK]``) are never sampled, so the output is plain DNA. Because one token is
one to a dozen bases, sampling stops, per sequence, as soon as enough bases
are made; the last token is then cut to the exact length asked for.
"""

from dataclasses import dataclass

import torch

from dnalm.errors import DnalmError
from dnalm.settings import check_settings, setting

DNA_LETTERS = frozenset("ACGT")


@dataclass
class GenerationSettings:
    """How to sample: every knob of ``dnalm generate``."""

    num_sequences: int = setting(5, "sequences to generate per prompt", min=1, max=10000)
    length_bp: int = setting(200, "bases to generate per sequence", flag="length", min=1)
    temperature: float = setting(1.0, "sampling temperature; 0 picks the most likely token "
                                 "(greedy)", min=0)
    top_k: int = setting(0, "sample among the k most likely tokens only; 0: all", min=0)
    top_p: float = setting(1.0, "sample among the most likely tokens summing to p; 1: all",
                           above=0, max=1)
    seed: int = setting(1, "random seed: the same seed gives the same sequences")

    def __post_init__(self):
        check_settings(self)


def base_lengths(tokenizer):
    """Bases per token id: the token's length if it is pure ACGT, else 0 (never sampled)."""
    lengths = [0] * tokenizer.get_vocab_size(with_added_tokens=True)
    for token, token_id in tokenizer.get_vocab(with_added_tokens=True).items():
        if token and set(token) <= DNA_LETTERS:
            lengths[token_id] = len(token)
    return lengths


def generate_dna(model, tokenizer, prompts, settings, bos_id, pad_id, max_positions=None):
    """Yield ``(name, prompt, dna)``: ``settings.num_sequences`` sequences per prompt.

    ``prompts`` is a list of ``SequenceRecord``s, or empty to start from ``[CLS]`` alone.
    """
    from transformers import GenerationConfig, StoppingCriteriaList

    lengths = base_lengths(tokenizer)
    never = [token_id for token_id, length in enumerate(lengths) if length == 0]
    device = next(model.parameters()).device
    torch.manual_seed(settings.seed)
    for prompt in prompts or [None]:
        prompt_ids = [bos_id]
        if prompt is not None:
            prompt_ids += tokenizer.encode(prompt.sequence, add_special_tokens=False).ids
        room = settings.length_bp if max_positions is None else max_positions - len(prompt_ids)
        if room < 1:
            raise DnalmError(
                f"prompt '{prompt.id}' fills the model's context ({max_positions} tokens) already"
            )
        sampling = settings.temperature > 0
        config = GenerationConfig(
            do_sample=sampling,
            temperature=settings.temperature if sampling else None,
            top_k=settings.top_k if sampling else None,
            top_p=settings.top_p if sampling else None,
            max_new_tokens=min(settings.length_bp, room),  # a token is at least one base
            # greedy decoding gives one answer: made once, then copied
            num_return_sequences=settings.num_sequences if sampling else 1,
            suppress_tokens=never,
            pad_token_id=pad_id,
            bos_token_id=bos_id,
            eos_token_id=None,
        )
        stop = EnoughBases(lengths, len(prompt_ids), settings.length_bp, device)
        input_ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
        with torch.inference_mode():
            output = model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([stop]),
            )
        if not sampling:
            output = output.repeat(settings.num_sequences, 1)
        for number, row in enumerate(output[:, len(prompt_ids):].tolist(), start=1):
            dna = "".join(tokenizer.id_to_token(t) for t in row if lengths[t])
            name = f"generated_{number}" if prompt is None else f"{prompt.id}_generated_{number}"
            if len(dna) < settings.length_bp:
                raise DnalmError(
                    f"{name}: the model's context ({max_positions} tokens) ran out after "
                    f"{len(dna)} bp; ask for at most that many bases or use a shorter prompt"
                )
            yield name, prompt, dna[: settings.length_bp]


class EnoughBases:
    """Stopping criterion: a row is done once its new tokens hold ``length_bp`` bases."""

    def __init__(self, lengths, prompt_length, length_bp, device):
        self.lengths = torch.tensor(lengths, device=device)
        self.prompt_length = prompt_length
        self.length_bp = length_bp

    def __call__(self, input_ids, scores, **kwargs):
        made = self.lengths[input_ids[:, self.prompt_length:]].sum(dim=1)
        return made >= self.length_bp
