"""Score the variants of a VCF against a reference genome: the zero-shot effect of each ALT
(as 'dnalm score --ref --alt' defines it) on a W-bp window around the variant.

A causal LM gives the change in log-likelihood; a masked LM the masked marginal of a
substitution (the tokens that differ masked together in the reference window, with
overlapping k-mers every token holding the changed base; log p(alt) - log p(ref) summed
over them) and, for an indel, the pseudo-log-likelihood difference (--masked-score pll:
for every variant).

Examples:
  dnalm score-variants model.zip calls.vcf.gz --genome hg38.fa -o effects.tsv
  dnalm score-variants model.zip calls.vcf --genome genome.fa --distance l2 \\
      --strand both --info-fields GENE REGION -o effects.tsv --output-vcf effects.vcf.gz --bgzip
"""

from dataclasses import dataclass

from dnalm.commands.model_options import add_model_argument
from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.errors import DnalmError
from dnalm.inference.pair_effects import (
    EffectScorer,
    EffectSettings,
    StrandSettings,
    effect_cells,
)
from dnalm.io.effect_vcf import write_effect_vcf, write_tabix_index
from dnalm.io.model_archive import open_model
from dnalm.io.outputs import atomic_outputs
from dnalm.io.reference_genome import open_genome
from dnalm.io.variant_calls import CHR_PREFIXES, read_variant_calls
from dnalm.io.variant_windows import (
    DEFAULT_WIDTH,
    REF_MISMATCH_POLICIES,
    SKIP_REASONS,
    VariantWindowCounts,
    variant_windows,
)
from dnalm.settings import setting

# Far beyond any DNA LM's context (the tutorial's model reads 512 tokens, ~2.5 kb): a larger
# window is a typo, refused before the genome is read.
MAX_WIDTH = 100_000
VARIANT_COLUMNS = ("CHROM", "POS", "ID", "REF", "ALT", "window_start", "window_shift")
DESCRIPTIONS = {
    "ref_log_likelihood": "log-likelihood of the reference window (dnalm)",
    "alt_log_likelihood": "log-likelihood of the alternative window (dnalm)",
    "delta_log_likelihood": "log-likelihood of the alternative minus the reference window (dnalm)",
    "masked_effect": "masked LM: the masked marginal, log p(alt) - log p(ref) summed over the "
                     "masked tokens that differ; the pseudo-log-likelihood difference for an "
                     "indel (dnalm)",
    "ref_pll": "masked LM: pseudo-log-likelihood of the reference window (dnalm)",
    "alt_pll": "masked LM: pseudo-log-likelihood of the alternative window (dnalm)",
    "delta_pll": "masked LM: pseudo-log-likelihood of the alternative minus the reference "
                 "window (dnalm)",
    "l2_distance": "L2 distance between the pooled vectors of the ref and alt windows (dnalm)",
    "cosine_distance": "cosine distance between the pooled vectors of the ref and alt windows (dnalm)",
}


@dataclass
class ScoreVariantsSettings(EffectSettings, StrandSettings):
    """The knobs of ``dnalm score-variants``: the windows around the variants, and the strands
    (``StrandSettings``) and way (``EffectSettings``) the ref/alt windows are scored."""

    window: int = setting(DEFAULT_WIDTH, f"window length W in bp, 1 to {MAX_WIDTH:,}; the variant "
                          "sits at offset (W-1)//2, as in the zero-shot tutorial", min=1,
                          max=MAX_WIDTH, metavar="W")
    ref_mismatch: str = setting("error", "a REF that differs from the genome: stop or skip the "
                                "record", choices=REF_MISMATCH_POLICIES)
    chr_prefix: str = setting(
        "keep", "map the VCF's contig names onto the genome's: keep them, add 'chr' ('1' -> "
        "'chr1', 'MT' -> 'chrM') or strip it ('chr1' -> '1', 'chrM' -> 'MT')", choices=CHR_PREFIXES)


def add_arguments(parser):
    add_model_argument(parser)
    parser.add_argument("vcf", metavar="VCF", help="variants to score (VCF, plain or bgzipped)")
    parser.add_argument("--genome", required=True, metavar="FASTA",
                        help="the reference genome the VCF was called against (FASTA)")
    parser.add_argument("-o", "--output", required=True, help="effects table to write (TSV)")
    parser.add_argument("--output-vcf", metavar="VCF", default=None,
                        help="also write the VCF with the effects as INFO fields (DNALM_...)")
    parser.add_argument("--bgzip", action="store_true",
                        help="BGZF-compress --output-vcf (for bcftools, tabix, Galaxy's vcf_bgzip) "
                        "and write its tabix index beside it (VCF.tbi)")
    parser.add_argument("--no-tabix-index", dest="tabix_index", action="store_false",
                        help="with --bgzip, no .tbi beside the VCF (Galaxy indexes a vcf_bgzip "
                        "dataset itself)")
    parser.add_argument("--info-fields", nargs="+", default=(), metavar="FIELD",
                        help="INFO fields copied into the table, one column each")
    add_setting_options(parser, ScoreVariantsSettings)


def run(args):
    settings = settings_from_args(ScoreVariantsSettings, args)
    if args.bgzip and args.output_vcf is None:
        raise DnalmError("--bgzip compresses the VCF output: give --output-vcf too")
    info_fields = tuple(dict.fromkeys(args.info_fields))
    clash = [field for field in info_fields if field in VARIANT_COLUMNS]
    if clash:
        raise DnalmError(f"INFO field '{clash[0]}' has the name of a table column")
    counts = VariantWindowCounts()
    # Windows are read and checked before the model is loaded: bad input fails fast.
    with open_genome(args.genome) as genome:
        calls = read_variant_calls(args.vcf, info_fields)
        windows = list(variant_windows(calls, genome, settings.window, settings.ref_mismatch,
                                       settings.chr_prefix, counts))
    print(f"dnalm score-variants: {counts.summary()}", flush=True)

    with open_model(args.model) as model_files:
        scorer = EffectScorer(model_files, settings, "score-variants")
        # An indel's alternative window is filled to W bp: say which pairs are substitutions.
        rows = scorer.effects([(window.ref, window.alt_window) for window in windows],
                              settings.strand,
                              [len(window.call.ref) == len(window.alt) for window in windows])
    columns = scorer.columns(settings.strand)
    with atomic_outputs(args.output, args.output_vcf) as (output, output_vcf):
        with open(output, "w") as stream:
            stream.write("\t".join(VARIANT_COLUMNS + columns + info_fields) + "\n")
            for window, row in zip(windows, rows):
                call = window.call
                cells = [call.chrom, str(call.pos), call.id, call.ref, window.alt,
                         str(window.start), str(window.shift)]
                stream.write("\t".join(cells + effect_cells(row, columns) + list(call.info)) + "\n")
        if output_vcf is not None:
            effects = {(w.call.number, w.alt_index): row for w, row in zip(windows, rows)}
            vcf_columns = [column for column in columns if column in DESCRIPTIONS]
            write_effect_vcf(args.vcf, output_vcf, effects, vcf_columns, DESCRIPTIONS,
                             counts.skipped, SKIP_REASONS, args.bgzip)
    if args.bgzip and args.tabix_index:
        write_tabix_index(args.output_vcf)
