"""Embed DNA sequences: one vector per sequence from a language model's hidden states.

Example: dnalm embed model.zip windows.fa -o embeddings.tsv --pooling mean
"""

from dnalm.commands.model_options import add_model_argument
from dnalm.commands.sequence_options import add_sequence_options
from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.errors import DnalmError
from dnalm.inference.batches import (
    ContextSettings,
    fit_to_context,
    pad_id_of,
    special_token_ids,
    tokenized_records,
)
from dnalm.inference.embedding import EmbeddingSettings, embed_pieces
from dnalm.inference.model_loading import default_batch_size, load_base_model
from dnalm.io.embedding_files import EMBEDDING_FORMATS, EmbeddingSpill, write_embeddings
from dnalm.io.model_archive import open_model
from dnalm.io.outputs import atomic_outputs
from dnalm.io.record_columns import extra_columns
from dnalm.io.pca_plot import ID_PREFIX, id_pattern, point_groups, write_pca_plot


def add_arguments(parser):
    add_model_argument(parser)
    parser.add_argument(
        "input", metavar="INPUT",
        help="sequences (FASTA, CSV, TSV or one per line; gzip allowed) or a tokenized Parquet",
    )
    parser.add_argument("-o", "--output", required=True, help="embeddings file to write")
    parser.add_argument(
        "--output-format", choices=EMBEDDING_FORMATS, default="tsv",
        help="tsv: id + one column per dimension (default); h5ad: AnnData; npy: NumPy matrix",
    )
    add_setting_options(parser, EmbeddingSettings)
    parser.add_argument("--pca-plot", metavar="PNG", default=None,
                        help="also draw the first two principal components")
    parser.add_argument("--label-column", default=None,
                        help="input table column that colours the PCA plot")
    parser.add_argument(
        "--group-regex", default=None, metavar="REGEX",
        help="colour the PCA plot by a part of the ids: REGEX's first (...) group, or what it "
        f"matches. Default: the part before the first '_' ('{ID_PREFIX}': exon_001 -> exon) "
        "when that makes 2 to 12 groups of several sequences, else one colour",
    )
    add_sequence_options(parser)
    add_setting_options(parser, ContextSettings)


def run(args):
    if (args.label_column or args.group_regex) and not args.pca_plot:
        raise DnalmError("--label-column and --group-regex colour the PCA plot: give --pca-plot too")
    if args.label_column and args.group_regex:
        raise DnalmError("give --label-column or --group-regex, not both: the plot has one colouring")
    if args.group_regex:
        id_pattern(args.group_regex)  # a bad pattern fails before the model runs
    context = settings_from_args(ContextSettings, args)
    with open_model(args.model) as model_files:
        tokenizer = model_files.tokenizer()
        obs = None
        if args.output_format == "h5ad" or args.label_column:
            obs = extra_columns(args.input, args.input_format, args.column)
        labels = _labels(obs, args.label_column, args.input)
        model = load_base_model(model_files)
        special_ids = special_token_ids(tokenizer)
        records = tokenized_records(
            args.input, tokenizer, args.input_format, args.column, args.id_column,
            iupac_policy=args.iupac_policy,
        )
        pieces = fit_to_context(
            records, model_files.max_positions, context.long_sequences, special_ids, "embed"
        )
        settings = settings_from_args(
            EmbeddingSettings, args, batch_size=context.batch_size or default_batch_size(model.device))
        pad_id = pad_id_of(tokenizer, model_files.config)
        with atomic_outputs(args.output, args.pca_plot) as (output, plot), EmbeddingSpill() as spill:
            for ids, matrix in embed_pieces(model, pieces, settings, pad_id, special_ids):
                spill.append(ids, matrix)
            if obs is not None and len(obs) != len(spill.ids):
                raise DnalmError(
                    f"{args.input}: {len(obs)} table rows but {len(spill.ids)} sequences were read"
                )
            write_embeddings(spill, output, args.output_format, obs)
            if plot is not None:
                groups, legend_title = point_groups(spill.ids, labels, args.label_column, args.group_regex)
                drawn = write_pca_plot(spill.matrix(), plot, groups, legend_title,
                                       title=f"{args.pooling}-pooled embeddings")
                print(_described(drawn, legend_title))


def _described(drawn, legend_title):
    if not drawn:
        return "PCA plot: one colour (no --label-column or --group-regex, and the ids have no shared prefix before '_')"
    return f"PCA plot groups ({legend_title}): " + ", ".join(f"{name} {size}" for name, size in drawn.items())


def _labels(obs, label_column, input_path):
    if label_column is None:
        return None
    if obs is None or label_column not in obs.columns:
        available = ", ".join(obs.columns) if obs is not None and len(obs.columns) else "none"
        raise DnalmError(
            f"--label-column '{label_column}' is not a column of {input_path} "
            f"(extra columns: {available})"
        )
    return obs[label_column].to_numpy()
