"""Score DNA sequences with a causal language model: log-likelihood per sequence, or the
zero-shot effect of variants (log-likelihood of alt minus ref) for ref/alt pairs.

Examples:
  dnalm score model.zip windows.fa -o scores.tsv
  dnalm score model.zip --ref ref.fa --alt alt.fa -o effects.tsv
  dnalm score model.zip variants.tsv --ref-column ref --alt-column alt -o effects.tsv
"""

from dnalm.commands.model_options import (
    add_context_options,
    add_model_argument,
    add_sequence_options,
)
from dnalm.errors import DnalmError
from dnalm.inference.batches import (
    fit_to_context,
    pad_id_of,
    special_token_ids,
    tokenize_records,
    tokenized_records,
)
from dnalm.inference.loading import default_batch_size, load_causal_lm
from dnalm.inference.scoring import score_pieces
from dnalm.io.model_archive import open_model
from dnalm.io.outputs import atomic_outputs
from dnalm.io.sequences import SequenceRecord, read_sequences

SCORE_COLUMNS = ("id", "n_tokens", "log_likelihood", "log_likelihood_per_token", "perplexity")
PAIR_COLUMNS = ("id", "ref_log_likelihood", "alt_log_likelihood", "delta_log_likelihood",
                "ref_n_tokens", "alt_n_tokens")


def add_arguments(parser):
    add_model_argument(parser)
    parser.add_argument(
        "input", metavar="INPUT", nargs="?", default=None,
        help="sequences to score (FASTA, CSV, TSV, text or tokenized Parquet), or a table of "
        "ref/alt pairs with --ref-column and --alt-column",
    )
    parser.add_argument("-o", "--output", required=True, help="tabular output (TSV)")
    parser.add_argument("--ref", default=None, help="reference sequences of variant pairs")
    parser.add_argument("--alt", default=None,
                        help="alternative sequences, matched to --ref by id")
    parser.add_argument("--ref-column", default=None, help="reference column of a pairs table")
    parser.add_argument("--alt-column", default=None, help="alternative column of a pairs table")
    add_sequence_options(parser)
    add_context_options(parser)


def run(args):
    pairs_from_files = args.ref is not None or args.alt is not None
    pairs_from_table = args.ref_column is not None or args.alt_column is not None
    if pairs_from_files and (args.ref is None or args.alt is None):
        raise DnalmError("variant scoring needs both --ref and --alt")
    if pairs_from_table and (args.ref_column is None or args.alt_column is None):
        raise DnalmError("a pairs table needs both --ref-column and --alt-column")
    if pairs_from_files == (args.input is not None) or (pairs_from_table and args.input is None):
        raise DnalmError("give either INPUT (sequences or a pairs table) or --ref and --alt")

    with open_model(args.model) as model_files:
        tokenizer = model_files.tokenizer()
        model = load_causal_lm(model_files)
        special_ids = special_token_ids(tokenizer)
        pad_id = pad_id_of(tokenizer, model_files.config)

        def scores(records):
            pieces = fit_to_context(
                records, model_files.max_positions, args.long_sequences, special_ids, "score"
            )
            batch_size = args.batch_size or default_batch_size(model.device)
            return score_pieces(model, pieces, pad_id, batch_size=batch_size,
                                max_batch_tokens=64 * batch_size)

        with atomic_outputs(args.output) as (output,), open(output, "w") as stream:
            if pairs_from_files or pairs_from_table:
                pairs = _pairs_from_files(args) if pairs_from_files else _pairs_from_table(args)
                _write_pair_scores(stream, scores(tokenize_records(_interleave(pairs), tokenizer)))
            else:
                records = tokenized_records(
                    args.input, tokenizer, args.input_format, args.column, args.id_column,
                    iupac_policy=args.iupac_policy,
                )
                _write_scores(stream, scores(records))


def _write_scores(stream, scores):
    stream.write("\t".join(SCORE_COLUMNS) + "\n")
    for score in scores:
        stream.write(
            f"{score.id}\t{score.n_tokens}\t{score.log_likelihood:.6f}\t"
            f"{score.per_token:.6f}\t{score.perplexity:.6f}\n"
        )


def _write_pair_scores(stream, scores):
    """Scores come as ref, alt, ref, alt ...; one row per pair."""
    stream.write("\t".join(PAIR_COLUMNS) + "\n")
    for ref in scores:
        alt = next(scores)
        delta = alt.log_likelihood - ref.log_likelihood
        stream.write(
            f"{ref.id}\t{ref.log_likelihood:.6f}\t{alt.log_likelihood:.6f}\t{delta:.6f}\t"
            f"{ref.n_tokens}\t{alt.n_tokens}\n"
        )


def _interleave(pairs):
    for ref, alt in pairs:
        yield ref
        yield alt


def _pairs_from_table(args):
    """Two readers over the same table: one for the ref column, one for the alt column."""
    refs = read_sequences(args.input, args.input_format, args.ref_column, args.id_column,
                          args.iupac_policy)
    alts = read_sequences(args.input, args.input_format, args.alt_column, args.id_column,
                          args.iupac_policy)
    yield from zip(refs, alts)


def _pairs_from_files(args):
    """Pairs matched by id, in the order of the reference file; every id exactly once."""
    alts = read_sequences(args.alt, args.input_format, iupac_policy=args.iupac_policy)
    refs = read_sequences(args.ref, args.input_format, iupac_policy=args.iupac_policy)
    alts, refs = _unique_by_id(alts, args.alt), _unique_by_id(refs, args.ref)
    unmatched = [record_id for record_id in alts if record_id not in refs]
    unmatched_ref = [record_id for record_id in refs if record_id not in alts]
    if unmatched_ref:
        raise DnalmError(f"{args.ref}: id '{unmatched_ref[0]}' has no alternative in {args.alt}")
    if unmatched:
        raise DnalmError(f"{args.alt}: id '{unmatched[0]}' has no reference in {args.ref}")
    for record_id, ref in refs.items():
        yield ref, SequenceRecord(record_id, alts[record_id].sequence)


def _unique_by_id(records, path):
    by_id = {}
    for record in records:
        if record.id in by_id:
            raise DnalmError(f"{path}: id '{record.id}' appears twice; pairs are matched by id")
        by_id[record.id] = record
    return by_id
