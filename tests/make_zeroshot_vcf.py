"""The zero-shot tutorial's pairs as a genome and a VCF (test-data/zeroshot_genome.fa and
test-data/zeroshot_variants.vcf), for `dnalm score-variants`.

The pairs (test-data/zeroshot_{exon,intron}_{ref,alt}.fasta.gz: 201-bp windows, the
substitution at offset 100) are laid end to end on one contig, N spacers between them;
each pair gives one VCF record at its window's centre, INFO REGION=exon or intron.
With W = 201 the windows of `dnalm score-variants` are the pairs themselves.

  .venv/bin/python tests/make_zeroshot_vcf.py test-data
"""

import sys
from pathlib import Path

from dnalm.io.sequences import read_sequences

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
GROUPS = ("exon", "intron")
SPACER = "N" * 37  # not a multiple of 201 or of a line: no window lines up by chance
CONTIG = "zeroshot"
VCF_HEADER = (
    "##fileformat=VCFv4.2\n"
    "##source=dnalm tests/make_zeroshot_vcf.py (the GTN zero-shot tutorial's first 100 exon "
    "and 100 intron SNPs)\n"
    '##INFO=<ID=REGION,Number=1,Type=String,Description="exon or intron">\n'
    "##contig=<ID={contig},length={length}>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def read_windows(path):
    return [record.sequence for record in read_sequences(path, "fasta")]


def zeroshot_genome_and_vcf(folder, groups=GROUPS):
    """Write ``zeroshot_genome.fa`` and ``zeroshot_variants.vcf`` in ``folder``.

    Returns ``(genome, vcf, pairs)``: the paths, and the ``(ref, alt)`` windows in VCF order.
    """
    folder = Path(folder)
    contig, records, pairs = SPACER, [], []
    for group in groups:
        refs = read_windows(TEST_DATA / f"zeroshot_{group}_ref.fasta.gz")
        alts = read_windows(TEST_DATA / f"zeroshot_{group}_alt.fasta.gz")
        for number, (ref, alt) in enumerate(zip(refs, alts), start=1):
            assert ref[:100] + ref[101:] == alt[:100] + alt[101:], "one substitution at offset 100"
            records.append(f"{CONTIG}\t{len(contig) + 101}\t{group}{number}\t{ref[100]}\t"
                           f"{alt[100]}\t.\t.\tREGION={group}\n")
            contig += ref + SPACER
            pairs.append((ref, alt))
    genome, vcf = folder / "zeroshot_genome.fa", folder / "zeroshot_variants.vcf"
    lines = [contig[i:i + 80] + "\n" for i in range(0, len(contig), 80)]
    genome.write_text(f">{CONTIG}\n" + "".join(lines))
    vcf.write_text(VCF_HEADER.format(contig=CONTIG, length=len(contig)) + "".join(records))
    return genome, vcf, pairs


if __name__ == "__main__":
    zeroshot_genome_and_vcf(sys.argv[1] if len(sys.argv) > 1 else TEST_DATA)
