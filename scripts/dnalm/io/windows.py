"""Genome mode: cut long records into fixed windows, as the tutorial's data were made.

Windows are non-overlapping, ``window`` bp long, and named after their source
record and coordinates in the style of ``bedtools getfasta``: ``chr1:1000-1200``
is 0-based and half-open (bases 1001..1200 in 1-based counting). Each window
also carries its record's id as ``source``, which the token table keeps (see
``dnalm.io.token_table``). Sequences arrive already uppercased by
``dnalm.io.sequences``, so soft-masked (lowercase) repeats are kept as ordinary
bases, and with IUPAC ambiguity letters (R, Y, ...) read as N (what ``dnalm
tokenize`` asks for in genome mode), so they count as N here.

Records arrive as pieces (``SequencePiece``, about a megabase each) and are
windowed piece by piece, carrying the unfinished window over to the next
piece: a 250 Mbp chromosome is never held whole.

Windows with N are either dropped (``drop``: the tutorial's choice) or avoided
by cutting each N-free stretch separately (``split``). A stretch's tail shorter
than the window is dropped. ``GenomeWindowCounts`` says how many of each.
"""

import re
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter
from typing import NamedTuple

N_POLICIES = ("drop", "split")
_N_FREE = re.compile("[^N]+")
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


class Window(NamedTuple):
    id: str  # RECORD:START-END
    sequence: str
    source: str  # the record's id


@dataclass
class GenomeWindowCounts:
    records: int = 0
    kept: int = 0
    dropped_with_n: int = 0
    dropped_short: int = 0
    bp_in_n_runs: int = 0


def genome_windows(pieces, window=200, n_policy="drop", counts=None):
    """Yield one ``Window`` per kept window of every record, in order.

    ``pieces`` are ``SequencePiece``s (``dnalm.io.sequences.read_sequence_pieces``).
    """
    if n_policy not in N_POLICIES:
        raise ValueError(f"n_policy must be one of {N_POLICIES}")
    counts = counts if counts is not None else GenomeWindowCounts()
    for _, record_pieces in groupby(pieces, key=attrgetter("number")):
        counts.records += 1
        yield from _record_windows(record_pieces, window, n_policy == "split", counts)


def _record_windows(pieces, window, split, counts):
    """The windows of one record's pieces; ``carry`` is the unfinished window so far."""
    carry = ""
    for piece in pieces:
        counts.bp_in_n_runs += piece.sequence.count("N")
        # text[0] is at position base of the record
        text, base, record_id = carry + piece.sequence, piece.start - len(carry), piece.id
        has_n = "N" in text
        # Each N-free stretch has its own window grid (split); drop keeps one grid.
        stretches = [m.span() for m in _N_FREE.finditer(text)] if split and has_n else [(0, len(text))]
        carry = ""
        for stretch_start, stretch_end in stretches:
            full_end = stretch_start + (stretch_end - stretch_start) // window * window
            for start in range(stretch_start, full_end, window):
                sequence = text[start : start + window]
                if has_n and "N" in sequence:
                    counts.dropped_with_n += 1
                    continue
                counts.kept += 1
                position = base + start
                yield Window(f"{record_id}:{position}-{position + window}", sequence, record_id)
            if stretch_end == len(text):  # the stretch may go on in the next piece
                carry = text[full_end:]
            elif full_end < stretch_end:
                counts.dropped_short += 1
    if carry:
        counts.dropped_short += 1


def reverse_complement(sequence):
    return sequence.translate(_COMPLEMENT)[::-1]


def with_reverse_complements(records):
    """Follow every record by its reverse complement, id suffixed ``(-)`` as bedtools does.

    Anything else a record carries (a window's ``source``) is the same for both strands.
    """
    for record in records:
        yield record
        yield record._replace(id=f"{record.id}(-)", sequence=reverse_complement(record.sequence))
