"""Variants per second: `dnalm score-variants` (VCF + genome) vs `dnalm score --ref --alt` (pairs).

The same SNVs both ways: real hg38 201-bp windows (bench/data/) laid end to end on one
contig with N spacers, a substitution at each window's centre. The VCF path reads the
VCF and the genome with pysam, cuts the windows and scores them; the pair path reads the
same windows as two FASTA files. Both run in this process through `dnalm.cli.main`, the
whole command each time (reading, model loading, scoring, writing), alternately, and the
best of the repeats counts. The goal: the VCF path keeps at least 90% of the pair path's
variants per second.

    .venv/bin/python bench/bench_score_variants.py                 # 2-core CPU: ~2 minutes
    .venv/bin/python bench/bench_score_variants.py --variants 4000 --repeats 3
"""

import argparse
import random
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPACER = "N" * 37


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default=str(REPO / "bench" / "data" / "hg38_exon_windows_201bp.fa.gz"),
                        help="201-bp DNA windows (FASTA, gz ok), one variant at each centre")
    parser.add_argument("--variants", type=int, default=2000, help="variants to score (default 2000)")
    parser.add_argument("--model", default=str(REPO / "test-data" / "mistral_dna_1m_tf0.zip"),
                        help="model zip (default: the real 1M-parameter Mistral-DNA checkpoint)")
    parser.add_argument("--distance", nargs="*", default=["l2"],
                        help="distances to compute (default: l2, the tutorial's; none: log-likelihoods)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each path (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser.parse_args()


def read_windows(path, count):
    from dnalm.io.sequences import read_sequences

    windows = [record.sequence for record in read_sequences(path, "fasta")]
    windows = [w for w in windows if len(w) == 201 and w[100] in "ACGT"]
    return [windows[i % len(windows)] for i in range(count)]


def write_inputs(folder, windows):
    """genome.fa + variants.vcf, and ref.fa + alt.fa with the same windows."""
    rng = random.Random(0)
    contig, vcf_lines, refs, alts = SPACER, [], [], []
    for number, window in enumerate(windows, start=1):
        alt_base = rng.choice([b for b in "ACGT" if b != window[100]])
        vcf_lines.append(f"bench\t{len(contig) + 101}\tv{number}\t{window[100]}\t{alt_base}\t.\t.\t.\n")
        contig += window + SPACER
        refs.append(f">v{number}\n{window}\n")
        alts.append(f">v{number}\n{window[:100]}{alt_base}{window[101:]}\n")
    folder = Path(folder)
    (folder / "genome.fa").write_text(
        ">bench\n" + "".join(contig[i:i + 80] + "\n" for i in range(0, len(contig), 80)))
    (folder / "variants.vcf").write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(vcf_lines))
    (folder / "ref.fa").write_text("".join(refs))
    (folder / "alt.fa").write_text("".join(alts))


def timed(argv):
    from dnalm.cli import main

    start = time.perf_counter()
    assert main(argv) == 0, argv
    return time.perf_counter() - start


def main():
    args = parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    windows = read_windows(args.windows, args.variants)
    distance = ["--distance", *args.distance] if args.distance and args.distance != ["none"] else []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_inputs(folder, windows)
        paths = {
            "pairs": ["score", args.model, "--ref", str(folder / "ref.fa"), "--alt",
                      str(folder / "alt.fa"), "--pair-by", "order", "-o", str(folder / "pairs.tsv")],
            "vcf": ["score-variants", args.model, str(folder / "variants.vcf"), "--genome",
                    str(folder / "genome.fa"), "-o", str(folder / "vcf.tsv")],
        }
        timed(paths["pairs"] + distance)  # warm-up: imports, first model load
        seconds = {name: [] for name in paths}
        for _ in range(args.repeats):
            for name, argv in paths.items():
                seconds[name].append(timed(argv + distance))
        # the same effects both ways
        pair_values = [line.split("\t")[-1] for line in (folder / "pairs.tsv").read_text().splitlines()[1:]]
        vcf_values = [line.split("\t")[-1] for line in (folder / "vcf.tsv").read_text().splitlines()[1:]]
        assert pair_values == vcf_values, "the two paths disagree"
    print(f"{args.variants} SNVs, model {Path(args.model).name}, distance {' '.join(args.distance) or 'none'}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} repeats")
    rates = {}
    for name in paths:
        best = min(seconds[name])
        rates[name] = args.variants / best
        runs = ", ".join(f"{s:.2f}" for s in seconds[name])
        print(f"  {name:5s}: best {best:.2f} s ({runs}) -> {rates[name]:,.0f} variants/s")
    ratio = rates["vcf"] / rates["pairs"]
    print(f"VCF path / pair path: {ratio:.1%} of the pair path's variants per second (goal >= 90%)")


if __name__ == "__main__":
    main()
