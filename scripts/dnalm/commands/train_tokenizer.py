"""Train a BPE tokenizer (DNABERT-2's special tokens and shape) on your own sequences.

The output tokenizer.json can be given to ``dnalm tokenize --tokenizer``.
Input options are those of ``dnalm tokenize``, genome mode included.
"""

from dnalm.commands.tokenize import add_input_arguments, input_records
from dnalm.io.outputs import atomic_outputs
from dnalm.tokenization.bpe_training import train_bpe_tokenizer


def add_arguments(parser):
    add_input_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="tokenizer.json", help="tokenizer to write")
    parser.add_argument(
        "--vocab-size", type=int, default=4096,
        help="number of tokens, the 5 special ones included (default 4096, DNABERT-2's)",
    )
    parser.add_argument(
        "--min-frequency", type=int, default=2,
        help="merge two tokens only if their pair occurs at least this often (default 2)",
    )


def run(args):
    counted = _Counter(record.sequence for record in input_records(args))
    tokenizer = train_bpe_tokenizer(counted, args.vocab_size, args.min_frequency)
    with atomic_outputs(args.output) as (output,):
        tokenizer.save(str(output))
    print(f"sequences\t{counted.count}\nbp\t{counted.bases}\nvocabulary size\t{tokenizer.get_vocab_size()}")


class _Counter:
    """Pass sequences through, counting them and their bases for the report."""

    def __init__(self, sequences):
        self._sequences = sequences
        self.count = 0
        self.bases = 0

    def __iter__(self):
        for sequence in self._sequences:
            self.count += 1
            self.bases += len(sequence)
            yield sequence
