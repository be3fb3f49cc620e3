"""Which objective makes the better yeast model in the same CPU budget: causal or masked?

The yeast recipe of ``bench_yeast_recipe.py`` (sacCer3 without the held-out chrXV and
chrXVI, 200-bp windows, a wall-time budget per run, validation on a random 0.5%) for
three arms, each trained once per seed:

* ``causal``: cpu-dense (a Mistral) on non-overlapping 3-mers, the README's CPU recipe;
* ``masked-3mer``: cpu-masked (a ModernBERT of the same width and depth) on the same tokens;
* ``masked-char``: cpu-masked on single bases (``char``).

Every model is then scored by the held-out coding-vs-intergenic probe
(``bench_yeast_probe.py``: mean-pooled last layer, 5 folds, classes balanced), beside the
same architecture randomly initialised and 3-, 4- and 6-mer frequencies, all on the same
windows and folds. One table (mean ± sd over seeds) is printed and written to ``--table``;
each run leaves its figures in ``WORK/ARM-seedN/run.json``, and a rerun of the bench with
the same budget reuses them: a stopped bench goes on where it stopped.

    python bench/bench_objectives.py --budget-minutes 15 --seeds 1,2,3     # the issue's
    python bench/bench_objectives.py --budget-minutes 1 --seeds 1          # a smoke run

Validation losses are not compared across arms: a causal loss is over every next token,
a masked one over the hidden 15%, and 3-mers and bases are different vocabularies.
"""

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

from bench_probe import kmer_frequencies
from bench_yeast_probe import cross_validate, read_windows, stratified_folds
from bench_yeast_probe import main as probe_model
from bench_yeast_recipe import GENOME, REPO, dnalm, training_fasta

ARMS = {
    "causal": ("kmer:3", ["--preset", "cpu-dense"]),
    "masked-3mer": ("kmer:3", ["--objective", "masked", "--preset", "cpu-masked"]),
    "masked-char": ("char", ["--objective", "masked", "--preset", "cpu-masked"]),
}
RECIPE = ["--validation-fraction", "0.005"]  # the yeast recipe's (bench/RESULTS.md)
KMERS = (3, 4, 6)
PROBE_SEED = 1  # the same windows, folds and random twin for every model


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-minutes", type=float, default=15,
                        help="dnalm pretrain --time-budget of every run (the issue's: 15)")
    parser.add_argument("--seeds", default="1,2,3", help="training seeds, separated by commas")
    parser.add_argument("--arms", default=",".join(ARMS),
                        help=f"arms to run, separated by commas (of {', '.join(ARMS)})")
    parser.add_argument("--windows", default=str(GENOME / "heldout_windows.csv"),
                        help="the probe's labelled windows (make genome-sacCer3)")
    parser.add_argument("--work", default=str(REPO / "out" / "objectives"), help="work folder")
    parser.add_argument("--table", help="also write the table here (Markdown)")
    return parser.parse_args(argv)


def token_table(work, tokenizer):
    """The training chromosomes' 200-bp windows as token ids (made once per tokenizer)."""
    path = work / f"tokens_{tokenizer.replace(':', '')}_w200.parquet"
    if not path.exists():
        dnalm("tokenize", training_fasta(work), "--window", 200, "--tokenizer", tokenizer,
              "-o", path)
    return path


