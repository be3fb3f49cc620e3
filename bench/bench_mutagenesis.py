"""Substitutions per second: `dnalm mutagenesis` against `dnalm score-variants` on the same
substitutions, one VCF record each.

Real hg38 windows (bench/data/) cut to --length bp are the regions; every single-base
substitution of each is also written as a VCF record against a genome whose contigs are the
regions, and score-variants scores them with the region as its window (--window = length),
so the two give the same effects (checked here to 1e-6, as tests/test_mutagenesis.py does).
mutagenesis scores each region's reference once, beside its 3 x L mutated copies;
score-variants scores a reference window beside every ALT. The model is the CPU recipe's
architecture (the cpu-dense preset, 3-mer tokens), randomly initialised: speed does not
depend on the weights. Both run in this process through `dnalm.cli.main` (reading, model
loading, scoring, writing), alternately; the best of the repeats counts. The goal: at least
3 x score-variants' substitutions per second.

    .venv/bin/python bench/bench_mutagenesis.py                       # 2-core CPU: ~3 minutes
    .venv/bin/python bench/bench_mutagenesis.py --regions 20 --length 200 --repeats 2
"""

import argparse
import csv
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WINDOWS = REPO / "bench" / "data" / "hg38_exon_windows_201bp.fa.gz"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=8, help="regions to mutate (default 8)")
    parser.add_argument("--length", type=int, default=100, help="bp per region (default 100)")
    parser.add_argument("--model", default=None,
                        help="a causal model zip (default: cpu-dense with 3-mer tokens, random)")
    parser.add_argument("--strand", default="forward", choices=("forward", "both"))
    parser.add_argument("--repeats", type=int, default=2, help="runs of each path (default 2)")
    return parser.parse_args()


def random_cpu_recipe_model(folder):
    """The CPU recipe's model (cpu-dense on 3-mers), randomly initialised, as a model zip."""
    import torch

    from dnalm.io.model_archive import pack_model_directory
    from dnalm.tokenization.loading import load_tokenizer, to_transformers
    from dnalm.training import presets

    torch.manual_seed(0)
    tokenizer = load_tokenizer("kmer:3")
    config = presets.fit_config_to_tokenizer(presets.preset_config("cpu-dense"), tokenizer)
    model = presets.build_model(config, attention="sdpa", experts="grouped_mm")
    model.save_pretrained(folder / "model")
    to_transformers(tokenizer).save_pretrained(folder / "model")
    pack_model_directory(folder / "model", folder / "model.zip")
    return folder / "model.zip"


def write_inputs(folder, count, length):
    """regions.fa (each region its own record) and substitutions.vcf against it."""
    from dnalm.inference.mutagenesis import substitutions
    from dnalm.io.sequences import read_sequences

    regions = [(f"r{number}", record.sequence[:length]) for number, record in
               enumerate(read_sequences(WINDOWS, "fasta"), start=1) if "N" not in record.sequence]
    regions = regions[:count]
    (folder / "regions.fa").write_text("".join(f">{name}\n{seq}\n" for name, seq in regions))
    lines = [f"##contig=<ID={name},length={length}>\n" for name, _ in regions]
    lines += ["#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"]
    lines += [f"{name}\t{s.position + 1}\t.\t{s.ref}\t{s.alt}\t.\t.\t.\n"
              for name, sequence in regions for s in substitutions(sequence)]
    (folder / "substitutions.vcf").write_text("##fileformat=VCFv4.2\n" + "".join(lines))
    return len(lines) - len(regions) - 1


def timed(argv):
    from dnalm.cli import main

    started = time.perf_counter()
    assert main(argv) == 0, argv
    return time.perf_counter() - started


def column(path, name):
    with open(path) as stream:
        return [float(row[name]) for row in csv.DictReader(stream, delimiter="\t")]


def main():
    args = parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        model = args.model or random_cpu_recipe_model(work)
        count = write_inputs(work, args.regions, args.length)
        ism = ["mutagenesis", str(model), "--sequences", str(work / "regions.fa"),
               "--strand", args.strand, "-o", str(work / "ism.tsv")]
        variants = ["score-variants", str(model), str(work / "substitutions.vcf"), "--genome",
                    str(work / "regions.fa"), "--window", str(args.length), "--strand",
                    args.strand, "-o", str(work / "vcf.tsv")]
        best = {"mutagenesis": float("inf"), "score-variants": float("inf")}
        for _ in range(args.repeats):
            best["mutagenesis"] = min(best["mutagenesis"], timed(ism))
            best["score-variants"] = min(best["score-variants"], timed(variants))
        ours, theirs = column(work / "ism.tsv", "effect"), column(work / "vcf.tsv",
                                                                   "delta_log_likelihood")
        difference = max(abs(a - b) for a, b in zip(ours, theirs))
    print(f"\n{count:,} substitutions of {args.regions} regions of {args.length} bp, "
          f"strand {args.strand}; largest difference between the two: {difference:.1e}")
    print(f"{'path':<16}{'seconds':>10}{'substitutions/s':>18}")
    for name, seconds in best.items():
        print(f"{name:<16}{seconds:>10.2f}{count / seconds:>18,.0f}")
    speedup = best["score-variants"] / best["mutagenesis"]
    print(f"mutagenesis is {speedup:.2f}x score-variants (goal: at least 3x)")
    assert difference <= 1.1e-6, "the two paths disagree"


if __name__ == "__main__":
    main()
