"""Turn DNA sequences into token ids (a Parquet token table) and summarise how.

Reads FASTA or FASTQ (plain or gzip), CSV/TSV or one sequence per line, optionally cuts
genomic records into windows, tokenizes with DNABERT-2's BPE (bundled), k-mers,
single nucleotides or your own tokenizer.json, and writes one row per sequence.
"""

from pathlib import Path

from dnalm.commands.sequence_options import add_sequence_options
from dnalm.errors import DnalmError
from dnalm.io.outputs import atomic_outputs
from dnalm.io.sequences import LetterCounts, read_sequence_pieces, read_sequences
from dnalm.io.windows import (
    N_POLICIES,
    GenomeWindowCounts,
    genome_windows,
    with_reverse_complements,
)
from dnalm.tokenization.encoding import tokenize_to_table
from dnalm.tokenization.loading import BUNDLED, load_tokenizer
from dnalm.tokenization.summary import (
    summary_rows,
    summary_text,
    write_histogram,
    write_summary_table,
)

DEFAULT_WINDOW = 200


def add_input_arguments(parser):
    """Options for reading sequences, shared with train-tokenizer."""
    parser.add_argument(
        "input", metavar="INPUT", help="FASTA or FASTQ (plain or .gz), CSV/TSV or text file"
    )
    add_sequence_options(parser, genome_mode=True)
    genome = parser.add_argument_group("genome mode (off unless --genome or --window is given)")
    genome.add_argument(
        "--genome", action="store_true",
        help=f"cut every record into non-overlapping windows of --window bp (default {DEFAULT_WINDOW})",
    )
    genome.add_argument(
        "--window", type=int, metavar="W",
        help="window length in bp; implies --genome. Window ids are RECORD:START-END, "
        "0-based half-open like BED (chr1:0-200 is the first 200 bases)",
    )
    genome.add_argument(
        "--n-policy", choices=N_POLICIES, default="drop",
        help="drop windows that contain N (the tutorial's choice, default) or split records at "
        "N runs and window each N-free stretch",
    )
    parser.add_argument(
        "--reverse-complement", action="store_true",
        help="augment: follow every sequence by its reverse complement (id suffixed '(-)')",
    )


def iupac_policy(args):
    """What --iupac-policy means when not given: genome mode treats ambiguity letters as N."""
    if args.iupac_policy is not None:
        return args.iupac_policy
    return "to-n" if genome_mode(args) else "error"


def input_records(args, window_counts=None, letter_counts=None):
    """The records the input options describe, windowed and augmented as asked.

    Genome mode reads long records piece by piece (``read_sequence_pieces``).
    """
    reading = (args.input, args.input_format, args.column, args.id_column, iupac_policy(args),
               letter_counts)
    if genome_mode(args):
        window = window_length(args)
        if window < 1:
            raise DnalmError(f"--window must be at least 1 bp, not {window}")
        records = genome_windows(read_sequence_pieces(*reading), window, args.n_policy,
                                 window_counts)
    else:
        records = read_sequences(*reading)
    if args.reverse_complement:
        records = with_reverse_complements(records)
    return records


def genome_mode(args):
    return args.genome or args.window is not None


def window_length(args):
    return DEFAULT_WINDOW if args.window is None else args.window


def add_arguments(parser):
    add_input_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="OUT.parquet", help="token table to write")
    parser.add_argument(
        "--tokenizer", default="dnabert2", metavar="dnabert2|kmer:K|char|PATH",
        help="dnabert2 (bundled, the tutorial's; default), kmer:K (non-overlapping k-mers, "
        "e.g. kmer:6), char (one token per nucleotide) or a tokenizer.json file",
    )
    parser.add_argument(
        "--max-length", type=int, metavar="N",
        help="truncate to N tokens, [CLS] and [SEP] included (as transformers' truncation=True)",
    )
    parser.add_argument("--summary", metavar="S.tsv", help="write the summary as a metric/value table")
    parser.add_argument("--histogram", metavar="H.png", help="write a histogram of tokens per sequence")


def run(args):
    tokenizer = load_tokenizer(args.tokenizer)
    window_counts = GenomeWindowCounts() if genome_mode(args) else None
    letter_counts = LetterCounts() if iupac_policy(args) == "to-n" else None
    records = input_records(args, window_counts, letter_counts)
    with atomic_outputs(args.output, args.summary, args.histogram) as (table, summary, histogram):
        counts = tokenize_to_table(records, tokenizer, table, args.max_length)
        if counts.sequences == 0:
            raise DnalmError(
                f"{args.input}: no window of {window_length(args)} bp is left "
                f"(n-policy {args.n_policy}); try a shorter --window or --n-policy split"
            )
        rows = summary_rows(
            tokenizer_name(args.tokenizer),
            tokenizer.get_vocab_size(),
            counts,
            window_counts,
            args.reverse_complement,
            letter_counts,
        )
        if summary:
            write_summary_table(rows, summary)
        if histogram:
            write_histogram(counts, histogram)
    print(summary_text(rows))


def tokenizer_name(spec):
    if spec in BUNDLED or spec == "char" or spec.startswith("kmer:"):
        return spec
    return Path(spec).name
