"""Zero-shot variant effects by objective: do exon SNPs cost more than intron SNPs?

The zero-shot tutorial scores 201-bp hg38 windows with one substitution at the centre, exon
against intron, and expects the exon ones to hurt more. Here each arm of
``bench_objectives.py`` (causal cpu-dense on 3-mers, masked cpu-masked on 3-mers, masked on
single bases) is pretrained for the same number of epochs on the 20,000 real hg38 windows of
``bench/data/`` (the tutorial's exon and intron SNP windows), leaving out the windows of the
scored SNPs, then scores the tutorial's first 100 exon and 100 intron pairs
(``test-data/zeroshot_*.fasta.gz``) with ``dnalm score``:

* the causal model's Δ log-likelihood (alt − ref), the masked models' masked marginal
  (log p(alt) − log p(ref) with the changed token masked); negative = the alt is less likely,
  so "exon > intron" means a lower mean in exons (one-sided Mann-Whitney, ``less``);
* the tutorial's own measure, the L2 distance between the pooled vectors of ref and alt
  (one-sided, ``greater``).

Beside them, what composition alone gives: the Δ log-likelihood of a 5th-order Markov chain
counted on the same training windows (a model that knows only which base follows which five).

Each group comparison is ``dnalm compare-effects``. One table (mean over seeds, the p values
of every seed) is printed and written to ``--table``; each run leaves ``WORK/ARM-seedN/
run.json`` and a rerun with the same budget reuses it. The budget is in epochs, not minutes,
so that the figures do not depend on how busy the machine is.

    python bench/bench_zeroshot_objectives.py --epochs 1 --seeds 1
    python bench/bench_zeroshot_objectives.py --max-steps 5 --work out/zeroshot-smoke  # smoke
"""

import argparse
import csv
import json
import statistics
from pathlib import Path

import numpy as np

from bench_objectives import ARMS, RECIPE, seeds_and_arms
from bench_yeast_recipe import REPO, dnalm

TRAINING = [REPO / "bench" / "data" / f"hg38_{region}_windows_201bp.fa.gz" for region in ("exon", "intron")]
GROUPS = ("exon", "intron")
# the score each objective gives a substitution (dnalm score's column)
EFFECT_COLUMNS = {"causal": "delta_log_likelihood", "masked": "masked_effect"}
MARKOV_ORDER = 5  # 4,096 six-base counts from ~4 M training bases: ~1,000 per cell
BASE_CODES = np.full(256, -1, dtype=np.int64)
BASE_CODES[np.frombuffer(b"ACGT", dtype=np.uint8)] = np.arange(4)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="dnalm pretrain --epochs of every run")
    parser.add_argument("--max-steps", type=int, default=-1,
                        help="dnalm pretrain --max-steps (-1: the epochs; a few for a smoke run)")
    parser.add_argument("--seeds", default="1", help="training seeds, separated by commas")
    parser.add_argument("--arms", default=",".join(ARMS),
                        help=f"arms to run, separated by commas (of {', '.join(ARMS)})")
    parser.add_argument("--work", default=str(REPO / "out" / "zeroshot-objectives"),
                        help="work folder")
    parser.add_argument("--table", help="also write the table here (Markdown)")
    return parser.parse_args(argv)


def fasta_records(path):
    """``(id, sequence)`` of a (gzipped) FASTA."""
    from dnalm.io.sequences import read_sequences

    return [(record.id, record.sequence) for record in read_sequences(path, "fasta")]


def snp_files(group):
    """The tutorial's first 100 ref and alt windows of a group (the suite's test data)."""
    return tuple(REPO / "test-data" / f"zeroshot_{group}_{kind}.fasta.gz" for kind in ("ref", "alt"))


def training_fasta(work):
    """The hg38 windows without those of the scored SNPs (their ref windows are among them)."""
    path = work / "hg38_windows_unscored.fa"
    if not path.exists():
        scored = {sequence for group in GROUPS
                  for sequence in (s for _, s in fasta_records(snp_files(group)[0]))}
        kept = [(name, sequence) for file in TRAINING for name, sequence in fasta_records(file)
                if sequence not in scored]
        partial = path.with_suffix(".partial")
        partial.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in kept))
        partial.rename(path)
    return path


def token_table(work, tokenizer):
    path = work / f"tokens_{tokenizer.replace(':', '')}.parquet"
    if not path.exists():
        dnalm("tokenize", training_fasta(work), "--tokenizer", tokenizer, "-o", path)
    return path


def kmer_codes(sequence, k):
    """The index (0 .. 4**k - 1) of every k-mer of a sequence; -1 where it holds a non-ACGT."""
    bases = BASE_CODES[np.frombuffer(sequence.upper().encode(), dtype=np.uint8)]
    windows = np.lib.stride_tricks.sliding_window_view(bases, k)
    codes = windows @ (4 ** np.arange(k - 1, -1, -1))
    return np.where((windows >= 0).all(axis=1), codes, -1)


def markov_log_probabilities(sequences, order):
    """log p(base | the ``order`` bases before it), counted with add-one smoothing."""
    counts = np.ones(4 ** (order + 1))
    for sequence in sequences:
        codes = kmer_codes(sequence, order + 1)
        counts += np.bincount(codes[codes >= 0], minlength=counts.size)
    table = counts.reshape(-1, 4)
    return np.log(table / table.sum(axis=1, keepdims=True)).ravel()


