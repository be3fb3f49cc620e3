"""Variant calls from a VCF (plain or bgzipped), read by htslib through pysam.

Each record gives its CHROM, POS, ID, REF, its ALT alleles and the INFO fields asked
for. A line htslib cannot parse stops the reading with one line naming the record.
"""

from dataclasses import dataclass

from dnalm.errors import DnalmError
from dnalm.io.reference_genome import quiet_htslib

# How a VCF's contig names map onto the genome's: as they are, or with the
# 'chr' prefix of UCSC names added or removed (chrM <-> MT included).
CHR_PREFIXES = ("keep", "add", "strip")


@dataclass(frozen=True)
class VariantCall:
    number: int  # 1-based record number in the VCF
    chrom: str
    pos: int  # 1-based position of the first REF base
    id: str
    ref: str
    alts: tuple  # () for a record without ALT ('.')
    info: tuple  # the asked INFO fields' values, as VCF text ('.' when absent)

    @property
    def name(self):
        label = f"{self.chrom}:{self.pos}"
        return f"{label} ({self.id})" if self.id != "." else label


def is_symbolic(allele):
    """A structural allele (``<DEL>``, ``<*>``), the spanning deletion ``*`` or a breakend."""
    return (allele.startswith("<") or allele == "*" or "[" in allele or "]" in allele
            or allele.startswith(".") or allele.endswith("."))


def renamed_contig(name, chr_prefix):
    """``name`` as the genome calls it under ``chr_prefix`` (see ``CHR_PREFIXES``)."""
    if chr_prefix == "add" and not name.startswith("chr"):
        return "chrM" if name == "MT" else "chr" + name
    if chr_prefix == "strip" and name.startswith("chr"):
        return "MT" if name == "chrM" else name[3:]
    return name


def read_variant_calls(path, info_fields=()):
    """Yield ``VariantCall``s in file order; a header-only VCF yields none."""
    import pysam

    with quiet_htslib():
        try:
            vcf = pysam.VariantFile(str(path))
        except (ValueError, OSError):
            raise DnalmError(f"{path} is not a VCF file (plain or bgzipped) that htslib can read") from None
        with vcf:
            declared = set(vcf.header.info)
            for field in info_fields:
                if field not in declared:
                    listed = ", ".join(sorted(declared)) or "none"
                    raise DnalmError(f"{path}: INFO field '{field}' is not declared in the header "
                                     f"(declared: {listed})")
            number = 0
            records = iter(vcf)
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    return
                except (ValueError, OSError):
                    raise DnalmError(f"{path}: record {number + 1} (line after "
                                     f"{_last(number)}) is not a valid VCF line") from None
                number += 1
                yield VariantCall(
                    number, record.chrom, record.pos, record.id or ".", record.ref.upper(),
                    tuple(alt.upper() for alt in record.alts or ()),
                    tuple(_info_text(record.info.get(field)) for field in info_fields),
                )


def _last(number):
    return f"record {number}" if number else "the header"


def _info_text(value):
    if value is None:
        return "."
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join("." if v is None else str(v) for v in value)
    return str(value)
