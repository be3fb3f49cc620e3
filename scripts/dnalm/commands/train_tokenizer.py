"""Train a BPE tokenizer (DNABERT-2's special tokens and shape) on your own sequences.

The output tokenizer.json can be given to ``dnalm tokenize --tokenizer``.
Input options are those of ``dnalm tokenize``, genome mode included.
"""

from dataclasses import dataclass

from dnalm.commands.setting_options import settings_from_args
from dnalm.commands.tokenize import SequenceInputSettings, add_input_arguments, input_records
from dnalm.io.outputs import atomic_outputs
from dnalm.settings import setting
from dnalm.tokenization.bpe_training import MIN_VOCAB_SIZE, train_bpe_tokenizer

MAX_VOCAB_SIZE = 1_000_000  # far past any DNA vocabulary (DNABERT-2: 4,096): a typo


@dataclass
class TrainTokenizerSettings(SequenceInputSettings):
    """The knobs of ``dnalm train-tokenizer``: the input's sequences and the vocabulary."""

    vocab_size: int = setting(4096, "number of tokens, the 5 special ones and A, C, G, T, N "
                              "included (DNABERT-2 has 4096)", min=MIN_VOCAB_SIZE,
                              max=MAX_VOCAB_SIZE)
    min_frequency: int = setting(2, "merge two tokens only if their pair occurs at least this "
                                 "often", min=1)


def add_arguments(parser):
    add_input_arguments(parser, TrainTokenizerSettings)
    parser.add_argument("-o", "--output", required=True, metavar="tokenizer.json", help="tokenizer to write")


def run(args):
    settings = settings_from_args(TrainTokenizerSettings, args)
    counted = _Counter(record.sequence for record in input_records(args, settings))
    tokenizer = train_bpe_tokenizer(counted, settings.vocab_size, settings.min_frequency)
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