def markov_effects(work, order=MARKOV_ORDER):
    """Per group, a table of the Markov chain's Δ log-likelihood (alt − ref) of every pair."""
    log_p = markov_log_probabilities((s for _, s in fasta_records(training_fasta(work))), order)

    def log_likelihood(sequence):
        codes = kmer_codes(sequence, order + 1)
        return log_p[codes[codes >= 0]].sum()

    tables = []
    for group in GROUPS:
        ref, alt = (fasta_records(path) for path in snp_files(group))
        table = work / f"markov{order}_{group}_effects.tsv"
        table.write_text("id\tdelta_log_likelihood\n" + "".join(
            f"{name}\t{log_likelihood(a) - log_likelihood(r):.6f}\n"
            for (name, r), (_, a) in zip(ref, alt)))
        tables.append(table)
    return compare(work, tables, "delta_log_likelihood", "less")


def compare(work, tables, column, alternative):
    """exon vs intron on one column: the two means and the one-sided Mann-Whitney p."""
    summary = work / f"compare_{column}.tsv"
    dnalm("compare-effects", *tables, "--labels", *GROUPS, "--column", column,
          "--alternative", alternative, "-o", summary)
    with open(summary, newline="") as stream:
        rows = {(row["group"], row["statistic"]): float(row["value"])
                for row in csv.DictReader(stream, delimiter="\t")}
    return {"exon": rows["exon", "mean"], "intron": rows["intron", "mean"],
            "p": rows["exon vs intron", "mann_whitney_u_p_value"]}


def train_and_score(work, arm, seed, budget):
    tokenizer, model_args = ARMS[arm]
    run = work / f"{arm}-seed{seed}"
    done = run / "run.json"
    if done.exists() and json.loads(done.read_text())["budget"] == budget:
        return json.loads(done.read_text())
    run.mkdir(parents=True, exist_ok=True)
    model = run / "model.zip"
    dnalm("pretrain", token_table(work, tokenizer), "-o", model, "--epochs", budget["epochs"],
          "--max-steps", budget["max_steps"], "--seed", seed, "--metrics", run / "metrics.tsv", "--checkpoint-dir",
          run / "checkpoints", *model_args, *RECIPE)
    tables = []
    for group in GROUPS:
        ref, alt = snp_files(group)
        table = run / f"{group}_effects.tsv"
        dnalm("score", model, "--ref", ref, "--alt", alt, "--pair-by", "order",
              "--distance", "l2", "-o", table)
        tables.append(table)
    objective = "masked" if "--objective" in model_args else "causal"
    with open(run / "metrics.tsv", newline="") as stream:
        steps = int(list(csv.DictReader(stream, delimiter="\t"))[-1]["step"])
    figures = {"arm": arm, "tokenizer": tokenizer, "seed": seed, "budget": budget,
               "steps": steps, "effect_column": EFFECT_COLUMNS[objective],
               "effect": compare(run, tables, EFFECT_COLUMNS[objective], "less"),
               "l2": compare(run, tables, "l2_distance", "greater")}
    done.write_text(json.dumps(figures, indent=1) + "\n")
    return figures


def cells(runs, measure):
    """mean exon | mean intron | every seed's p (exon > intron, one-sided)."""
    exon = statistics.mean(run[measure]["exon"] for run in runs)
    intron = statistics.mean(run[measure]["intron"] for run in runs)
    p = ", ".join(f"{run[measure]['p']:.2g}" for run in runs)
    return f"{exon:.3f} | {intron:.3f} | {p}"


def table(runs, markov, budget, seeds):
    length = (f"{budget['max_steps']} steps" if budget["max_steps"] > 0
              else f"{budget['epochs']} epoch{'s' if budget['epochs'] != 1 else ''}")
    lines = [f"Zero-shot exon vs intron SNPs (100 + 100 pairs); {length} of pretraining "
             f"on the hg38 windows per run, seeds {', '.join(map(str, seeds))}",
             "",
             "| arm | tokens | steps | effect | effect: exon | intron | p (exon lower) "
             "| L2: exon | intron | p (exon higher) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for arm in dict.fromkeys(run["arm"] for run in runs):
        mine = [run for run in runs if run["arm"] == arm]
        lines.append(f"| {arm} | {mine[0]['tokenizer']} | "
                     f"{statistics.mean(run['steps'] for run in mine):,.0f} | "
                     f"{mine[0]['effect_column']} | {cells(mine, 'effect')} | "
                     f"{cells(mine, 'l2')} |")
    lines.append(f"| {MARKOV_ORDER}th-order Markov chain (composition) | bases | – | "
                 f"delta_log_likelihood | {markov['exon']:.3f} | {markov['intron']:.3f} | "
                 f"{markov['p']:.2g} | – | – | – |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    seeds, arms = seeds_and_arms(args)
    budget = {"epochs": args.epochs, "max_steps": args.max_steps}
    runs = [train_and_score(work, arm, seed, budget) for seed in seeds for arm in arms]
    result = table(runs, markov_effects(work), budget, seeds)
    print(result)
    if args.table:
        Path(args.table).write_text(result + "\n")


if __name__ == "__main__":
    main()
