"""A coding/intergenic probe task from a genome and its CDS: windows of held-out chromosomes.

Cuts the held-out chromosomes (never seen in pretraining) into non-overlapping
windows and labels each: 1 (coding) when it lies inside one CDS part, 0
(intergenic) when no CDS is within ``--distance`` bp of it; windows in between
are left out. Classes are balanced by sampling the larger one down (seeded),
so chance is 0.5. The first held-out chromosome gives train and dev (80/20),
the second the test split: the probe is scored on a chromosome it never saw.
Writes ``train.csv``, ``dev.csv``, ``test.csv`` (columns sequence,label), the
folder ``bench/bench_probe.py --task`` reads.

    python bench/yeast_probe_task.py genomes/sacCer3/sacCer3.fa genomes/sacCer3/cds.bed.gz \\
        --contigs chrXV,chrXVI -o task/
"""

import argparse
import csv
import json
from pathlib import Path

import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("genome", help="FASTA (plain or .gz); record names as in the BED")
    parser.add_argument("cds", help="BED (plain or .gz) of CDS parts: chrom, start, end")
    parser.add_argument("--contigs", default="chrXV,chrXVI",
                        help="held-out chromosomes: the first for train/dev, the last for test")
    parser.add_argument("-o", "--output", required=True, help="task folder to write")
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--distance", type=int, default=200,
                        help="intergenic: no CDS within this many bp")
    parser.add_argument("--limit", type=int, default=0, help="at most this many rows per split")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def read_chromosomes(path, names):
    """``{name: sequence}`` of the records called ``names`` (first word of the header)."""
    from dnalm.io.sequences import read_sequences

    chromosomes = {record.id: record.sequence
                   for record in read_sequences(path, "fasta", iupac_policy="to-n")
                   if record.id in names}
    missing = [n for n in names if n not in chromosomes]
    if missing:
        raise SystemExit(f"{path}: no record named {', '.join(missing)}")
    return chromosomes


def read_cds(path, names):
    from dnalm.io.regions import bed_intervals

    intervals = {name: [] for name in names}
    for interval in bed_intervals(path):
        if interval.chrom in intervals:
            intervals[interval.chrom].append((interval.start, interval.end))
    return intervals


def labelled_windows(sequence, intervals, window, distance):
    """``[(sequence, label)]``: 1 inside one CDS part, 0 with no CDS within ``distance`` bp."""
    length = len(sequence)
    near = np.zeros(length + 1, dtype=bool)
    inside_id = np.full(length, -1, dtype=np.int64)  # which CDS part covers a base (any one)
    for number, (start, end) in enumerate(intervals):
        near[max(0, start - distance) : min(length, end + distance)] = True
        inside_id[start:end] = number
    windows = []
    for start in range(0, length - window + 1, window):
        piece = sequence[start : start + window]
        if "N" in piece:
            continue
        covering = inside_id[start : start + window]
        if covering[0] >= 0 and (covering == covering[0]).all():
            windows.append((piece, 1))
        elif not near[start : start + window].any():
            windows.append((piece, 0))
    return windows


def balanced(windows, rng):
    """Both classes equally often: the larger one sampled down, order shuffled."""
    by_label = {label: [w for w in windows if w[1] == label] for label in (0, 1)}
    size = min(len(rows) for rows in by_label.values())
    kept = [row for rows in by_label.values()
            for row in (rows[i] for i in sorted(rng.choice(len(rows), size, replace=False)))]
    return [kept[i] for i in rng.permutation(len(kept))]


def main(argv=None):
    args = parse_args(argv)
    contigs = args.contigs.split(",")
    chromosomes = read_chromosomes(args.genome, contigs)
    cds = read_cds(args.cds, contigs)
    rng = np.random.default_rng(args.seed)
    windows = {name: balanced(labelled_windows(chromosomes[name], sorted(cds[name]),
                                               args.window, args.distance), rng)
               for name in contigs}
    fit = [w for name in contigs[:-1] for w in windows[name]]
    cut = int(len(fit) * 0.8)
    splits = {"train": fit[:cut], "dev": fit[cut:], "test": windows[contigs[-1]]}
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        rows = rows[: args.limit] if args.limit else rows
        if not rows or len({label for _, label in rows}) < 2:
            raise SystemExit(f"the {split} split has {len(rows)} windows of one class or none")
        with open(output / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sequence", "label"])
            writer.writerows(rows)
        splits[split] = rows
    counts = {split: len(rows) for split, rows in splits.items()}
    print(f"coding/intergenic windows of {args.window} bp on {', '.join(contigs)}: "
          f"{json.dumps(counts)} (balanced)")


if __name__ == "__main__":
    main()
