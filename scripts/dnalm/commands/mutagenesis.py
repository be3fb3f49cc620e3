"""In-silico mutagenesis: every single-base substitution of some regions, scored by a model.

A causal LM gives each substitution's change in the region's log-likelihood (as 'dnalm
score-variants' scores a variant in a window the size of the region), a masked LM its
masked marginal (the tokens the substitution changes masked together in the region, with
overlapping k-mers every token holding the base; log p(alt) - log p(ref) summed over
them, as score-variants scores it), a fine-tuned classifier the change in one class's logit and probability. The per-base tracks (the mean
effect of a base's three substitutions, the largest absolute one, and the reference base's
importance, minus the mean) go out as bedGraph and bigWig on genome coordinates.

Examples:
  dnalm mutagenesis model.zip --regions promoters.bed --genome hg38.fa -o effects.tsv \\
      --tracks tracks/ --plots plots/ --report report.html
  dnalm mutagenesis classifier.zip --sequences windows.fa --strand both -o effects.tsv
"""

import argparse
import os
import time
from pathlib import Path

from dnalm.commands.model_options import add_model_argument
from dnalm.commands.setting_options import add_setting_options, settings_from_args
from dnalm.errors import DnalmError
from dnalm.inference.mutagenesis import (
    MutagenesisScorer,
    MutagenesisSettings,
    effect_matrix,
    per_base_tracks,
)
from dnalm.io.html_report import write_html_report
from dnalm.io.model_archive import open_model
from dnalm.io.mutagenesis_plots import plot_region
from dnalm.io.outputs import atomic_outputs
from dnalm.io.reference_genome import open_genome
from dnalm.io.regions import bed_regions, fasta_regions
from dnalm.io.tracks import write_bedgraph, write_bigwig

TRACKS = {"mean_effect": "the mean effect of the three substitutions of each base",
          "max_abs_effect": "the substitution effect of the largest size at each base",
          "importance": "the reference base's importance: minus the mean effect"}
TOP_SUBSTITUTIONS = 10  # listed in the report


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_model_argument(parser)
    where = parser.add_argument_group("regions (either)")
    where.add_argument("--regions", metavar="BED", help="regions of --genome to mutate (BED)")
    where.add_argument("--genome", metavar="FASTA", help="the reference genome of --regions")
    where.add_argument("--sequences", metavar="FASTA",
                       help="or sequences to mutate whole, each its own region")
    parser.add_argument("-o", "--output", required=True,
                        help="effects table to write (TSV: chrom, pos, ref, alt, effect)")
    parser.add_argument("--tracks", metavar="DIR",
                        help="folder for the per-base tracks, each as .bedgraph and .bigwig")
    parser.add_argument("--plots", metavar="DIR",
                        help="folder for a heat map and logo (PNG) of each of the first regions")
    parser.add_argument("--report", metavar="HTML", help="a report to write (HTML)")
    add_setting_options(parser, MutagenesisSettings)


def run(args):
    settings = settings_from_args(MutagenesisSettings, args)
    if (args.sequences is None) == (args.regions is None):
        raise DnalmError("give either --regions with --genome, or --sequences")
    if args.regions is not None and args.genome is None:
        raise DnalmError("--regions are read from a genome: give --genome too")
    if args.regions is not None:
        with open_genome(args.genome) as genome:
            regions = bed_regions(args.regions, genome, settings.max_region_length)
            contig_lengths = dict(genome.lengths)
    else:
        regions = fasta_regions(args.sequences, settings.max_region_length)
        contig_lengths = {region.chrom: len(region.sequence) for region in regions}
    bases = sum(len(region.sequence) for region in regions)
    print(f"dnalm mutagenesis: {len(regions)} region(s), {bases:,} bp", flush=True)

    started = time.perf_counter()
    with open_model(args.model) as model_files:
        kind = _model_kind(model_files)
        record = model_files.record.summary() if model_files.record else None
        scorer = MutagenesisScorer(model_files, kind, settings.target_class, settings.batch_size)
        effects = [scorer.region_effects(region, settings.strand) for region in regions]
    seconds = time.perf_counter() - started
    count = sum(len(e.substitutions) for e in effects)
    print(f"dnalm mutagenesis: {count:,} substitutions scored in {seconds:.1f} s "
          f"({count / max(seconds, 1e-9):,.0f} per second)", flush=True)
    label = {"causal": "Δ log-likelihood (alt - ref)",
             "masked": "masked marginal, log p(alt) - log p(ref)"}.get(
        kind, f"Δ logit of class '{scorer.target_class}'")
    _write_outputs(args, settings, regions, effects, contig_lengths, kind, label,
                   {"substitutions": count, "seconds": seconds, "record": record})


