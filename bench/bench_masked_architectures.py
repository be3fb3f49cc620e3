"""Which encoder for the CPU masked-LM preset: ModernBERT or ESM, at cpu-dense's width and depth?

Trains each architecture for a few optimiser steps on random 3-mer ids shaped like the yeast
recipe's windows (32 windows of 69 tokens: [CLS], 67 3-mers, [SEP]), forward, backward and
AdamW, on the CPU, in fp32, and prints training tokens/s. cpu-dense (the causal Mistral) runs
beside them as the reference. The architectures take turns, round after round, so that a
neighbour's load on a shared machine falls on all of them alike; the median round counts.

    .venv/bin/python bench/bench_masked_architectures.py --rounds 5 --steps 10
"""

import argparse
import statistics
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM

# cpu-dense's shape (training/presets.py): hidden 128, MLP 384, 4 layers of 4 heads.
SHAPE = dict(hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4)
VOCAB, PAD, MASK = 69, 3, 4  # kmer:3: 5 special tokens and 64 words
ARCHITECTURES = {
    "cpu-dense (mistral, causal)": ("mistral", dict(head_dim=32, num_key_value_heads=4,
                                                   sliding_window=None, tie_word_embeddings=False)),
    "modernbert (masked)": ("modernbert", dict(global_attn_every_n_layers=1, mask_token_id=MASK)),
    "esm (masked, rotary)": ("esm", dict(position_embedding_type="rotary", mask_token_id=MASK)),
}


def build(model_type, extra):
    config = AutoConfig.for_model(model_type, vocab_size=VOCAB, pad_token_id=PAD,
                                  max_position_embeddings=512, **SHAPE, **extra)
    auto = AutoModelForCausalLM if model_type == "mistral" else AutoModelForMaskedLM
    return auto.from_config(config, dtype=torch.float32).train()


def batch(windows, tokens, generator):
    ids = torch.randint(5, VOCAB, (windows, tokens), generator=generator)
    # A masked LM's loss counts 15% of the positions; the forward and backward passes are whole.
    chosen = torch.rand(ids.shape, generator=generator) < 0.15
    return ids, torch.where(chosen, ids, -100)


def tokens_per_second(model, steps, windows, tokens, generator):
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids, labels = batch(windows, tokens, generator)
    is_causal = model.config.model_type == "mistral"
    model(input_ids=ids, labels=ids if is_causal else labels).loss.backward()  # warm up
    optimiser.step()
    optimiser.zero_grad()
    started = time.perf_counter()
    for _ in range(steps):
        loss = model(input_ids=ids, labels=ids if is_causal else labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    return steps * windows * tokens / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="optimiser steps per measurement")
    parser.add_argument("--windows", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=69)
    args = parser.parse_args()
    torch.manual_seed(0)
    models = {name: build(*spec) for name, spec in ARCHITECTURES.items()}
    speeds = {name: [] for name in models}
    generator = torch.Generator().manual_seed(0)
    for _ in range(args.rounds):
        for name, model in models.items():
            speeds[name].append(tokens_per_second(model, args.steps, args.windows, args.tokens,
                                                  generator))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{args.windows} x {args.tokens} tokens per step, median of {args.rounds} rounds")
    print("| architecture | parameters | training tokens/s (median) | min - max |")
    print("|---|---:|---:|---|")
    for name, model in models.items():
        values = speeds[name]
        print(f"| {name} | {sum(p.numel() for p in model.parameters()):,} | "
              f"{statistics.median(values):,.0f} | {min(values):,.0f} - {max(values):,.0f} |")


if __name__ == "__main__":
    main()
