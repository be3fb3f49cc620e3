"""Turn DNA sequences into token ids (a Parquet token table) and summarise how.

Reads FASTA or FASTQ (plain or gzip), CSV/TSV or one sequence per line, optionally cuts
genomic records into windows, tokenizes with DNABERT-2's BPE (bundled), k-mers,
single nucleotides, your own tokenizer.json or a model's own tokenizer (a model zip or
folder: the ESM or BERT vocab.txt of a Nucleotide Transformer or DNABERT-1 model too, as
its model reads it), and writes one row per sequence.

Example: dnalm tokenize windows.fa --tokenizer dnabert1.zip -o tokens.parquet
"""

from dataclasses import dataclass
from pathlib import Path

from dnalm.commands.sequence_options import add_sequence_options
from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.errors import DnalmError
from dnalm.io.outputs import atomic_outputs
from dnalm.io.sequences import LetterCounts, read_sequence_pieces, read_sequences
from dnalm.io.windows import (
    N_POLICIES,
    GenomeWindowCounts,
    genome_windows,
    with_reverse_complements,
)
from dnalm.settings import check_settings, setting
from dnalm.tokenization.encoding import tokenize_to_table
from dnalm.tokenization.loading import BUNDLED, load_tokenizer
from dnalm.tokenization.summary import (
    summary_rows,
    summary_text,
    write_histogram,
    write_summary_table,
)

DEFAULT_WINDOW = 200
GENOME_MODE = "genome mode (off unless --genome or --window is given)"


@dataclass
class SequenceInputSettings:
    """How tokenize and train-tokenizer turn records into sequences: whole, or cut into windows
    (genome mode), and with their reverse complements or not."""

    genome: bool = setting(False, "cut every record into non-overlapping windows of --window bp "
                           f"(default {DEFAULT_WINDOW})", group=GENOME_MODE)
    window: int = setting(None, f"window length in bp (default {DEFAULT_WINDOW}); implies "
                          "--genome. Window ids are RECORD:START-END, 0-based half-open like BED "
                          "(chr1:0-200 is the first 200 bases)", group=GENOME_MODE, min=1,
                          metavar="W")
    n_policy: str = setting("drop", "drop windows that contain N (the tutorial's choice) or split "
                            "records at N runs and window each N-free stretch", choices=N_POLICIES,
                            group=GENOME_MODE)
    reverse_complement: bool = setting(False, "augment: follow every sequence by its reverse "
                                       "complement (id suffixed '(-)')")

    def __post_init__(self):
        check_settings(self)

    @property
    def genome_mode(self):
        return self.genome or self.window is not None

    @property
    def window_length(self):
        return DEFAULT_WINDOW if self.window is None else self.window


@dataclass
class TokenizeSettings(SequenceInputSettings):
    """The knobs of ``dnalm tokenize``: the input's sequences, the tokenizer and truncation."""

    tokenizer: str = setting("dnabert2", "dnabert2 (bundled, the tutorial's), kmer:K "
                             "(non-overlapping k-mers, e.g. kmer:6), char (one token per "
                             "nucleotide), a tokenizer.json file, or a model zip or folder "
                             "whose own tokenizer is used (also a folder of vocab.txt + "
                             "tokenizer_config.json: ESM's 6-mers, DNABERT-1's overlapping "
                             "k-mers)",
                             metavar="dnabert2|kmer:K|char|PATH")
    max_length: int = setting(None, "truncate to this many tokens, [CLS] and [SEP] included (as "
                              "transformers' truncation=True)", min=1, metavar="N")


def add_input_arguments(parser, settings_class):
    """The input and the options for reading it, shared with train-tokenizer, whose
    ``settings_class`` extends ``SequenceInputSettings``."""
    parser.add_argument(
        "input", metavar="INPUT", help="FASTA or FASTQ (plain or .gz), CSV/TSV or text file"
    )
    add_sequence_options(parser, genome_mode=True)
    add_setting_options(parser, settings_class)


def iupac_policy(args, settings):
    """What --iupac-policy means when not given: genome mode treats ambiguity letters as N."""
    if args.iupac_policy is not None:
        return args.iupac_policy
    return "to-n" if settings.genome_mode else "error"


def input_records(args, settings, window_counts=None, letter_counts=None):
    """The records the input options and ``settings`` describe, windowed and augmented as asked.

    Genome mode reads long records piece by piece (``read_sequence_pieces``).
    """
    reading = (args.input, args.input_format, args.column, args.id_column,
               iupac_policy(args, settings), letter_counts)
    if settings.genome_mode:
        records = genome_windows(read_sequence_pieces(*reading), settings.window_length,
                                 settings.n_policy, window_counts)
    else:
        records = read_sequences(*reading)
    if settings.reverse_complement:
        records = with_reverse_complements(records)
    return records


def add_arguments(parser):
    add_input_arguments(parser, TokenizeSettings)
    parser.add_argument("-o", "--output", required=True, metavar="OUT.parquet", help="token table to write")
    parser.add_argument("--summary", metavar="S.tsv", help="write the summary as a metric/value table")
    parser.add_argument("--histogram", metavar="H.png", help="write a histogram of tokens per sequence")


def run(args):
    settings = settings_from_args(TokenizeSettings, args)
    tokenizer = load_tokenizer(settings.tokenizer)
    window_counts = GenomeWindowCounts() if settings.genome_mode else None
    letter_counts = LetterCounts() if iupac_policy(args, settings) == "to-n" else None
    records = input_records(args, settings, window_counts, letter_counts)
    with atomic_outputs(args.output, args.summary, args.histogram) as (table, summary, histogram):
        counts = tokenize_to_table(records, tokenizer, table, settings.max_length)
        if counts.sequences == 0:
            raise DnalmError(
                f"{args.input}: no window of {settings.window_length} bp is left "
                f"(n-policy {settings.n_policy}); try a shorter --window or --n-policy split"
            )
        rows = summary_rows(
            tokenizer_name(settings.tokenizer),
            tokenizer.get_vocab_size(),
            counts,
            window_counts,
            settings.reverse_complement,
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
