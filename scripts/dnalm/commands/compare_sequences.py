"""Compare generated DNA with real DNA: k-mer content, a PCA on real windows, novelty, ORFs.

Each generated set (one per sampling temperature, say) is named on the command line; the
real windows are drawn at random from the genome the model learnt from, as long as the
generated sequences. The summary has one row per set, the real windows first.

Examples:
  dnalm compare-sequences --generated t0.1=cold.fa t1.0=warm.fa --genome sacCer3.fa \\
      -o summary.tsv --per-sequence novelty.tsv --pca pca.png --pca-table pca.tsv
"""

import argparse
import numpy as np

from dnalm.analysis.generated_sequences import (
    ComparisonSettings,
    GenomeKmers,
    SetSummary,
    kmer_counts,
    longest_orf,
    mean_kmer_variance,
    real_windows,
)
from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.errors import DnalmError
from dnalm.io.outputs import atomic_outputs
from dnalm.io.pca_plot import pca_basis, pca_figure
from dnalm.io.plotting import pyplot
from dnalm.io.sequences import read_sequences

REAL = "real"  # the real windows' set name


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--generated", nargs="+", required=True, metavar="NAME=FASTA",
                        help="generated sets, each a name and a FASTA file")
    parser.add_argument("--genome", required=True, metavar="FASTA",
                        help="the genome the real windows come from (FASTA)")
    parser.add_argument("-o", "--output", required=True, help="summary per set (TSV)")
    parser.add_argument("--per-sequence", help="novelty and ORF of every sequence (TSV)")
    parser.add_argument("--pca", help="the PCA plot (PNG)")
    parser.add_argument("--pca-table", help="the PCA coordinates of every sequence (TSV)")
    add_setting_options(parser, ComparisonSettings)


def run(args):
    settings = settings_from_args(ComparisonSettings, args)
    sets = {name: [record.sequence for record in read_sequences(path, iupac_policy="to-n")]
            for name, path in _named_files(args.generated)}
    contigs = [(r.id, r.sequence) for r in read_sequences(args.genome, "fasta",
                                                          iupac_policy="to-n")]
    size = sum(len(sequence) for _, sequence in contigs)
    if size > settings.max_genome_mbp * 1e6:
        raise DnalmError(f"genome {args.genome} is {size / 1e6:,.0f} Mbp, over the "
                         f"{settings.max_genome_mbp:g} Mbp indexed for the novelty measures "
                         "(--max-genome-mbp)")
    length = int(np.median([len(s) for sequences in sets.values() for s in sequences]))
    real = real_windows(contigs, length, settings.real_windows, settings.seed)
    sets = {REAL: [sequence for _, sequence in real], **sets}
    print(f"dnalm compare-sequences: {len(real)} real windows of {length} bp; "
          + ", ".join(f"{name} {len(s)}" for name, s in sets.items() if name != REAL), flush=True)
    genome = GenomeKmers([sequence for _, sequence in contigs])
    rows = {name: [(genome.longest_match(s), genome.absent_share(s), longest_orf(s))
                   for s in sequences] for name, sequences in sets.items()}
    counts = {name: kmer_counts(sequences, settings.k) for name, sequences in sets.items()}
    summaries = [_summary(name, sets[name], counts[name], rows[name]) for name in sets]
    _write_outputs(args, summaries, sets, counts, rows)
    for summary in summaries:
        print(f"{summary.name}: k-mer variance {summary.mean_kmer_variance:.3g}, longest match "
              f"{summary.median_longest_match:g} bp (median), {summary.mean_absent_12mers:.1%} "
              f"of 12-mers new, longest ORF {summary.mean_longest_orf:.0f} bp", flush=True)


def _named_files(pairs):
    named = []
    for pair in pairs:
        name, separator, path = pair.partition("=")
        if not separator or not name or not path:
            raise DnalmError(f"--generated '{pair}': write each set as NAME=FASTA")
        if name == REAL or name in dict(named):
            raise DnalmError(f"--generated: the set name '{name}' is "
                             f"{'taken by the real windows' if name == REAL else 'given twice'}")
        named.append((name, path))
    return named


def _summary(name, sequences, counts, rows):
    matches, absent, orfs = (np.array(column, dtype=float) for column in zip(*rows))
    return SetSummary(name, len(sequences), float(np.mean([len(s) for s in sequences])),
                      mean_kmer_variance(counts), float(matches.mean()),
                      float(np.median(matches)), float(np.nanmean(absent)), float(orfs.mean()))


def _write_outputs(args, summaries, sets, counts, rows):
    targets = (args.output, args.per_sequence, args.pca, args.pca_table)
    with atomic_outputs(*targets) as (summary_path, per_sequence, pca_path, pca_table):
        with open(summary_path, "w") as stream:
            stream.write("set\tsequences\tmean_length\tmean_kmer_variance\tmean_longest_match"
                         "\tmedian_longest_match\tmean_absent_12mer_share\tmean_longest_orf\n")
            for s in summaries:
                stream.write(f"{s.name}\t{s.sequences}\t{s.mean_length:.1f}\t"
                             f"{s.mean_kmer_variance:.6g}\t{s.mean_longest_match:.2f}\t"
                             f"{s.median_longest_match:g}\t{s.mean_absent_12mers:.4f}\t"
                             f"{s.mean_longest_orf:.1f}\n")
        if per_sequence:
            with open(per_sequence, "w") as stream:
                stream.write("set\tsequence\tlength\tlongest_match\tabsent_12mer_share"
                             "\tlongest_orf\n")
                for name, values in rows.items():
                    for number, (sequence, (match, absent, orf)) in enumerate(
                            zip(sets[name], values), start=1):
                        stream.write(f"{name}\t{number}\t{len(sequence)}\t{match}\t"
                                     f"{absent:.4f}\t{orf}\n")
        if pca_path or pca_table:
            _write_pca(counts, pca_path, pca_table)


def _write_pca(counts, pca_path, pca_table):
    """A PCA fitted on the real windows' k-mer frequencies, every set projected onto it."""
    frequencies = {name: c / np.maximum(c.sum(axis=1, keepdims=True), 1)
                   for name, c in counts.items()}
    basis = pca_basis(frequencies[REAL], 2)
    points = {name: basis.project(f) for name, f in frequencies.items()}
    if pca_table:
        with open(pca_table, "w") as stream:
            stream.write("set\tsequence\tPC1\tPC2\n")
            for name, xy in points.items():
                for number, (x, y) in enumerate(xy, start=1):
                    stream.write(f"{name}\t{number}\t{x:.6g}\t{y:.6g}\n")
    if pca_path:
        plt = pyplot()
        groups = [name for name, xy in points.items() for _ in range(len(xy))]
        figure, _ = pca_figure(np.concatenate(list(points.values())), basis.explained, groups,
                               "set", title="k-mer content, PCA of the real windows")
        figure.savefig(pca_path, format="png")
        plt.close(figure)
