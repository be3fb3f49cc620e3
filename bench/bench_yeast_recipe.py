"""One pretraining recipe on the yeast genome, scored by the yeast probe.

The genome minus the held-out chromosomes (chrXV, chrXVI) is tokenized into
windows, a model is pretrained on them for a time budget, and
``bench_yeast_probe.py`` scores it on the held-out windows beside the same
model randomly initialised and k-mer frequencies. Every run appends one row
(settings -> figures) to a JSON-lines log, the source of the experiments table
in ``bench/RESULTS.md``.

    python bench/bench_yeast_recipe.py --name tiny-char --tokenizer char --minutes 3 \\
        -- --preset tiny --learning-rate 3e-3
    python bench/bench_yeast_recipe.py --name final --minutes 15 -- --preset cpu-yeast

Arguments after ``--`` go to ``dnalm pretrain``. Token tables are kept in
``--work`` and reused by later runs with the same tokenizer and window.
"""

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENOME = REPO / "genomes" / "sacCer3"
HELD_OUT = ("chrXV", "chrXVI")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the run's name in the log")
    parser.add_argument("--tokenizer", default="char", help="dnalm tokenize --tokenizer")
    parser.add_argument("--window", type=int, default=200, help="pretraining window in bp")
    parser.add_argument("--minutes", type=float, default=3, help="dnalm pretrain --time-budget")
    parser.add_argument("--pooling", default="mean", help="bench_yeast_probe.py --pooling")
    parser.add_argument("--layer", default="-1", help="bench_yeast_probe.py --layer")
    parser.add_argument("--kmers", default="none",
                        help="bench_yeast_probe.py --kmers (none: the k-mer figures are the "
                             "same for every model)")
    parser.add_argument("--work", default=str(REPO / "out" / "yeast"), help="work folder")
    parser.add_argument("--log", default=str(REPO / "out" / "yeast" / "runs.jsonl"),
                        help="JSON-lines log every run is appended to")
    parser.add_argument("pretrain_args", nargs="*", help="options for dnalm pretrain (after --)")
    return parser.parse_args(argv)


def training_fasta(work):
    """The genome without the held-out chromosomes (written once)."""
    from dnalm.io.sequences import read_sequences

    path = work / "train14.fa"
    if not path.exists():
        with open(path.with_suffix(".partial"), "w") as out:
            for record in read_sequences(GENOME / "sacCer3.fa", "fasta"):
                if record.id not in HELD_OUT:
                    out.write(f">{record.id}\n{record.sequence}\n")
        path.with_suffix(".partial").rename(path)
    return path


def dnalm(*argv):
    subprocess.run([str(Path(sys.executable).parent / "dnalm"), *map(str, argv)], check=True)


def main(argv=None):
    args = parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tokens = work / f"tokens_{args.tokenizer.replace(':', '')}_w{args.window}.parquet"
    if not tokens.exists():
        dnalm("tokenize", training_fasta(work), "--window", args.window,
              "--tokenizer", args.tokenizer, "-o", tokens)
    run = work / args.name
    run.mkdir(exist_ok=True)
    started = time.perf_counter()
    dnalm("pretrain", tokens, "-o", run / "model.zip", "--time-budget", args.minutes,
          "--metrics", run / "metrics.tsv", "--checkpoint-dir", run / "checkpoints",
          *args.pretrain_args)
    seconds = time.perf_counter() - started
    subprocess.run([sys.executable, str(REPO / "bench" / "bench_yeast_probe.py"),
                    run / "model.zip", "--windows", GENOME / "heldout_windows.csv",
                    f"--pooling={args.pooling}", f"--layer={args.layer}", f"--kmers={args.kmers}",
                    "--json", run / "probe.json"], check=True)
    probe = json.loads((run / "probe.json").read_text())
    with open(run / "metrics.tsv", newline="") as stream:
        metrics = list(csv.DictReader(stream, delimiter="\t"))
    steps = [row for row in metrics if row["kind"] == "step"]
    epochs = [row for row in metrics if row["kind"] == "epoch"]
    row = {
        "name": args.name, "tokenizer": args.tokenizer, "window": args.window,
        "minutes": args.minutes, "pretrain_args": " ".join(args.pretrain_args),
        "pretrain_seconds": round(seconds),
        "steps": int(steps[-1]["step"]) if steps else 0,
        "last_learning_rate": float(steps[-1]["learning_rate"]) if steps else None,
        "val_loss": float(epochs[-1]["val_loss"]) if epochs else None,
        "probe": [{k: r[k] for k in ("model", "pooling", "layer", "accuracy", "auroc")}
                  for r in probe["sweep"]],
        **{k: v["accuracy"] for k, v in probe.items() if k.startswith("kmer")},
    }
    with open(args.log, "a") as log:
        log.write(json.dumps(row) + "\n")
    print(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
