"""Embedding throughput: dnalm embed's batched pipeline vs the tutorial's loop.

The Galaxy Training Network tutorial embeds one sequence at a time through the
full causal LM and averages the logits::

    inputs = tokenizer(dna, return_tensors="pt")["input_ids"]
    hidden_states = model(inputs)[0]          # the logits, [1, tokens, 4096]
    embedding_mean = torch.mean(hidden_states[0], dim=0)

dnalm runs the base model only (no vocabulary projection), on length-sorted
batches, under ``torch.inference_mode`` (bf16 on a GPU), pooling hidden states.
Both use the tutorial's preset architecture (Mixtral, hidden 256, 8 layers, 64
experts, top-1), randomly initialised (speed does not depend on the weights),
and the same real hg38 windows. Runs unchanged on a GPU.

    python bench/bench_embed.py                       # 2-core CPU: ~1-2 minutes
    python bench/bench_embed.py --threads 1           # a busy shared machine: see below
    python bench/bench_embed.py --sequences ../shared/data/sequences/hg38_exon_windows_201bp.fa.gz

On a machine shared with other jobs, 2-thread timings are unreliable: OpenMP
threads that lose their core spin and wait, which hurts the one-at-a-time loop
(thousands of tiny operations) far more than large batches and inflates the
ratio. ``--threads 1`` and the per-CPU-second column are the fairer comparison
there.
"""

