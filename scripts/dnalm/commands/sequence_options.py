"""How to read a sequence input: the options of every tool that reads DNA sequences, declared once."""

from dnalm.io.sequences import IUPAC_POLICIES, SEQUENCE_FORMATS


def add_sequence_options(parser, genome_mode=False):
    """--input-format, --column, --id-column and --iupac-policy.

    ``genome_mode``: the tool has a genome mode (tokenize, train-tokenizer),
    which reads ambiguity letters as N unless told otherwise.
    """
    parser.add_argument(
        "--input-format", choices=SEQUENCE_FORMATS, default=None,
        help="format of the sequence input (default: detected from the content)",
    )
    parser.add_argument(
        "--column", default=None,
        help="sequence column of a CSV/TSV input (default: text, sequence or seq)",
    )
    parser.add_argument(
        "--id-column", default=None,
        help="id column of a CSV/TSV input (default: the row number)",
    )
    in_genome_mode = "; genome mode reads them as N unless 'error' is given" if genome_mode else ""
    parser.add_argument(
        "--iupac-policy", choices=IUPAC_POLICIES, default=None if genome_mode else "error",
        help="IUPAC ambiguity letters (R, Y, K, M, S, W, B, D, H, V): stop with an error naming "
        f"the record (error, the default) or read them as N (to-n){in_genome_mode}",
    )
