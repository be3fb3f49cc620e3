"""Is a pretrained model worth using? A linear probe on GUE core promoters (TATA).

A linear probe freezes the language model, embeds each sequence (mean of the
last hidden states, as ``dnalm embed`` does) and fits a logistic regression on
the embeddings. Its test accuracy is printed beside two references fitted the
same way on the same split:

* 6-mer frequencies: what a model must beat to have learnt more than k-mer
  statistics;
* the same architecture, randomly initialised: what the pretraining added.

The regression is fitted here (L-BFGS on standardised features, the L2
strength chosen on the dev split), so the probe needs nothing beyond torch.

    python bench/bench_probe.py model.zip                          # GUE prom_core_tata
    python bench/bench_probe.py model.zip --limit 500 --json probe.json
"""

import argparse
import csv
import gzip
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TASK = REPO / "tests" / "data" / "gue_prom_core_tata"
L2_GRID = (1e-3, 1e-2, 1e-1, 1.0)  # penalty per example, chosen on dev
KMER = 6


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="model zip made by 'dnalm pretrain' (or a model directory)")
    parser.add_argument("--task", default=str(DEFAULT_TASK),
                        help="folder with train.csv(.gz), dev.csv, test.csv (columns sequence,label)")
    parser.add_argument("--limit", type=int, default=0,
                        help="use at most this many rows of each split (0: all)")
    parser.add_argument("--batch-size", type=int, default=None, help="embedding batch size")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random model")
    parser.add_argument("--json", help="also write the figures here")
    return parser.parse_args(argv)


def read_split(folder, name, limit):
    """(sequences, labels) of one split; train may be gzipped."""
    folder = Path(folder)
    path = folder / f"{name}.csv"
    if not path.exists():
        path = folder / f"{name}.csv.gz"
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as stream:
        rows = list(csv.DictReader(stream))
    if limit:
        rows = rows[:limit]
    return [row["sequence"] for row in rows], np.array([int(row["label"]) for row in rows])


def kmer_frequencies(sequences, k=KMER):
    """Overlapping k-mer frequencies (4**k columns; k-mers with N are skipped)."""
    index = {"".join(kmer): i for i, kmer in enumerate(itertools.product("ACGT", repeat=k))}
    features = np.zeros((len(sequences), len(index)), dtype=np.float32)
    for row, sequence in enumerate(sequences):
        sequence = sequence.upper()
        for start in range(len(sequence) - k + 1):
            column = index.get(sequence[start:start + k])
            if column is not None:
                features[row, column] += 1
        features[row] /= max(1.0, features[row].sum())
    return features


def fit_logistic_regression(x, y, l2):
    """Binary logistic regression on standardised ``x`` (L-BFGS); returns its score function.

    A score above 0 predicts label 1.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    mean, std = x.mean(0), x.std(0).clamp(min=1e-8)
    x = (x - mean) / std
    y = torch.as_tensor(y, dtype=torch.float32)
    weights = torch.zeros(x.shape[1], dtype=torch.float32, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float32, requires_grad=True)
    optimiser = torch.optim.LBFGS([weights, bias], max_iter=200, tolerance_grad=1e-7,
                                  line_search_fn="strong_wolfe")

    def loss():
        optimiser.zero_grad()
        value = torch.nn.functional.binary_cross_entropy_with_logits(x @ weights + bias, y)
        value = value + l2 * weights.square().sum() / 2
        value.backward()
        return value

    optimiser.step(loss)

    def scores(new_x):
        new_x = (torch.as_tensor(new_x, dtype=torch.float32) - mean) / std
        with torch.no_grad():
            return (new_x @ weights + bias).numpy()

    return scores


def accuracy(scores, labels):
    return float(((scores > 0).astype(int) == labels).mean())


def probe(features, labels):
    """Fit on train for each L2 strength, keep the best on dev; return (dev, test) accuracy."""
    best = None
    for l2 in L2_GRID:
        scores = fit_logistic_regression(features["train"], labels["train"], l2)
        dev = accuracy(scores(features["dev"]), labels["dev"])
        if best is None or dev > best[0]:
            best = (dev, l2, scores)
    dev, l2, scores = best
    test = accuracy(scores(features["test"]), labels["test"])
    return {"dev_accuracy": dev, "test_accuracy": test, "l2": l2}


def embed(base_model, tokenizer, sequences, batch_size, pooling="mean", layer=-1):
    """Pooled hidden states of ``layer``, as 'dnalm embed' computes them (default: its mean
    of the last hidden states)."""
    from dnalm.inference.batches import fit_to_context, special_token_ids, tokenize_records
    from dnalm.inference.embedding import EmbeddingSettings, embed_pieces
    from dnalm.io.sequences import SequenceRecord

    records = [SequenceRecord(str(i), s) for i, s in enumerate(sequences)]
    specials = special_token_ids(tokenizer)
    context = base_model.config.max_position_embeddings
    pieces = fit_to_context(tokenize_records(records, tokenizer), context, "truncate", specials,
                            "probe")
    settings = EmbeddingSettings(pooling=pooling, layer=layer, batch_size=batch_size)
    pad_id = base_model.config.pad_token_id
    pad_id = tokenizer.token_to_id("[PAD]") if pad_id is None else pad_id
    matrices = [matrix for _, matrix in embed_pieces(base_model, pieces, settings, pad_id, specials)]
    return np.concatenate(matrices)


def random_twin(model_dir, device, dtype, seed):
    """The same architecture as the trained model, freshly initialised (base model only)."""
    from transformers import AutoConfig, AutoModel, set_seed

    config = AutoConfig.from_pretrained(model_dir)
    set_seed(seed)
    return AutoModel.from_config(config, dtype=torch.float32).to(device=device, dtype=dtype).eval()


def main(argv=None):
    args = parse_args(argv)
    from dnalm.inference.model_loading import (
        default_batch_size,
        inference_device,
        inference_dtype,
        load_base_model,
    )
    from dnalm.io.model_archive import open_model

    splits = ("train", "dev", "test")
    data = {name: read_split(args.task, name, args.limit) for name in splits}
    labels = {name: data[name][1] for name in splits}
    device = inference_device()
    batch_size = args.batch_size or default_batch_size(device)
    results = {"task": Path(args.task).name, "rows": {n: len(labels[n]) for n in splits},
               "device": str(device)}

    started = time.perf_counter()
    kmers = {name: kmer_frequencies(data[name][0]) for name in splits}
    results["kmer"] = probe(kmers, labels)
    with open_model(args.model) as model_files:
        tokenizer = model_files.tokenizer()
        models = {
            "pretrained": load_base_model(model_files, device),
            "random_init": random_twin(model_files.directory, device, inference_dtype(device),
                                       args.seed),
        }
        for name, model in models.items():
            features = {split: embed(model, tokenizer, data[split][0], batch_size)
                        for split in splits}
            results[name] = probe(features, labels)
    results["seconds"] = time.perf_counter() - started

    print(f"linear probe on {results['task']} (train/dev/test "
          f"{'/'.join(str(results['rows'][n]) for n in splits)} rows, {device}):")
    for name, label in (("pretrained", "pretrained model embeddings"),
                        ("random_init", "same model, random init"),
                        ("kmer", f"{KMER}-mer frequencies")):
        figures = results[name]
        print(f"  {label:32s} test accuracy {figures['test_accuracy']:.4f}   "
              f"(dev {figures['dev_accuracy']:.4f}, L2 {figures['l2']:g})")
    verdict = results["pretrained"]["test_accuracy"] - results["kmer"]["test_accuracy"]
    print(f"  pretrained - {KMER}-mer: {verdict:+.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
