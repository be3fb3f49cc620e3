"""Does a model pretrained on yeast tell coding from intergenic DNA? A 5-fold linear probe.

The windows are ``genomes/sacCer3/heldout_windows.csv`` (``make genome-sacCer3``):
200 bp of the held-out chromosomes chrXV and chrXVI, ``coding`` (entirely inside
a CDS of ``cds.bed.gz``) or ``intergenic`` (>= 200 bp from any CDS). A model
pretrained on the other 14 chromosomes never saw them.

The classes are balanced by subsampling the coding windows to the number of
intergenic ones (fixed seed): accuracy then reads at a glance (0.5 is chance)
and means the same as in ``bench_probe.py``'s promoter probe, and the probe
embeds 1,570 windows instead of 7,147 (a minute on a CPU, not several). The
AUROC is printed beside it as a threshold-free check.

Each of 5 stratified folds is the test fold once; the next fold picks the L2
strength, the logistic regression (``bench_probe.fit_logistic_regression``) is
then refitted on the other four. Features, each fitted the same way:

* the pretrained model's pooled hidden states (``--pooling``, ``--layer``);
* the same architecture randomly initialised (what pretraining added);
* 3-, 4- and 6-mer frequencies (what a model must beat to have learnt more).

    python bench/bench_yeast_probe.py model.zip --windows genomes/sacCer3/heldout_windows.csv
    python bench/bench_yeast_probe.py model.zip --pooling mean,max --layer -1,4 --json probe.json
"""

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from bench_probe import L2_GRID, embed, fit_logistic_regression, kmer_frequencies, random_twin

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WINDOWS = REPO / "genomes" / "sacCer3" / "heldout_windows.csv"
POSITIVE = "coding"  # label 1; "intergenic" is label 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="model zip made by 'dnalm pretrain' (or a model directory)")
    parser.add_argument("--windows", default=str(DEFAULT_WINDOWS),
                        help="CSV with columns id, sequence, label (coding / intergenic)")
    parser.add_argument("--pooling", default="mean",
                        help="pooling of the hidden states, or several separated by commas "
                             "(mean, max, first, last); the first is the headline figure")
    parser.add_argument("--layer", default="-1",
                        help="hidden layer to pool (-1: last, 0: token embeddings), or several "
                             "separated by commas")
    parser.add_argument("--kmers", default="3,4,6",
                        help="k-mer sizes of the reference features, separated by commas, or "
                             "'none' (they do not depend on the model: a sweep of models needs "
                             "them once)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the subsample, the folds and the random model")
    parser.add_argument("--batch-size", type=int, default=None, help="embedding batch size")
    parser.add_argument("--json", help="also write the figures here")
    return parser.parse_args(argv)


def read_windows(path, seed):
    """(sequences, labels): every minority-class window and as many of the other, seeded."""
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    labels = np.array([int(row["label"] == POSITIVE) for row in rows])
    by_class = [np.flatnonzero(labels == value) for value in (0, 1)]
    size = min(len(members) for members in by_class)
    rng = np.random.default_rng(seed)
    kept = np.sort(np.concatenate([rng.choice(members, size, replace=False)
                                   for members in by_class]))
    return [rows[i]["sequence"] for i in kept], labels[kept]


def stratified_folds(labels, folds, seed):
    """Fold number of each row; every fold holds the same share of each class."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=int)
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        fold[members] = np.arange(len(members)) % folds
    return fold


def auroc(scores, labels):
    """Chance that a random positive scores above a random negative (ties count half)."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks of ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def cross_validate(features, labels, fold):
    """Nested k-fold probe: mean and spread of test accuracy, mean AUROC, chosen L2s."""
    folds = fold.max() + 1
    accuracies, aurocs, chosen = [], [], []
    for test in range(folds):
        dev = (test + 1) % folds
        train = (fold != test) & (fold != dev)
        dev_scores = [
            (float(((fit_logistic_regression(features[train], labels[train], l2)(
                features[fold == dev]) > 0) == labels[fold == dev]).mean()), l2)
            for l2 in L2_GRID
        ]
        l2 = max(dev_scores, key=lambda pair: pair[0])[1]
        fitted = fold != test
        scores = fit_logistic_regression(features[fitted], labels[fitted], l2)(
            features[fold == test])
        accuracies.append(float(((scores > 0) == labels[fold == test]).mean()))
        aurocs.append(auroc(scores, labels[fold == test]))
        chosen.append(l2)
    return {"accuracy": float(np.mean(accuracies)), "accuracy_sd": float(np.std(accuracies)),
            "auroc": float(np.mean(aurocs)), "fold_accuracies": accuracies, "l2": chosen}


