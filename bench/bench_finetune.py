"""Fine-tuning and prediction speed: the GTN tutorial's recipe vs ``dnalm finetune`` / ``dnalm predict``.

Both fine-tune the same checkpoint (Mistral-DNA's 1M-parameter tf0 classifier,
``tests/data/mistral-dna-1m-hg38-tf0``) on the same GUE rows (core promoter
TATA by default: ``tests/data/gue_prom_core_tata``), with the same recipe:
LoRA r 16 / alpha 16 / dropout 0.05 on q/k/v/o with the head trained, lr 1e-5,
batch 16, evaluation on the dev set every epoch, best model by validation loss.

* tutorial -- the notebook's code: LoRA adapters (``add_adapter`` in the notebook; peft's
  ``get_peft_model`` here, see ``run_tutorial``),
  ``DataCollatorWithPadding`` (pad to the longest of each batch),
  ``Trainer`` with evaluation and a checkpoint saved every epoch, the default
  evaluation batch (8), early stopping 3; experts looped over in Python as
  transformers 4.47 ran Mixtral (``experts_implementation="eager"``). On a CPU
  transformers refuses the tutorial's ``bf16=True`` without ``use_cpu``, so it
  runs fp32, as it would for a user.
* dnalm    -- ``dnalm finetune`` with its defaults (``--precision auto``).

Each recipe runs in its own process (its own peak memory). Reported: training
sequences per second (evaluation included), the ratio, peak resident memory,
and the final dev accuracy (the best epoch's). Then prediction on the GUE tf/0
test set (1,000 rows): the tutorial's one-sequence-at-a-time loop against
``dnalm predict``'s length-sorted batches, same model, same probabilities.

    .venv/bin/python bench/bench_finetune.py                 # 1,024 rows x 2 epochs
    .venv/bin/python bench/bench_finetune.py --rows 4904 --epochs 3 --threads 2
"""

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "tests" / "data" / "mistral-dna-1m-hg38-tf0"
TASK = REPO / "tests" / "data" / "gue_prom_core_tata"
TF0_TEST = REPO / "tests" / "data" / "gue_tf0" / "test.csv"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1024, help="training rows (first N)")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run the two fine-tuning recipes alternately this often; the fastest "
                             "run of each counts (a shared machine's load varies)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: tutorial,dnalm,predict")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one part, print JSON
    parser.add_argument("--data", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def write_slice(rows, directory):
    import gzip

    train = Path(directory) / "train.csv"
    with gzip.open(TASK / "train.csv.gz", "rt") as source:
        lines = source.read().splitlines()
    train.write_text("\n".join(lines[:rows + 1]) + "\n")
    return train


def peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_tutorial(args, train_csv):
    """The notebook's fine-tuning code, with its values."""
    import numpy as np
    import pandas as pd
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from sklearn.metrics import accuracy_score
    from transformers import (AutoModelForSequenceClassification, DataCollatorWithPadding,
                              EarlyStoppingCallback, PreTrainedTokenizerFast, Trainer,
                              TrainingArguments, set_seed)

    set_seed(42)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(MODEL / "tokenizer.json"),
                                        pad_token="[PAD]")
    model = AutoModelForSequenceClassification.from_pretrained(
        str(MODEL), num_labels=2, dtype=torch.float32, experts_implementation="eager")
    # The notebook calls model.add_adapter(config); transformers 5.24 wants peft >= 0.22 for
    # that, newer than any release on PyPI today, so the same adapters are added by peft itself.
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=16, lora_dropout=0.05,
                                             target_modules=TARGETS, task_type="SEQ_CLS"))

    def dataset(path):
        frame = pd.read_csv(path)
        return Dataset.from_pandas(frame).map(
            lambda rows: tokenizer(rows["sequence"]), batched=True, remove_columns=["sequence"])

    def accuracy(prediction):
        return {"accuracy": accuracy_score(prediction.label_ids, np.argmax(prediction.predictions, -1))}

    with tempfile.TemporaryDirectory() as output:
        trainer = Trainer(
            model=model,
            # The notebook's own arguments, not dnalm's builder: they are the baseline
            # (the dnalm side runs `dnalm finetune` itself, through its one builder).
            args=TrainingArguments(
                output_dir=output, num_train_epochs=args.epochs, per_device_train_batch_size=16,
                learning_rate=1e-5, eval_strategy="epoch", save_strategy="epoch",
                load_best_model_at_end=True, use_cpu=not torch.cuda.is_available(),
                bf16=torch.cuda.is_available(), report_to="none", disable_tqdm=True, seed=42),
            train_dataset=dataset(train_csv), eval_dataset=dataset(TASK / "dev.csv"),
            data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=accuracy,
            callbacks=[EarlyStoppingCallback(early_stopping_patience=3)],
        )
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        dev_accuracy = trainer.evaluate()["eval_accuracy"]
    sequences = trainer.state.global_step * 16
    return {"seconds": seconds, "sequences_per_second": sequences / seconds,
            "dev_accuracy": dev_accuracy, "peak_mib": peak_mib()}


