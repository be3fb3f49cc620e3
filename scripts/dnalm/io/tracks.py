"""Per-base tracks on genome coordinates, as bedGraph (text) and bigWig (pyBigWig).

A track is a value per base of some regions; a base without a value (NaN: an N
that was not mutated) is left out. Galaxy, UCSC and IGV display both formats;
bigWig is indexed and compressed, for long regions and remote browsing.
"""

import numpy as np


def write_bedgraph(path, name, regions, values, description=""):
    """One ``chrom start end value`` line per base of each region (0-based, end excluded)."""
    with open(path, "w") as stream:
        stream.write(f'track type=bedGraph name="{name}" description="{description}"\n')
        for region, region_values in _placed(regions, values):
            for offset, value in enumerate(region_values):
                if not np.isnan(value):
                    position = region.start + offset
                    stream.write(f"{region.chrom}\t{position}\t{position + 1}\t{value:.8g}\n")


def write_bigwig(path, regions, values, contig_lengths):
    """The same per-base values as a bigWig; ``contig_lengths`` is its header, in order."""
    import pyBigWig

    bigwig = pyBigWig.open(str(path), "w")
    try:
        bigwig.addHeader(list(contig_lengths.items()))
        for region, region_values in _placed(regions, values, list(contig_lengths)):
            kept = ~np.isnan(region_values)
            if kept.any():
                starts = (region.start + np.flatnonzero(kept)).tolist()
                bigwig.addEntries([region.chrom] * len(starts), starts,
                                  ends=[start + 1 for start in starts],
                                  values=region_values[kept].astype(float).tolist())
    finally:
        bigwig.close()


def _placed(regions, values, contigs=None):
    """``(region, values)`` by contig (in ``contigs``' order, else as first seen), then start:
    the order a bigWig must be written in, and the one a genome browser reads best."""
    order = {}
    for contig in contigs or [region.chrom for region in regions]:
        order.setdefault(contig, len(order))
    return sorted(zip(regions, values), key=lambda pair: (order[pair[0].chrom], pair[0].start))
