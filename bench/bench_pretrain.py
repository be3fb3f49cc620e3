"""Pretraining speed: the tutorial's recipe, as published and with today's defaults, vs dnalm's.

All recipes train the same model (same config, same seed, same initial weights)
on the same real DNA windows with ``transformers.Trainer``, batches of 32
sequences with the tutorial's gradient accumulation of 50 (1,600 sequences per
optimiser step; ``--gradient-accumulation 4`` for a quick run), and are timed
over the same number of optimiser steps after a warm-up. Each runs in its own
process so that peak memory is its own.

* published  -- the tutorial's code: ``attn_implementation="eager"``, left padding to
  the longest sequence, ``DataCollatorForLanguageModeling(mlm=False)``, batch 32,
  AdamW; experts looped over in Python as transformers 4.47 did
  (``experts_implementation="eager"`` in transformers 5).
* defaults   -- the same code on today's transformers defaults: grouped-GEMM experts,
  fused AdamW.
* dnalm_bf16_experts -- (only when asked for with ``--recipes``) dnalm with the experts
  of ``dnalm.runtime.autocast_experts``: grouped GEMMs in bf16 under autocast instead of
  fp32 (on a GPU, one CUTLASS kernel instead of one matrix product per expert).
* dnalm      -- ``dnalm pretrain``'s recipe: packed rows, grouped-GEMM experts, fused
  AdamW, the loss in chunks (``dnalm.training.loss``), the accumulation folded into
  larger micro-batches (on a GPU of 40 GiB or more the whole step in one pass), the
  precision and attention kernels ``--precision auto`` / ``--attention auto`` pick on
  this machine (bf16 and eager attention on a CPU with AMX, bf16 and SDPA on a GPU),
  and the allocator setting of ``dnalm.runtime.allocator`` (``--compile`` adds torch.compile).
* dnalm_compiled -- (only when asked for with ``--recipes``) ``dnalm pretrain --compile``:
  batches of one fixed shape, torch.compile in the mode ``--compile-mode auto`` picks
  (reduce-overhead, i.e. CUDA graphs, on a GPU; default on a CPU); two more warm-up
  steps, for compiling and recording.

Precision: on a GPU every recipe runs in bf16, as the tutorial asks
(``bf16=True``). On a CPU transformers refuses the tutorial's ``bf16=True``
(it wants ``use_cpu``), so the tutorial's recipes run fp32 there, as they would
for a user; ``--baseline-precision bf16`` runs them in bf16 autocast instead,
for a same-precision comparison.

Reported: real (non-padding) tokens per second, the ratios, peak memory, and on
a GPU the model FLOPs utilisation (MFU): training FLOPs per real token (6 x the
active matmul weights + causal attention over each sequence) x tokens/s / the
GPU's dense bf16 peak. Runs unchanged on CPU and GPU. ``--json`` writes the
figures; ``--profile`` runs one more step of the best dnalm recipe asked for
(dnalm_compiled, else dnalm) under torch.profiler and writes where its time goes
(top kernels) and the share of the step the GPU was busy.

    .venv/bin/python bench/bench_pretrain.py                  # tutorial preset, ~11 min on 2 cores
    .venv/bin/python bench/bench_pretrain.py --gradient-accumulation 4 --steps 4   # ~3 min
    .venv/bin/python bench/bench_pretrain.py --compile --recipes dnalm
    python3 bench/bench_pretrain.py --steps 2 --json pretrain.json --profile profile.txt   # GPU
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from dnalm.runtime.hardware import (
    PRECISIONS,
    attention_implementation,
    experts_implementation,
    precision_reason,
    use_bf16,
)

HERE = Path(__file__).resolve().parent
DEFAULT_FASTA = HERE.parent / "tests" / "data" / "pretrain_windows.fa"
RECIPES = ("published", "defaults", "dnalm")
EXTRA_RECIPES = ("dnalm_bf16_experts", "dnalm_compiled")  # asked for by --recipes
# Dense bf16 tensor-core peak (TFLOP/s) for MFU, by GPU name; the first name found wins.
PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100 NVL": 835.0, "H100": 989.0, "H200": 989.0,
                    "GH200": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0,
                    "RTX 4090": 165.0, "RTX 3090": 71.0}
PROFILE_ROWS = 30


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tutorial")
    parser.add_argument("--fasta", default=str(DEFAULT_FASTA), help="real DNA windows")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--gradient-accumulation", type=int, default=50, help="the tutorial's 50")
    parser.add_argument("--steps", type=int, default=2, help="timed optimiser steps")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--row-length", type=int, default=0, help="0: dnalm's default")
    parser.add_argument("--compile", action="store_true", help="dnalm recipe with torch.compile")
    parser.add_argument("--compile-backend", default="inductor",
                        help="torch.compile backend of the compiled recipe (aot_eager: trace "
                             "only, no code generation, to check the path quickly on a CPU)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="dnalm's precision (auto: what dnalm pretrain picks here)")
    parser.add_argument("--baseline-precision", choices=("fp32", "bf16"),
                        help="the tutorial recipes' precision on a CPU (default fp32; GPU: bf16)")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--profile", help="profile one more step of the best dnalm recipe; "
                                          "write its top kernels here")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one recipe, print JSON
    return parser.parse_args(argv)


def load_windows(fasta, count):
    """Token ids of ``count`` real windows (cycled if the file holds fewer)."""
    from dnalm.io.sequences import read_sequences
    from dnalm.tokenization.loading import load_tokenizer

    tokenizer = load_tokenizer()
    sequences = [record.sequence for record in read_sequences(fasta)]
    sequences = [sequences[i % len(sequences)] for i in range(count)]
    return tokenizer, [encoding.ids for encoding in tokenizer.encode_batch(sequences)]


class StepTimer:
    """A Trainer callback timing steps ``warmup + 1 .. last``, with the tokens they saw."""

    def __init__(self, warmup, last):
        from transformers import TrainerCallback

        outer = self

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                if state.global_step == warmup:
                    outer.start = (time.perf_counter(), state.num_input_tokens_seen)
                if state.global_step <= last:
                    outer.end = (time.perf_counter(), state.num_input_tokens_seen)

        self.callback = Callback()

    def tokens_per_second(self):
        return (self.end[1] - self.start[1]) / (self.end[0] - self.start[0])


class StepProfiler:
    """A Trainer callback running torch.profiler over optimiser step ``step + 1``."""

    def __init__(self, step, path):
        from transformers import TrainerCallback

        outer = self
        self.path = path

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                if state.global_step == step:
                    outer.start()

            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == step + 1:
                    outer.stop()

        self.callback = Callback()
        self.busy_share = None

    def start(self):
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(ProfilerActivity.CUDA)
            torch.cuda.synchronize()
        self.profiler = profile(activities=activities)
        self.profiler.__enter__()
        self.started = time.perf_counter()

    def stop(self):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds = time.perf_counter() - self.started
        self.profiler.__exit__(None, None, None)
        on_gpu = torch.cuda.is_available()
        sort_by = "self_device_time_total" if on_gpu else "self_cpu_time_total"
        events = self.profiler.key_averages()
        table = events.table(sort_by=sort_by, row_limit=PROFILE_ROWS, max_name_column_width=70)
        busy = sum(getattr(e, sort_by) for e in events) / 1e6  # microseconds -> seconds
        self.busy_share = busy / seconds if on_gpu else None
        where = "GPU kernels" if on_gpu else "CPU operators (self time, all threads)"
        Path(self.path).write_text(
            f"one dnalm optimiser step under torch.profiler: {seconds:.3f} s wall-clock, "
            f"{busy:.3f} s in {where}\n"
            f"(GPU busy / wall < 1 means the GPU waits for the CPU: launches, syncs)\n\n"
            f"{table}\n")


def run_one(args, recipe):
    """Train ``warmup + steps`` steps with one recipe; return its figures."""
    from dnalm.runtime.allocator import keep_freed_memory
    from dnalm.tokenization.loading import to_transformers
    from dnalm.training import presets
    from dnalm.training.token_files import SequenceDataset
    from dnalm.training.loss import CausalLMLoss
    from dnalm.training.packing import PackedCollator, auto_row_length, fixed_shape_collator
    from dnalm.training.trainer import micro_batching, pretraining_arguments
    from transformers import DataCollatorForLanguageModeling, Trainer, set_seed

    profile = bool(args.profile) and recipe == profiled_recipe(args.recipes)
    compiled = recipe == "dnalm_compiled" or (args.compile and recipe.startswith("dnalm"))
    warmup = args.warmup + (2 if compiled else 0)  # compiling, then recording the CUDA graphs
    n_steps = warmup + args.steps + (1 if profile else 0)
    n_sequences = n_steps * args.batch_size * args.gradient_accumulation
    tokenizer, sequences = load_windows(args.fasta, n_sequences)
    hf_tokenizer = to_transformers(tokenizer)
    config = presets.fit_config_to_tokenizer(presets.preset_config(args.preset), tokenizer)
    set_seed(0)
    on_gpu = torch.cuda.is_available()
    micro, accumulation = args.batch_size, args.gradient_accumulation
    loss = None  # the model's own
    if recipe.startswith("dnalm"):
        keep_freed_memory()
        settings = dnalm_settings(args, n_steps, compiled)
        bf16 = use_bf16(settings.precision)
        # dnalm folds the accumulation into larger micro-batches: the same updates.
        micro, accumulation = micro_batching(settings)
        experts = experts_implementation("grouped_mm", bf16)  # the tool's choice
        if recipe == "dnalm_bf16_experts":
            from dnalm.runtime import autocast_experts

            experts = autocast_experts.register()
        model = presets.build_model(config, attention=attention_implementation("auto", bf16),
                                    experts=experts)
        dataset = SequenceDataset(sequences)
        row_length = args.row_length or auto_row_length([len(s) for s in sequences])
        if compiled:
            collator = fixed_shape_collator(hf_tokenizer.pad_token_id, row_length,
                                            [len(s) for s in sequences], micro)
        else:
            collator = PackedCollator(hf_tokenizer.pad_token_id, row_length)
        loss = CausalLMLoss(getattr(config, "router_aux_loss_coef", 0.0))
    else:
        bf16 = on_gpu or args.baseline_precision == "bf16"
        experts = "eager" if recipe == "published" else "grouped_mm"
        model = presets.build_model(config, attention="eager", experts=experts)
        # The tutorial: tokenizer(..., padding="longest") with left padding, then the LM collator.
        hf_tokenizer.padding_side = "left"
        dataset = SequenceDataset(sequences)
        collator = DataCollatorForLanguageModeling(tokenizer=hf_tokenizer, mlm=False)
        optim = "adamw_torch" if recipe == "published" else "adamw_torch_fused"
    timer = StepTimer(warmup, warmup + args.steps)
    callbacks = [timer.callback]
    profiler = StepProfiler(warmup + args.steps, args.profile) if profile else None
    if profiler:
        callbacks.append(profiler.callback)
    output_dir = os.environ.get("TMPDIR", "/tmp") + f"/bench_pretrain_{recipe}"
    if recipe.startswith("dnalm"):  # dnalm pretrain's own arguments, from its one builder
        arguments = pretraining_arguments(
            settings, output_dir, n_steps,
            torch_compile_backend=args.compile_backend if compiled else None, **TIMED_STEPS_ONLY)
    else:
        arguments = tutorial_arguments(output_dir, n_steps, micro, accumulation, bf16, optim)
    trainer = Trainer(model=model, args=arguments, train_dataset=dataset, data_collator=collator,
                      processing_class=hf_tokenizer, callbacks=callbacks, compute_loss_func=loss)
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    speed = timer.tokens_per_second()
    if on_gpu:
        peak_memory = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak_memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    total, active = presets.count_parameters(model)
    return dict(recipe=recipe, tokens_per_second=speed, peak_memory_gib=peak_memory,
                flops_per_token=flops_per_token(model.config, active, sequences),
                bf16=bf16, attention=model.config._attn_implementation,
                precision_reason=precision_reason(args.precision) if recipe.startswith("dnalm") else
                ("GPU" if on_gpu else "asked" if args.baseline_precision else "tutorial on a CPU"),
                micro_batch=micro, accumulation=accumulation,
                experts=getattr(model.config, "_experts_implementation", None),
                compile=arguments.torch_compile_mode if compiled else False,
                rows_per_pass=getattr(collator, "fixed_rows", None) or None,
                gpu_busy_share=profiler.busy_share if profiler else None)


# What the bench changes in a recipe's arguments: a fixed number of steps, timed, with no
# evaluation, checkpoint or log line in between, and whole batches only.
TIMED_STEPS_ONLY = dict(save_strategy="no", eval_strategy="no", logging_strategy="no",
                        load_best_model_at_end=False, dataloader_drop_last=True)


def dnalm_settings(args, n_steps, compiled):
    """The ``dnalm pretrain`` settings of a dnalm recipe: the tutorial's values, ``n_steps`` steps."""
    from dnalm.training.pretraining_settings import PretrainingSettings

    return PretrainingSettings(
        batch_size=args.batch_size, gradient_accumulation=args.gradient_accumulation,
        micro_batch_size=0, learning_rate=5e-4, warmup_ratio=0.0, max_steps=n_steps, seed=0,
        precision=args.precision, compile=compiled, row_length=args.row_length)