def _model_kind(model_files):
    if model_files.has_classification_head:
        return "classifier"
    if model_files.has_lm_head:
        return model_files.objective  # causal or masked
    raise DnalmError(f"model {model_files.source} is a {model_files.architecture} checkpoint "
                     "with neither a language-model head nor a classification head: "
                     "mutagenesis needs one to score the substitutions")


def _write_outputs(args, settings, regions, effects, contig_lengths, kind, label, timing):
    tracks = [per_base_tracks(region, e) for region, e in zip(regions, effects)]
    track_files = ([Path(args.tracks) / f"{name}.{ext}" for name in TRACKS
                    for ext in ("bedgraph", "bigwig")] if args.tracks else [])
    drawn = list(zip(regions, effects, tracks))[:settings.plot_regions] if args.plots else []
    plot_files = [Path(args.plots) / f"{_file_name(region.name)}.png" for region, _, _ in drawn]
    targets = [args.output, args.report, *track_files, *plot_files]
    with atomic_outputs(*targets) as (table, report, *written):
        _write_table(table, regions, effects, kind)
        for name in TRACKS if args.tracks else ():
            values = [track[name] for track in tracks]
            write_bedgraph(written.pop(0), name, regions, values, TRACKS[name])
            write_bigwig(written.pop(0), regions, values, contig_lengths)
        for (region, region_effects, region_tracks), path in zip(drawn, written):
            plot_region(path, f"{region.name} ({region.chrom}:{region.start + 1:,}-"
                        f"{region.end:,})", region.sequence,
                        effect_matrix(region, region_effects), region_tracks["importance"], label)
        if report:
            figures = {f"{region.name}: substitution effects": path
                       for (region, _, _), path in zip(drawn[:3], written)}
            write_html_report(report, _report_sections(args, settings, regions, effects, kind,
                                                        label, timing), figures,
                              title="DNA LM in-silico mutagenesis")
    print(f"effects of {timing['substitutions']:,} substitutions written", flush=True)


def _write_table(path, regions, effects, kind):
    with open(path, "w") as stream:
        columns = ["chrom", "pos", "ref", "alt", "effect"]
        if kind == "classifier":
            columns.append("probability_change")
        stream.write("\t".join(columns) + "\n")
        for region, region_effects in zip(regions, effects):
            for row, change in enumerate(region_effects.substitutions):
                cells = [region.chrom, str(region.start + change.position + 1), change.ref,
                         change.alt, _number(region_effects.effect[row], kind)]
                if kind == "classifier":
                    cells.append(f"{region_effects.probability_change[row]:.8g}")
                stream.write("\t".join(cells) + "\n")


def _number(value, kind):
    """Log-likelihood changes to 1e-6, as score-variants writes them; logits to 8 digits."""
    return f"{value:.8g}" if kind == "classifier" else f"{value:.6f}"


def _report_sections(args, settings, regions, effects, kind, label, timing):
    ranked = sorted(((abs(value), region, change, value)
                     for region, e in zip(regions, effects)
                     for change, value in zip(e.substitutions, e.effect)),
                    key=lambda item: -item[0])[:TOP_SUBSTITUTIONS]
    return {
        "Input": {"regions": len(regions),
                  "bases": sum(len(region.sequence) for region in regions),
                  "substitutions": timing["substitutions"],
                  "model": os.path.basename(args.model),
                  "model kind": kind, "effect": label, "strand": settings.strand,
                  **({"installed model": timing["record"]} if timing["record"] else {})},
        "Largest effects": {f"{region.chrom}:{region.start + change.position + 1} "
                            f"{change.ref}>{change.alt} ({region.name})": _number(value, kind)
                            for _, region, change, value in ranked},
        "Speed": {"seconds": f"{timing['seconds']:.1f}",
                  "substitutions per second": f"{timing['substitutions'] / max(timing['seconds'], 1e-9):,.0f}"},
    }


def _file_name(name):
    """A region name as a file name Galaxy's collection discovery reads as one element."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