def run_dnalm(args, train_csv):
    import contextlib
    import io
    import re

    from dnalm.cli import main

    with tempfile.TemporaryDirectory() as output:
        metrics = Path(output) / "metrics.tsv"
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            code = main(["finetune", str(MODEL), str(train_csv), "--validation", str(TASK / "dev.csv"),
                         "-o", str(Path(output) / "model.zip"), "--epochs", str(args.epochs),
                         "--metrics", str(metrics)])
        assert code == 0, log.getvalue()
        with open(metrics, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    best = min(rows, key=lambda row: float(row["val_loss"]))
    found = re.search(r"trained in ([\d.]+) s: ([\d,.]+) sequences/s", log.getvalue())
    return {"seconds": float(found.group(1)),
            "sequences_per_second": float(found.group(2).replace(",", "")),
            "dev_accuracy": float(best["accuracy"]), "peak_mib": peak_mib(),
            "precision": "bf16" if "; bf16" in log.getvalue() else "fp32"}


def run_predict(args):
    """The tutorial's loop (one sequence per forward pass) vs dnalm's batches, one model."""
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast

    from dnalm.inference.classification import predict_probabilities
    from dnalm.io.labelled_sequences import read_labelled

    data = read_labelled(TF0_TEST)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(MODEL / "tokenizer.json"), pad_token="[PAD]")
    model = AutoModelForSequenceClassification.from_pretrained(str(MODEL), dtype=torch.float32).eval()
    started = time.perf_counter()
    with torch.no_grad():
        loop = np.concatenate([torch.softmax(model(**tokenizer([s], return_tensors="pt")).logits, -1)
                               .numpy() for s in data.sequences])
    loop_seconds = time.perf_counter() - started
    started = time.perf_counter()
    token_ids = tokenizer(data.sequences)["input_ids"]
    ours = predict_probabilities(model, token_ids, model.config.pad_token_id)
    dnalm_seconds = time.perf_counter() - started
    return {"sequences": len(data), "loop_seconds": loop_seconds, "dnalm_seconds": dnalm_seconds,
            "max_probability_difference": float(np.abs(loop - ours).max())}


def one(args):
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    part = {"tutorial": run_tutorial, "dnalm": run_dnalm}.get(args.one)
    result = part(args, Path(args.data)) if part else run_predict(args)
    print("RESULT " + json.dumps(result), flush=True)


def in_subprocess(part, args, train_csv):
    command = [sys.executable, __file__, "--one", part, "--data", str(train_csv),
               "--epochs", str(args.epochs), "--threads", str(args.threads)]
    finished = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in finished.stdout.splitlines() if line.startswith("RESULT ")]
    if finished.returncode or not lines:
        sys.exit(f"{part} failed:\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main():
    args = parse_args()
    if args.one:
        return one(args)
    import torch

    skip = set(args.skip.split(","))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    print(f"device: {device}; threads: {args.threads or torch.get_num_threads()}; "
          f"{args.rows} training rows x {args.epochs:g} epochs, dev 613 rows")
    with tempfile.TemporaryDirectory() as directory:
        train_csv = write_slice(args.rows, directory)
        results = {}
        for _ in range(args.repeats):
            for part in ("tutorial", "dnalm"):
                if part in skip:
                    continue
                run = in_subprocess(part, args, train_csv)
                if part not in results or run["seconds"] < results[part]["seconds"]:
                    results[part] = run
        if "predict" not in skip:
            results["predict"] = in_subprocess("predict", args, train_csv)
    for part in ("tutorial", "dnalm"):
        if part in results:
            r = results[part]
            print(f"{part:9s} {r['sequences_per_second']:8.1f} sequences/s  {r['seconds']:7.1f} s  "
                  f"peak {r['peak_mib']:6.0f} MiB  dev accuracy {r['dev_accuracy']:.4f}"
                  + (f"  ({r['precision']})" if "precision" in r else ""))
    if {"tutorial", "dnalm"} <= set(results):
        speedup = results["dnalm"]["sequences_per_second"] / results["tutorial"]["sequences_per_second"]
        gap = results["dnalm"]["dev_accuracy"] - results["tutorial"]["dev_accuracy"]
        print(f"fine-tuning: dnalm {speedup:.2f}x the tutorial; dev accuracy difference {gap:+.4f}")
    if "predict" in results:
        r = results["predict"]
        print(f"predict {r['sequences']} sequences: tutorial loop {r['loop_seconds']:.2f} s, dnalm "
              f"{r['dnalm_seconds']:.2f} s ({r['loop_seconds'] / r['dnalm_seconds']:.1f}x); "
              f"largest probability difference {r['max_probability_difference']:.1e}")


if __name__ == "__main__":
    main()
