"""Genome mode: cut long records into fixed windows, as the tutorial's data were made.

Windows are non-overlapping, ``window`` bp long, and named after their source
record and coordinates in the style of ``bedtools getfasta``: ``chr1:1000-1200``
is 0-based and half-open (bases 1001..1200 in 1-based counting). Sequences
arrive already uppercased by ``dnalm.io.sequences``, so soft-masked (lowercase)
repeats are kept as ordinary bases, and with IUPAC ambiguity letters (R, Y, ...)
read as N (what ``dnalm tokenize`` asks for in genome mode), so they count as N here.

Windows with N are either dropped (``drop``: the tutorial's choice) or avoided
by cutting each N-free stretch separately (``split``). A stretch's tail shorter
than the window is dropped. ``WindowCounts`` says how many of each.
"""

import re
from dataclasses import dataclass

from dnalm.io.sequences import SequenceRecord

N_POLICIES = ("drop", "split")
_N_RUN = re.compile("N+")
_N_FREE = re.compile("[^N]+")
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


@dataclass
class WindowCounts:
    records: int = 0
    kept: int = 0
    dropped_with_n: int = 0
    dropped_short: int = 0
    bp_in_n_runs: int = 0


def genome_windows(records, window=200, n_policy="drop", counts=None):
    """Yield one ``SequenceRecord`` per kept window of every record, in order."""
    if n_policy not in N_POLICIES:
        raise ValueError(f"n_policy must be one of {N_POLICIES}")
    counts = counts if counts is not None else WindowCounts()
    for record in records:
        counts.records += 1
        sequence = record.sequence
        counts.bp_in_n_runs += sum(len(run) for run in _N_RUN.findall(sequence))
        if n_policy == "drop":
            stretches = [(0, len(sequence))]
        else:
            stretches = [match.span() for match in _N_FREE.finditer(sequence)]
        for stretch_start, stretch_end in stretches:
            start = stretch_start
            while start + window <= stretch_end:
                piece = sequence[start : start + window]
                if "N" in piece:
                    counts.dropped_with_n += 1
                else:
                    counts.kept += 1
                    yield SequenceRecord(f"{record.id}:{start}-{start + window}", piece)
                start += window
            if start < stretch_end:
                counts.dropped_short += 1


def reverse_complement(sequence):
    return sequence.translate(_COMPLEMENT)[::-1]


def with_reverse_complements(records):
    """Follow every record by its reverse complement, id suffixed ``(-)`` as bedtools does."""
    for record in records:
        yield record
        yield SequenceRecord(f"{record.id}(-)", reverse_complement(record.sequence))