def model_features(model_path, sequences, poolings, layers, batch_size, seed):
    """{(model, pooling, layer): features} for the pretrained model and its random twin."""
    from dnalm.inference.model_loading import (
        default_batch_size,
        inference_device,
        inference_dtype,
        load_base_model,
    )
    from dnalm.io.model_archive import open_model

    device = inference_device()
    batch_size = batch_size or default_batch_size(device)
    features = {}
    with open_model(model_path) as model_files:
        tokenizer = model_files.tokenizer()
        models = {
            "pretrained": load_base_model(model_files, device),
            "random_init": random_twin(model_files.directory, device, inference_dtype(device),
                                       seed),
        }
        for name, model in models.items():
            for pooling in poolings:
                for layer in layers:
                    features[name, pooling, layer] = embed(
                        model, tokenizer, sequences, batch_size, pooling, layer)
    return features, str(device)


def main(argv=None):
    args = parse_args(argv)
    poolings = args.pooling.split(",")
    layers = [int(layer) for layer in args.layer.split(",")]
    started = time.perf_counter()
    sequences, labels = read_windows(args.windows, args.seed)
    fold = stratified_folds(labels, args.folds, args.seed)
    results = {"windows": Path(args.windows).name, "rows": len(labels),
               "per_class": int(labels.sum()), "folds": args.folds}

    kmers = [] if args.kmers == "none" else [int(k) for k in args.kmers.split(",")]
    for k in kmers:
        results[f"kmer{k}"] = cross_validate(kmer_frequencies(sequences, k), labels, fold)
    features, results["device"] = model_features(args.model, sequences, poolings, layers,
                                                 args.batch_size, args.seed)
    results["sweep"] = [
        {"model": name, "pooling": pooling, "layer": layer,
         **cross_validate(matrix, labels, fold)}
        for (name, pooling, layer), matrix in features.items()
    ]
    for name in ("pretrained", "random_init"):  # the headline: the first pooling and layer
        results[name] = next(row for row in results["sweep"] if row["model"] == name)
    if kmers:
        best_k = max(kmers, key=lambda k: results[f"kmer{k}"]["accuracy"])
        results["best_kmer"] = f"kmer{best_k}"
        results["pretrained_minus_best_kmer"] = (results["pretrained"]["accuracy"]
                                                 - results[f"kmer{best_k}"]["accuracy"])
    results["seconds"] = time.perf_counter() - started

    print(f"yeast probe: coding vs intergenic windows of {results['windows']} "
          f"({results['per_class']} + {results['per_class']}, {args.folds}-fold, "
          f"{results['device']}):")
    lines = [(f"{row['model']} ({row['pooling']}, layer {row['layer']})", row)
             for row in results["sweep"]]
    lines += [(f"{k}-mer frequencies", results[f"kmer{k}"]) for k in kmers]
    for label, row in lines:
        print(f"  {label:36s} accuracy {row['accuracy']:.4f} +- {row['accuracy_sd']:.4f}   "
              f"AUROC {row['auroc']:.4f}")
    if kmers:
        print(f"  pretrained - best k-mer ({results['best_kmer']}): "
              f"{results['pretrained_minus_best_kmer']:+.4f}")
    print(f"  ({results['seconds']:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
