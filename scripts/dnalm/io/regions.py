"""Regions to mutate base by base: BED intervals over a reference genome, or FASTA records.

A ``Region`` carries its bases and where they sit: ``chrom`` and 0-based ``start``
on the genome (for FASTA records, the record's id and 0, so a record is its own
"contig"). Each region is checked as it is read, with one line naming it: a contig
missing from the genome, an interval past the contig's end or empty, a region over
the length cap (every base costs three forward passes), regions that overlap (their
per-base tracks would disagree where they meet).
"""

from typing import NamedTuple

from dnalm.errors import DnalmError
from dnalm.io.sequences import open_text, read_sequences


class Region(NamedTuple):
    name: str
    chrom: str
    start: int  # 0-based, on the genome (or the record)
    sequence: str

    @property
    def end(self):
        return self.start + len(self.sequence)


class BedInterval(NamedTuple):
    line: int  # 1-based line of the file, for messages
    chrom: str
    start: int
    end: int
    name: str  # the 4th column, or chrom:start-end


def bed_intervals(path):
    """Yield the ``BedInterval``s of a BED file (plain or gzip; 3 columns or more), in order.

    ``track``, ``browser`` and ``#`` lines are skipped, as genome browsers write them.
    """
    with open_text(path) as stream:
        for line_number, line in enumerate(stream, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            cells = line.rstrip("\n").split("\t")
            where = f"{path} line {line_number}"
            if len(cells) < 3:
                raise DnalmError(f"{where}: a BED line needs chrom, start and end, tab-separated")
            chrom, start, end = cells[0], _coordinate(cells[1], where), _coordinate(cells[2], where)
            name = cells[3] if len(cells) > 3 and cells[3] not in ("", ".") else \
                f"{chrom}:{start}-{end}"
            yield BedInterval(line_number, chrom, start, end, name)


def bed_regions(path, genome, max_length):
    """The ``Region``s of a BED file on ``genome`` (an open ``ReferenceGenome``), in order."""
    regions = []
    for interval in bed_intervals(path):
        chrom, start, end, name = interval.chrom, interval.start, interval.end, interval.name
        where = f"{path} line {interval.line}"
        if chrom not in genome.lengths:
            names = list(genome.lengths)
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise DnalmError(f"{where}: region '{name}' is on '{chrom}', which is not in the "
                             f"genome (its contigs: {shown})")
        if end > genome.lengths[chrom]:
            raise DnalmError(f"{where}: region '{name}' ends at {end}, past the end of "
                             f"'{chrom}' ({genome.lengths[chrom]} bp)")
        if end <= start:
            raise DnalmError(f"{where}: region '{name}' is empty (start {start}, end {end})")
        _check_length(name, end - start, max_length, where)
        regions.append(Region(name, chrom, start, genome.fetch(chrom, start, end)))
    return _checked(regions, path)


def fasta_regions(path, max_length):
    """Each FASTA (or other sequence file) record as a ``Region`` of its own."""
    regions = []
    for number, record in enumerate(read_sequences(path, iupac_policy="to-n"), start=1):
        _check_length(record.id, len(record.sequence), max_length,
                      f"{path} record {number}")
        regions.append(Region(record.id, record.id, 0, record.sequence))
    return _checked(regions, path)


def _coordinate(text, where):
    try:
        value = int(text)
    except ValueError:
        raise DnalmError(f"{where}: '{text}' is not a BED coordinate (a whole number)") from None
    if value < 0:
        raise DnalmError(f"{where}: the coordinate {value} is negative")
    return value


def _check_length(name, length, max_length, where):
    if length > max_length:
        raise DnalmError(f"{where}: region '{name}' is {length:,} bp, over the cap of "
                         f"{max_length:,} bp (each base costs three model passes: split it, or "
                         "raise --max-region-length)")


def _checked(regions, path):
    """``regions``, refused when there are none or two of them overlap."""
    if not regions:
        raise DnalmError(f"{path} holds no regions")
    placed = sorted(regions, key=lambda region: (region.chrom, region.start))
    for before, after in zip(placed, placed[1:]):
        if before.chrom == after.chrom and after.start < before.end:
            raise DnalmError(f"{path}: regions '{before.name}' and '{after.name}' overlap; "
                             "per-base tracks need regions that do not")
    return regions
