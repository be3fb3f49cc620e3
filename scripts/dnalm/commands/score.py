"""Score DNA sequences with a language model: log-likelihood per sequence, or the
zero-shot effect of variants for ref/alt pairs: the log-likelihood of alt minus ref,
and with --distance the distance between the pooled vectors of ref and alt (the GTN
zero-shot tutorial's L2 distance).

A masked LM (ESM/Nucleotide Transformer, BERT/DNABERT, ModernBERT) gives instead the
pseudo-log-likelihood of each sequence (each token masked in turn), and for pairs the
masked marginal: the tokens where ref and alt differ are masked together in the
reference, and log p(alt) - log p(ref) is summed over them. With overlapping k-mers
(DNABERT-1) the up to k tokens holding a changed base are all masked, so the base is
hidden, and their k-mers compared. Pairs of different lengths (indels), or whose
tokens do not match one to one (an N that moves a 6-mer cut), get the pseudo-log-
likelihood difference (alt - ref); --masked-score pll gives it for every pair.

Examples:
  dnalm score model.zip windows.fa -o scores.tsv
  dnalm score model.zip --ref ref.fa --alt alt.fa -o effects.tsv
  dnalm score model.zip --ref ref.fa --alt alt.fa --pair-by order --distance l2 -o effects.tsv
  dnalm score model.zip variants.tsv --ref-column ref --alt-column alt -o effects.tsv
"""

from dataclasses import dataclass

from dnalm.commands.model_options import add_model_argument
from dnalm.commands.sequence_options import add_sequence_options
from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.errors import DnalmError
from dnalm.inference.batches import tokenized_records
from dnalm.inference.pair_effects import EffectScorer, EffectSettings, effect_cells
from dnalm.io.model_archive import open_model
from dnalm.io.outputs import atomic_outputs
from dnalm.io.variant_pairs import PAIRINGS, pairs_from_files, pairs_from_table
from dnalm.settings import setting

SCORE_COLUMNS = ("id", "n_tokens", "log_likelihood", "log_likelihood_per_token", "perplexity")
PSEUDO_SCORE_COLUMNS = ("id", "n_tokens", "pseudo_log_likelihood",
                        "pseudo_log_likelihood_per_token", "pseudo_perplexity")


@dataclass
class ScoreSettings(EffectSettings):
    """The knobs of ``dnalm score``: how pairs are scored, and how two files' records pair."""

    pair_by: str = setting(
        "auto", "how --ref and --alt records pair: 'id' (same id, each once), 'order' (n-th with "
        "n-th, whatever the ids), or 'auto': by id when both files hold the same ids once each, "
        "by order when the ids cannot pair (repeated, or none in common)", choices=PAIRINGS)


def add_arguments(parser):
    add_model_argument(parser)
    parser.add_argument(
        "input", metavar="INPUT", nargs="?", default=None,
        help="sequences to score (FASTA, CSV, TSV, text or tokenized Parquet), or a table of "
        "ref/alt pairs with --ref-column and --alt-column",
    )
    parser.add_argument("-o", "--output", required=True, help="tabular output (TSV)")
    parser.add_argument("--ref", default=None, help="reference sequences of variant pairs")
    parser.add_argument("--alt", default=None, help="alternative sequences of variant pairs")
    parser.add_argument("--ref-column", default=None, help="reference column of a pairs table")
    parser.add_argument("--alt-column", default=None, help="alternative column of a pairs table")
    add_setting_options(parser, ScoreSettings)
    add_sequence_options(parser)


def run(args):
    settings = settings_from_args(ScoreSettings, args)
    pairs_from_two_files = args.ref is not None or args.alt is not None
    pairs_from_one_table = args.ref_column is not None or args.alt_column is not None
    if pairs_from_two_files and (args.ref is None or args.alt is None):
        raise DnalmError("variant scoring needs both --ref and --alt")
    if pairs_from_one_table and (args.ref_column is None or args.alt_column is None):
        raise DnalmError("a pairs table needs both --ref-column and --alt-column")
    if pairs_from_two_files == (args.input is not None) or (pairs_from_one_table and args.input is None):
        raise DnalmError("give either INPUT (sequences or a pairs table) or --ref and --alt")
    if settings.distances and not (pairs_from_two_files or pairs_from_one_table):
        raise DnalmError("--distance compares variant pairs: give --ref and --alt, or a pairs "
                         "table with --ref-column and --alt-column")
    # Pairs are read and checked before the model is loaded: bad pairs fail fast.
    pairs = _read_pairs(args, settings) if pairs_from_two_files or pairs_from_one_table else None
    with open_model(args.model) as model_files:
        scorer = EffectScorer(model_files, settings, "score")
        if pairs is None:
            records = tokenized_records(
                args.input, scorer.tokenizer, args.input_format, args.column, args.id_column,
                iupac_policy=args.iupac_policy,
            )
            with atomic_outputs(args.output) as (output,), open(output, "w") as stream:
                _write_scores(stream, scorer.scores(scorer.fitted(records)),
                              PSEUDO_SCORE_COLUMNS if scorer.masked else SCORE_COLUMNS)
            return
        rows = scorer.effects(pairs)
        with atomic_outputs(args.output) as (output,), open(output, "w") as stream:
            columns = scorer.columns()
            stream.write("\t".join(("id",) + columns) + "\n")
            for (ref, _), row in zip(pairs, rows):
                stream.write("\t".join([ref.id] + effect_cells(row, columns)) + "\n")


def _read_pairs(args, settings):
    if args.ref is None:
        return pairs_from_table(args.input, args.ref_column, args.alt_column, args.input_format,
                                args.id_column, args.iupac_policy)
    pairs, how = pairs_from_files(args.ref, args.alt, settings.pair_by, args.input_format,
                                  args.iupac_policy)
    if not pairs:
        raise DnalmError(f"{args.ref} holds no sequences")
    print(f"dnalm score: {len(pairs)} reference/alternative pairs, paired by {how}", flush=True)
    return pairs


def _write_scores(stream, scores, columns):
    stream.write("\t".join(columns) + "\n")
    for score in scores:
        stream.write(
            f"{score.id}\t{score.n_tokens}\t{score.log_likelihood:.6f}\t"
            f"{score.per_token:.6f}\t{score.perplexity:.6f}\n"
        )