import argparse
import json
import time
from importlib import resources
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", default=str(REPO / "tests" / "data" / "hg38_windows_300.fa"),
                        help="real DNA windows (FASTA, gz ok)")
    parser.add_argument("--count", type=int, default=None,
                        help="sequences for dnalm (cycled if the file has fewer; "
                        "default 1024 on CPU, 16384 on GPU)")
    parser.add_argument("--tutorial-count", type=int, default=None,
                        help="sequences for the slow tutorial loop (default 256 on CPU, 1024 on GPU)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="dnalm batch size (default 128 on CPU, 1024 on GPU)")
    parser.add_argument("--experts", default=None, choices=["grouped_mm", "batched_mm", "eager"],
                        help="transformers MoE implementation for dnalm (default: transformers' choice)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--preset", default="tutorial",
                        help="model architecture (default: the tutorial's; tiny for a quick check)")
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args()


def tutorial_model(device, preset="tutorial"):
    """MixtralForCausalLM from the tutorial's config.json (or a dnalm preset), random init, float32."""
    from transformers import MixtralConfig, MixtralForCausalLM

    if preset == "tutorial":
        config_path = resources.files("dnalm").joinpath("data/configs/mixtral-dna-tutorial/config.json")
        config = MixtralConfig(**{k: v for k, v in json.loads(config_path.read_text()).items()
                                  if k != "torch_dtype"})
    else:
        from dnalm.training.presets import preset_config

        config = preset_config(preset)
    torch.manual_seed(0)
    return MixtralForCausalLM(config).to(device=device, dtype=torch.float32).eval()


def read_windows(path, count):
    from dnalm.io.sequences import read_sequences

    records = list(read_sequences(path))
    return [records[i % len(records)] for i in range(count)]


class Stopwatch:
    """Wall-clock and CPU time of a block (CPU time is what a busy shared machine distorts least)."""

    def __init__(self, device):
        self.device = device

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def __enter__(self):
        self._sync()
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self._sync()
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def rates(self, count):
        """(sequences per second, sequences per CPU-second)."""
        return count / self.wall, count / self.cpu


def time_tutorial_loop(model, tokenizer, records, device):
    """The tutorial's get_embeddings, as written (gradients on, logits pooled), one sequence at a time."""
    def get_embeddings(dna):
        inputs = tokenizer(dna, return_tensors="pt")["input_ids"].to(device)
        hidden_states = model(inputs)[0]
        embedding_mean = torch.mean(hidden_states[0], dim=0)
        return embedding_mean.detach().cpu().numpy()

    for record in records[:8]:  # warm-up
        get_embeddings(record.sequence)
    with Stopwatch(device) as clock:
        for record in records:
            get_embeddings(record.sequence)
    return clock.rates(len(records))


def time_dnalm(model, tokenizer, records, batch_size, device):
    """dnalm embed's own pipeline: tokenize, fit the context, sorted batches, pooled hidden states."""
    from dnalm.inference.batches import (
        fit_to_context,
        special_token_ids,
        tokenize_records,
    )
    from dnalm.inference.embedding import EmbeddingSettings, embed_pieces

    settings = EmbeddingSettings(pooling="mean", batch_size=batch_size)
    specials = special_token_ids(tokenizer)

    def run(subset):
        pieces = fit_to_context(tokenize_records(subset, tokenizer), 512, "error", specials, "bench")
        rows = 0
        for ids, matrix in embed_pieces(model, pieces, settings, pad_id=3, special_ids=specials):
            rows += len(ids)
        return rows

    run(records[: 2 * batch_size])  # warm-up
    with Stopwatch(device) as clock:
        rows = run(records)
    assert rows == len(records)
    return clock.rates(rows)


def main():
    args = parse_args()
    from dnalm.inference.model_loading import inference_device, inference_dtype
    from dnalm.tokenization.loading import load_tokenizer, to_transformers

    if args.threads:
        torch.set_num_threads(args.threads)
    device = inference_device()
    on_gpu = device.type == "cuda"
    count = args.count or (16384 if on_gpu else 1024)
    tutorial_count = args.tutorial_count or (1024 if on_gpu else 256)
    batch_size = args.batch_size or (1024 if on_gpu else 128)

    tokenizer = load_tokenizer()
    records = read_windows(args.sequences, max(count, tutorial_count))
    causal_lm = tutorial_model(device, args.preset)
    tutorial_rate = time_tutorial_loop(causal_lm, to_transformers(tokenizer),
                                       records[:tutorial_count], device)

    # dnalm: the base model only, in the dtype the tools use (float32 CPU, bf16 GPU).
    base = causal_lm.model.to(inference_dtype(device))
    if args.experts:
        base.set_experts_implementation(args.experts)
    dnalm_rate = time_dnalm(base, tokenizer, records[:count], batch_size, device)

    name = torch.cuda.get_device_name(device) if on_gpu else f"CPU, {torch.get_num_threads()} threads"
    experts = base.config._experts_implementation
    config = base.config
    print(f"device: {name}; model: {args.preset} preset Mixtral (hidden {config.hidden_size}, "
          f"{config.num_hidden_layers} layers, {config.num_local_experts} experts)")
    print(f"data: {args.sequences}")
    print(f"{'method':<60}{'sequences':>10}{'seq/s':>9}{'seq/CPU-s':>11}")
    rows = [
        ("tutorial loop (1 at a time, causal LM, logits pooled)", tutorial_count, tutorial_rate),
        (f"dnalm embed (batch {batch_size}, base model, {experts}, "
         f"{str(inference_dtype(device)).removeprefix('torch.')})", count, dnalm_rate),
    ]
    for label, number, (wall, cpu) in rows:
        print(f"{label:<60}{number:>10}{wall:>9.1f}{cpu:>11.1f}")
    print(f"speed-up: {dnalm_rate[0] / tutorial_rate[0]:.2f}x wall-clock, "
          f"{dnalm_rate[1] / tutorial_rate[1]:.2f}x per CPU-second")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(
            device=name, preset=args.preset, torch=torch.__version__, experts=experts,
            batch_size=batch_size,
            dtype=str(inference_dtype(device)).removeprefix("torch."),
            tutorial_sequences=tutorial_count, tutorial_per_second=tutorial_rate[0],
            dnalm_sequences=count, dnalm_per_second=dnalm_rate[0],
            speedup=dnalm_rate[0] / tutorial_rate[0]), indent=1))

if __name__ == "__main__":
    main()