def train_and_probe(work, arm, seed, minutes, windows):
    """One run: pretrain within the budget, then the probe; returns its figures (a dict),
    those of an earlier run with the same budget where there is one."""
    tokenizer, model_args = ARMS[arm]
    run = work / f"{arm}-seed{seed}"
    done = run / "run.json"
    if done.exists() and json.loads(done.read_text())["minutes"] == minutes:
        return json.loads(done.read_text())
    run.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    dnalm("pretrain", token_table(work, tokenizer), "-o", run / "model.zip",
          "--time-budget", minutes, "--seed", seed, "--metrics", run / "metrics.tsv",
          "--checkpoint-dir", run / "checkpoints", *model_args, *RECIPE)
    seconds = time.perf_counter() - started
    probe_model([str(run / "model.zip"), "--windows", str(windows), "--kmers", "none",
                 "--seed", str(PROBE_SEED), "--json", str(run / "probe.json")])
    probe = json.loads((run / "probe.json").read_text())
    with open(run / "metrics.tsv", newline="") as stream:
        metrics = list(csv.DictReader(stream, delimiter="\t"))
    epochs = [row for row in metrics if row["kind"] == "epoch"]
    figures = {
        "arm": arm, "tokenizer": tokenizer, "seed": seed, "minutes": minutes,
        "pretrain_seconds": round(seconds),
        "steps": int(metrics[-1]["step"]),  # the last row, a step's or an evaluation's
        "val_loss": float(epochs[-1]["val_loss"]) if epochs else None,
        "val_accuracy": float(epochs[-1]["accuracy"]) if epochs else None,
        "probe": probe["pretrained"]["accuracy"], "probe_auroc": probe["pretrained"]["auroc"],
        "random_init": probe["random_init"]["accuracy"],
        "random_init_auroc": probe["random_init"]["auroc"],
    }
    done.write_text(json.dumps(figures, indent=1) + "\n")
    return figures


def kmer_rows(windows):
    """The probe of k-mer frequencies on the same windows and folds as the models'."""
    sequences, labels = read_windows(windows, PROBE_SEED)
    fold = stratified_folds(labels, 5, PROBE_SEED)
    return {k: cross_validate(kmer_frequencies(sequences, k), labels, fold) for k in KMERS}


def spread(values):
    """``0.842 ± 0.006`` over seeds (no ± for one seed)."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def table(runs, kmers, minutes, seeds):
    lines = [f"Probe accuracy (AUROC), mean-pooled last layer; {minutes:g} min per run, "
             f"seeds {', '.join(map(str, seeds))} (steps: each seed's, in that order)",
             "",
             "| features | tokens | steps | validation loss (own objective) | probe accuracy | AUROC |",
             "|---|---|---|---|---|---|"]
    for arm in dict.fromkeys(run["arm"] for run in runs):
        mine = [run for run in runs if run["arm"] == arm]
        # a wall-clock budget buys what the machine gives at the time: every run's steps
        lines.append(
            f"| {arm} (pretrained) | {mine[0]['tokenizer']} | "
            f"{' / '.join(format(run['steps'], ',') for run in mine)} | "
            f"{spread([run['val_loss'] for run in mine])} | "
            f"{spread([run['probe'] for run in mine])} | "
            f"{spread([run['probe_auroc'] for run in mine])} |")
    for arm in dict.fromkeys(run["arm"] for run in runs):
        first = next(run for run in runs if run["arm"] == arm)  # the same twin for every seed
        lines.append(f"| {arm} (random init) | {first['tokenizer']} | – | – | "
                     f"{first['random_init']:.3f} | {first['random_init_auroc']:.3f} |")
    for k, row in kmers.items():
        lines.append(f"| {k}-mer frequencies | – | – | – | {row['accuracy']:.3f} | "
                     f"{row['auroc']:.3f} |")
    return "\n".join(lines)


def seeds_and_arms(args):
    """``--seeds`` and ``--arms`` as lists; an unknown arm stops the bench in one line."""
    arms = args.arms.split(",")
    unknown = [arm for arm in arms if arm not in ARMS]
    if unknown:
        raise SystemExit(f"unknown arm(s) {', '.join(unknown)} (choose from {', '.join(ARMS)})")
    return [int(seed) for seed in args.seeds.split(",")], arms


def main(argv=None):
    args = parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    seeds, arms = seeds_and_arms(args)
    # seed by seed, so that a stopped bench has every arm of the first seeds
    runs = [train_and_probe(work, arm, seed, args.budget_minutes, args.windows)
            for seed in seeds for arm in arms]
    result = table(runs, kmer_rows(args.windows), args.budget_minutes, seeds)
    print(result)
    if args.table:
        Path(args.table).write_text(result + "\n")


if __name__ == "__main__":
    main()
