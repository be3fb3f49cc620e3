"""How many 200 bp sequences per minute does ``dnalm tokenize`` turn into a token table?

Builds a FASTA of N distinct 200 bp sequences cut from real hg38 windows (the
reference windows, concatenated and cut with a small stride, repeated as often
as needed; distinct so the BPE word cache cannot flatter the figure), then
times the real command line (``dnalm.cli.main``) on it, summary included, and
reports the peak memory. Run: ``python bench/bench_tokenize.py [-n 1000000]``.
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted((REPO.parent / "shared" / "data" / "sequences").glob("*.fa.gz")) or [
    REPO / "test-data" / "hg38_windows_small.fa"
]
LENGTH = 200


def real_dna():
    """All bases of the real windows, concatenated."""
    from dnalm.io.sequences import read_sequences

    return "".join(record.sequence for path in SOURCES for record in read_sequences(path, "fasta"))


def write_benchmark_fasta(path, count, stride=3):
    dna = real_dna()
    starts = range(0, len(dna) - LENGTH, stride)
    with open(path, "w") as out:
        for i in range(count):
            start = starts[i % len(starts)]
            out.write(f">w{i}\n{dna[start : start + LENGTH]}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--sequences", type=int, default=1_000_000)
    parser.add_argument("--tokenizer", default="dnabert2")
    options = parser.parse_args()

    from dnalm.cli import main as dnalm

    with tempfile.TemporaryDirectory() as work:
        fasta = os.path.join(work, "windows.fa")
        write_benchmark_fasta(fasta, options.sequences)
        size_mb = os.path.getsize(fasta) / 1e6
        argv = ["tokenize", fasta, "-o", os.path.join(work, "t.parquet"),
                "--tokenizer", options.tokenizer, "--summary", os.path.join(work, "s.tsv")]
        load_before = os.getloadavg()[0]
        cpu_before, started = _cpu_seconds(), time.perf_counter()
        status = dnalm(argv)
        seconds = time.perf_counter() - started
        cpu = _cpu_seconds() - cpu_before
        if status != 0:
            sys.exit(status)
        parquet_mb = os.path.getsize(os.path.join(work, "t.parquet")) / 1e6
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\ntokenize ({options.tokenizer}): {options.sequences:,} sequences of {LENGTH} bp "
        f"({size_mb:.0f} MB FASTA -> {parquet_mb:.0f} MB Parquet) in {seconds:.1f} s on "
        f"{os.cpu_count()} cores: {options.sequences / seconds * 60:,.0f} sequences/minute; "
        f"peak memory {peak_mb:.0f} MB"
    )
    # Other work on the machine slows the wall clock; CPU time says what two idle cores would do.
    print(
        f"CPU time {cpu:.1f} s ({options.sequences / cpu * 60:,.0f} sequences per CPU-minute, "
        f"{2 * options.sequences / cpu * 60:,.0f}/minute if both cores were ours); "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )


def _cpu_seconds():
    times = os.times()
    return times.user + times.system


if __name__ == "__main__":
    main()