def tutorial_arguments(output_dir, n_steps, micro, accumulation, bf16, optim):
    """The tutorial's ``TrainingArguments``: the notebook's values, not dnalm's builder, since
    they are the baseline dnalm is measured against."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=output_dir, max_steps=n_steps, per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation, learning_rate=5e-4, weight_decay=0.01,
        optim=optim, bf16=bf16, use_cpu=not torch.cuda.is_available(),
        include_num_input_tokens_seen="non_padding", remove_unused_columns=False,
        disable_tqdm=True, report_to="none", seed=0, **TIMED_STEPS_ONLY)


def profiled_recipe(recipes):
    """The recipe ``--profile`` profiles: the best dnalm recipe asked for."""
    asked = recipes.split(",")
    return next((r for r in ("dnalm_compiled", "dnalm") if r in asked), None)


def flops_per_token(config, active_parameters, sequences):
    """Training FLOPs per token: 6 x active weights (the embedding lookup is free) + attention."""
    mean_context = sum(len(s) for s in sequences) / len(sequences) / 2
    attention = 6 * 2 * config.num_hidden_layers * config.hidden_size * mean_context
    return 6 * (active_parameters - config.hidden_size) + attention


def peak_tflops():
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in name:
            return value
    return None


def main(argv=None):
    args = parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args, args.one)))
        return
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else (
        f"CPU, {torch.get_num_threads()} threads")
    import transformers

    print(f"preset {args.preset}, batch {args.batch_size} x accumulation "
          f"{args.gradient_accumulation}, {args.steps} timed steps after "
          f"{args.warmup} warm-up; torch {torch.__version__}, transformers "
          f"{transformers.__version__}; {device}", flush=True)
    results, failed = {}, []
    peak = peak_tflops()
    for recipe in args.recipes.split(","):
        command = [sys.executable, __file__, "--one", recipe, *(argv or sys.argv[1:])]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode:  # the other recipes still run and report
            sys.stderr.write(completed.stderr[-4000:])
            print(f"{recipe:18s} FAILED (exit {completed.returncode})", flush=True)
            failed.append(recipe)
            continue
        results[recipe] = json.loads(completed.stdout.strip().splitlines()[-1])
        result = results[recipe]
        line = (f"{recipe:18s} {result['tokens_per_second']:10,.0f} real tokens/s   "
                f"peak memory {result['peak_memory_gib']:.2f} GiB   "
                f"{'bf16' if result['bf16'] else 'fp32'} ({result['precision_reason']}), "
                f"{result['attention']} attention, {result['experts']} experts, "
                f"micro-batch {result['micro_batch']} x {result['accumulation']}")
        if peak:
            result["mfu"] = result["tokens_per_second"] * result["flops_per_token"] / (peak * 1e12)
            line += f"   MFU {100 * result['mfu']:.1f}%"
        print(line, flush=True)
    for ours in ("dnalm", *EXTRA_RECIPES):
        if ours not in results:
            continue
        for recipe in ("published", "defaults"):
            if recipe in results:
                ratio = results[ours]["tokens_per_second"] / results[recipe]["tokens_per_second"]
                results[ours][f"speedup_over_{recipe}"] = ratio
                print(f"{ours} / {recipe}: {ratio:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(
            preset=args.preset, batch_size=args.batch_size,
            gradient_accumulation=args.gradient_accumulation, steps=args.steps,
            device=device, peak_bf16_tflops=peak, torch=torch.__version__,
            transformers=transformers.__version__, recipes=results, failed=failed), indent=1))
    if failed:
        raise SystemExit(f"recipe(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
