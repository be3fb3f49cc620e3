"""Score DNA sequences with a language model: log-likelihood per sequence, or the
zero-shot effect of variants for ref/alt pairs: the log-likelihood of alt minus ref,
and with --distance the distance between the pooled vectors of ref and alt (the GTN
zero-shot tutorial's L2 distance).

Examples:
  dnalm score model.zip windows.fa -o scores.tsv
  dnalm score model.zip --ref ref.fa --alt alt.fa -o effects.tsv
  dnalm score model.zip --ref ref.fa --alt alt.fa --pair-by order --distance l2 -o effects.tsv
  dnalm score model.zip variants.tsv --ref-column ref --alt-column alt -o effects.tsv
"""

from dnalm.commands.model_options import add_context_options, add_model_argument
from dnalm.commands.sequence_options import add_sequence_options
from dnalm.errors import DnalmError
from dnalm.inference.batches import (
    fit_to_context,
    pad_id_of,
    special_token_ids,
    tokenize_records,
    tokenized_records,
)
from dnalm.inference.embedding import EmbeddingSettings
from dnalm.inference.model_loading import default_batch_size, load_base_model, load_causal_lm
from dnalm.inference.scoring import score_pieces
from dnalm.inference.variant_distances import (
    DISTANCES,
    POOLINGS,
    SOURCES,
    column_name,
    interleave,
    pair_distances,
)
from dnalm.io.model_archive import open_model
from dnalm.io.outputs import atomic_outputs
from dnalm.io.variant_pairs import PAIRINGS, pairs_from_files, pairs_from_table

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
    parser.add_argument("--alt", default=None, help="alternative sequences of variant pairs")
    parser.add_argument(
        "--pair-by", choices=PAIRINGS, default="auto",
        help="how --ref and --alt records pair: 'id' (same id, each once), 'order' (n-th with "
        "n-th, whatever the ids), or 'auto' (default): by id when both files hold the same "
        "ids once each, by order when the ids cannot pair (repeated, or none in common)",
    )
    parser.add_argument("--ref-column", default=None, help="reference column of a pairs table")
    parser.add_argument("--alt-column", default=None, help="alternative column of a pairs table")
    parser.add_argument(
        "--distance", nargs="+", choices=DISTANCES, default=None,
        help="also give the distance between the pooled vectors of ref and alt (columns "
        "l2_distance, cosine_distance); a model without LM head then gives distances only",
    )
    parser.add_argument("--distance-pooling", choices=POOLINGS, default="max",
                        help="how token vectors become one vector (default: max, as the tutorial)")
    parser.add_argument(
        "--distance-from", choices=SOURCES, default="hidden",
        help="vectors to compare: the last hidden states (default; no LM head needed) or the "
        "LM head's logits (as the tutorial's model(inputs)[0])",
    )
    add_sequence_options(parser)
    add_context_options(parser)


def run(args):
    pairs_from_two_files = args.ref is not None or args.alt is not None
    pairs_from_one_table = args.ref_column is not None or args.alt_column is not None
    if pairs_from_two_files and (args.ref is None or args.alt is None):
        raise DnalmError("variant scoring needs both --ref and --alt")
    if pairs_from_one_table and (args.ref_column is None or args.alt_column is None):
        raise DnalmError("a pairs table needs both --ref-column and --alt-column")
    if pairs_from_two_files == (args.input is not None) or (pairs_from_one_table and args.input is None):
        raise DnalmError("give either INPUT (sequences or a pairs table) or --ref and --alt")
    if args.distance and not (pairs_from_two_files or pairs_from_one_table):
        raise DnalmError("--distance compares variant pairs: give --ref and --alt, or a pairs "
                         "table with --ref-column and --alt-column")
    distance_names = tuple(dict.fromkeys(args.distance or ()))  # each once, in given order
    # Pairs are read and checked before the model is loaded: bad pairs fail fast.
    pairs = _read_pairs(args) if pairs_from_two_files or pairs_from_one_table else None

    with open_model(args.model) as model_files:
        tokenizer = model_files.tokenizer()
        # Log-likelihoods need the LM head; distances from hidden states do not.
        log_likelihoods = not args.distance or model_files.has_lm_head
        if log_likelihoods or args.distance_from == "logits":
            purpose = "log-likelihoods" if not args.distance else "distances from logits"
            model = load_causal_lm(model_files, purpose=purpose)
        else:
            model = load_base_model(model_files)
        special_ids = special_token_ids(tokenizer)
        pad_id = pad_id_of(tokenizer, model_files.config)
        batch_size = args.batch_size or default_batch_size(model.device)

        def fitted(records):
            return fit_to_context(
                records, model_files.max_positions, args.long_sequences, special_ids, "score"
            )

        def scores(pieces):
            return score_pieces(model, pieces, pad_id, batch_size=batch_size,
                                max_batch_tokens=64 * batch_size)

        if pairs is None:
            records = tokenized_records(
                args.input, tokenizer, args.input_format, args.column, args.id_column,
                iupac_policy=args.iupac_policy,
            )
            with atomic_outputs(args.output) as (output,), open(output, "w") as stream:
                _write_scores(stream, scores(fitted(records)))
            return

        pieces = list(fitted(tokenize_records(interleave(pairs), tokenizer)))
        distances = None
        if args.distance:
            settings = EmbeddingSettings(
                pooling=args.distance_pooling, source=args.distance_from, batch_size=batch_size
            )
            # Hidden states come from the decoder stack, without computing the logits.
            vectors_model = model.base_model if args.distance_from == "hidden" else model
            distances = pair_distances(vectors_model, pieces, settings, pad_id, special_ids,
                                       distance_names)
        with atomic_outputs(args.output) as (output,), open(output, "w") as stream:
            _write_pairs(stream, [ref.id for ref, _ in pairs],
                         scores(pieces) if log_likelihoods else None, distances, distance_names)


def _read_pairs(args):
    if args.ref is None:
        return pairs_from_table(args.input, args.ref_column, args.alt_column, args.input_format,
                                args.id_column, args.iupac_policy)
    pairs, how = pairs_from_files(args.ref, args.alt, args.pair_by, args.input_format,
                                  args.iupac_policy)
    if not pairs:
        raise DnalmError(f"{args.ref} holds no sequences")
    print(f"dnalm score: {len(pairs)} reference/alternative pairs, paired by {how}", flush=True)
    return pairs


def _write_scores(stream, scores):
    stream.write("\t".join(SCORE_COLUMNS) + "\n")
    for score in scores:
        stream.write(
            f"{score.id}\t{score.n_tokens}\t{score.log_likelihood:.6f}\t"
            f"{score.per_token:.6f}\t{score.perplexity:.6f}\n"
        )


def _write_pairs(stream, ids, scores, distances, distance_names):
    """One row per pair; ``scores`` come as ref, alt, ref, alt ... (or None)."""
    columns = PAIR_COLUMNS if scores is not None else ("id",)
    stream.write("\t".join(columns + tuple(column_name(d) for d in distance_names)) + "\n")
    for pair_id in ids:
        cells = [pair_id]
        if scores is not None:
            ref, alt = next(scores), next(scores)
            delta = alt.log_likelihood - ref.log_likelihood
            cells += [f"{ref.log_likelihood:.6f}", f"{alt.log_likelihood:.6f}", f"{delta:.6f}",
                      str(ref.n_tokens), str(alt.n_tokens)]
        if distances is not None:
            values = next(distances)
            cells += [f"{values[name]:.8g}" for name in distance_names]
        stream.write("\t".join(cells) + "\n")
