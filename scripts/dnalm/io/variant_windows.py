"""Reference and alternative windows of W bp around each VCF variant.

For a variant whose first REF base is at 0-based ``p`` on a contig of ``L`` bp:

* the reference window is the genome from ``p - (W - 1) // 2``, W bp long, so a
  201-bp window puts the variant at offset 100, as the zero-shot tutorial's pairs;
* the alternative window keeps the same left flank, puts ALT in place of REF, and
  is filled to W bp from the genome after REF: SNVs, MNVs and indels all give W bp;
* a window that would cross the contig's start or end is shifted inside the contig
  (``shift``: bp moved, + to the right, - to the left; 0 for most variants).

A record gives one window pair per ALT. Symbolic alleles and breakends cannot be
spelled out as bases: they are skipped and counted, as are records whose REF differs
from the genome when asked to skip them (by default they stop the job). The counts
also keep why each skipped ALT was skipped, for the output VCF to say so.
"""

from collections import Counter
from dataclasses import dataclass

from dnalm.errors import DnalmError
from dnalm.io.sequences import SequenceRecord
from dnalm.io.variant_calls import is_symbolic, renamed_contig

REF_MISMATCH_POLICIES = ("error", "skip")
DEFAULT_WIDTH = 201  # the zero-shot tutorial's windows


@dataclass(frozen=True)
class VariantWindow:
    call: object  # the VariantCall
    alt: str
    alt_index: int  # 0-based among the record's ALTs
    start: int  # 1-based genome position of the windows' first base
    shift: int
    ref: SequenceRecord
    alt_window: SequenceRecord


# Why an ALT got no window: the words the output VCF's DNALM_SKIPPED field holds.
SKIP_REASONS = {"symbolic": "a symbolic allele or breakend",
                "ref_mismatch": "REF differs from the genome",
                "short_contig": "the contig is shorter than the window"}


class VariantWindowCounts(Counter):
    """What the windows' reading met: records, ALTs skipped and why, windows with N.

    ``skipped`` maps ``(record number, ALT index)`` to the ``SKIP_REASONS`` key of
    each ALT that got no window.
    """

    def __init__(self):
        super().__init__()
        self.skipped = {}

    def skip(self, call, alt_indices, reason):
        self.skipped.update(((call.number, index), reason) for index in alt_indices)

    def summary(self):
        parts = [f"{self['records']} VCF records", f"{self['windows']} ref/alt window pairs"]
        for key, text in (("symbolic", "symbolic or breakend ALTs skipped"),
                          ("no_alt", "records without ALT skipped"),
                          ("ref_mismatch", "records whose REF differs from the genome skipped"),
                          ("short_contig", "ALTs on contigs too short for a window skipped"),
                          ("with_n", "windows holding N (scored)"),
                          ("shifted", "windows shifted inside a contig end")):
            if self[key]:
                parts.append(f"{self[key]} {text}")
        return ", ".join(parts)


def variant_windows(calls, genome, width=DEFAULT_WIDTH, ref_mismatch="error", chr_prefix="keep",
                    counts=None):
    """Yield one ``VariantWindow`` per spelled-out ALT of ``calls``; tally in ``counts``."""
    if width < 1:
        raise DnalmError(f"the window width must be at least 1 bp, not {width}")
    if ref_mismatch not in REF_MISMATCH_POLICIES:
        raise DnalmError(f"unknown REF mismatch policy '{ref_mismatch}'")
    counts = VariantWindowCounts() if counts is None else counts
    for call in calls:
        counts["records"] += 1
        contig = _genome_contig(call, genome, chr_prefix)
        length = genome.lengths[contig]
        first = call.pos - 1
        if not _ref_matches(call, genome, contig, first, length, ref_mismatch):
            counts["ref_mismatch"] += 1
            counts.skip(call, range(len(call.alts)), "ref_mismatch")
            continue
        if not call.alts:
            counts["no_alt"] += 1
        for alt_index, alt in enumerate(call.alts):
            if is_symbolic(alt):
                counts["symbolic"] += 1
                counts.skip(call, [alt_index], "symbolic")
                continue
            if alt.strip("ACGTN"):
                raise DnalmError(f"variant {call.name}: ALT '{alt}' is not a DNA sequence (A, C, G, T, N)")
            window = _window(call, alt, alt_index, genome, contig, first, length, width)
            if window is None:
                counts["short_contig"] += 1
                counts.skip(call, [alt_index], "short_contig")
                continue
            counts["windows"] += 1
            counts["shifted"] += window.shift != 0
            counts["with_n"] += "N" in window.ref.sequence or "N" in window.alt_window.sequence
            yield window


def _window(call, alt, alt_index, genome, contig, first, length, width):
    """The pair, shifted inside the contig; None when the contig cannot hold it."""
    wanted = first - (width - 1) // 2
    # The ref window ends at start + W; the alt window reads the genome up to
    # start + W + len(REF) - len(ALT) (less for long insertions): both must fit.
    start = max(0, min(wanted, length - width, length - width - len(call.ref) + len(alt)))
    ref = genome.fetch(contig, start, start + width)
    room = max(0, width - (first - start) - len(alt))
    after = first + len(call.ref)
    spelled = (genome.fetch(contig, start, first) + alt + genome.fetch(contig, after, after + room))
    spelled = spelled[:width]
    if len(ref) < width or len(spelled) < width:
        return None
    name = f"{call.chrom}:{call.pos}:{call.ref}>{alt}"
    return VariantWindow(call, alt, alt_index, start + 1, start - wanted,
                         SequenceRecord(name, ref), SequenceRecord(name, spelled))


def _genome_contig(call, genome, chr_prefix):
    contig = renamed_contig(call.chrom, chr_prefix)
    if contig in genome.lengths:
        return contig
    hint = ""
    for option in ("add", "strip"):
        other = renamed_contig(call.chrom, option)
        if other != call.chrom and other in genome.lengths:
            hint = (f"; the genome names it '{other}' (UCSC 'chr1' vs Ensembl '1' naming): "
                    f"use --chr-prefix {option}")
    if not hint:
        names = list(genome.lengths)
        hint = f" (its contigs: {', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"
    shown = f"'{contig}'" + (f" (VCF '{call.chrom}')" if contig != call.chrom else "")
    raise DnalmError(f"variant {call.name}: contig {shown} is not in the genome{hint}")


def _ref_matches(call, genome, contig, first, length, policy):
    if first + len(call.ref) > length:
        found = f"the contig ends at {length}"
    else:
        bases = genome.fetch(contig, first, first + len(call.ref))
        if bases == call.ref:
            return True
        found = f"the genome has '{bases}'"
    if policy == "skip":
        return False
    raise DnalmError(f"variant {call.name}: REF is '{call.ref}' but {found} (is the VCF called "
                     "against this genome? --ref-mismatch skip skips such records)")
