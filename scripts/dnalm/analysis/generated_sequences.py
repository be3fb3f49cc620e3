"""Is generated DNA like real DNA, and is it new? Generated sets against real genome windows.

The measures of the GTN generation tutorial, for any number of generated sets (one per
sampling temperature, say) and real windows of the genome the model learnt from:

* k-mer counts (k = 4 by default) per sequence; a PCA fitted on the real windows' k-mer
  frequencies, each set projected onto it (generated DNA that looks real falls among
  the real windows);
* the mean k-mer variance of a set: each k-mer's frequency varies across the set's
  sequences; the mean of those variances (near 0 for a set of near-identical sequences,
  as a cold temperature gives);
* novelty: the longest stretch of each sequence found exactly in the genome (either
  strand), and the share of its 12-mers that occur nowhere in the genome;
* open reading frames: the longest ATG...stop on either strand of each sequence.

The genome is held as 2-bit codes: a bitmap of every 12-mer it holds (16 MB, both
strands) answers "absent?", and its 12-mers sorted (an index of 8 bytes a base) seed
the exact matches, which are then extended base by base.
"""

from dataclasses import dataclass

import numpy as np

from dnalm.errors import DnalmError
from dnalm.io.windows import reverse_complement
from dnalm.settings import check_settings, setting

SEED = 12  # the k of the novelty measures: 4**12 = 16.7 M possible 12-mers
_CODES = np.full(256, 255, dtype=np.uint8)
for _code, _base in enumerate(b"ACGT"):
    _CODES[_base] = _code
STOP_CODONS = ("TAA", "TAG", "TGA")


def encoded(sequence):
    """2-bit codes of ``sequence`` (A0 C1 G2 T3); any other letter is 255."""
    return _CODES[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]


def kmer_codes(codes, k):
    """The code of each k-mer starting at 0..len-k (base 4), and whether it holds only ACGT.

    Built one base column at a time, so a genome's codes take 8 bytes a base, not 8 k.
    """
    count = len(codes) - k + 1
    if count < 1:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    values, valid = np.zeros(count, np.int64), np.ones(count, bool)
    for offset in range(k):
        column = codes[offset:offset + count]
        known = column != 255
        valid &= known
        values *= 4
        values += np.where(known, column, 0)
    return values, valid


def kmer_counts(sequences, k=4):
    """An (n, 4**k) matrix: how often each k-mer occurs in each sequence (k-mers with N left out)."""
    counts = np.zeros((len(sequences), 4 ** k))
    for row, sequence in enumerate(sequences):
        values, valid = kmer_codes(encoded(sequence), k)
        np.add.at(counts[row], values[valid], 1)
    return counts


def frequencies(counts):
    totals = counts.sum(axis=1, keepdims=True)
    return counts / np.maximum(totals, 1)


def mean_kmer_variance(counts):
    """The mean over k-mers of each k-mer frequency's variance across the sequences."""
    return float(frequencies(counts).var(axis=0).mean())


class GenomeKmers:
    """The 12-mers of a genome: a bitmap of those present (either strand) and a sorted index."""

    def __init__(self, contigs):
        """``contigs``: the genome's sequences (uppercase), in any order."""
        self.codes = np.concatenate([np.append(encoded(c), np.uint8(255)) for c in contigs])
        forward, valid = kmer_codes(self.codes, SEED)
        self.present = np.zeros(4 ** SEED, dtype=bool)
        self.present[forward[valid]] = True
        # The reverse strand's 12-mers are the reverse complements of the forward ones.
        self.present[_reverse_complement_codes(forward[valid], SEED)] = True
        self.starts = np.flatnonzero(valid)  # positions of the valid forward 12-mers
        order = np.argsort(forward[valid], kind="stable")
        self.sorted_codes = forward[valid][order].astype(np.uint32)  # 4**12 fits in 32 bits
        self.sorted_starts = self.starts[order].astype(np.int64)

    def absent_share(self, sequence):
        """The share of ``sequence``'s 12-mers (ACGT only) that the genome holds on neither strand."""
        values, valid = kmer_codes(encoded(sequence), SEED)
        if not valid.any():
            return float("nan")
        return float(1 - self.present[values[valid]].mean())

    def longest_match(self, sequence):
        """The longest stretch of ``sequence`` found exactly in the genome, on either strand."""
        return max(self._longest_forward(sequence), self._longest_forward(
            reverse_complement(sequence)))

    def _longest_forward(self, sequence):
        query = encoded(sequence)
        values, valid = kmer_codes(query, SEED)
        values = values.astype(self.sorted_codes.dtype)  # else numpy converts the whole index
        lows = np.searchsorted(self.sorted_codes, values, side="left")
        highs = np.searchsorted(self.sorted_codes, values, side="right")
        best = 0
        # Left to right: a match is found from its first seed, extended to the right.
        for position in np.flatnonzero(valid & (highs > lows)):
            if len(query) - position <= best:
                break
            for start in self.sorted_starts[lows[position]:highs[position]]:
                best = max(best, SEED + self._extend(query, position + SEED, start + SEED))
        return best or self._longest_short(query)

    def _extend(self, query, at_query, at_genome):
        """How many more bases match after a seed, comparing 64 bases at a time."""
        length = 0
        while at_query + length < len(query):
            chunk = min(64, len(query) - at_query - length)
            a = query[at_query + length:at_query + length + chunk]
            b = self.codes[at_genome + length:at_genome + length + chunk]
            if len(b) < len(a):
                a = a[:len(b)]
            differ = np.flatnonzero((a != b) | (a == 255))
            if len(differ):
                return length + int(differ[0])
            length += len(a)
            if len(a) < chunk:
                break
        return length

    def _longest_short(self, query):
        """Below the seed length: the longest k < 12 with some k-mer of the query present."""
        for k in range(SEED - 1, 0, -1):
            values, valid = kmer_codes(query, k)
            present_k = self.present.reshape(4 ** k, -1).any(axis=1)
            if valid.any() and present_k[values[valid]].any():
                return k
        return 0


def _reverse_complement_codes(values, k):
    """The codes of the reverse complements of the k-mers ``values``."""
    result = np.zeros_like(values)
    remaining = values.copy()
    for _ in range(k):
        result = result * 4 + (3 - remaining % 4)
        remaining //= 4
    return result


def longest_orf(sequence):
    """The length (bp, stop codon included) of the longest ATG...stop on either strand; 0 if none."""
    best = 0
    for strand in (sequence, reverse_complement(sequence)):
        for frame in range(3):
            start = None
            for position in range(frame, len(strand) - 2, 3):
                codon = strand[position:position + 3]
                if start is None and codon == "ATG":
                    start = position
                elif start is not None and codon in STOP_CODONS:
                    best = max(best, position + 3 - start)
                    start = None
    return best


@dataclass
class ComparisonSettings:
    k: int = setting(4, "k of the k-mer counts, the PCA and the k-mer variance", min=1, max=8)
    real_windows: int = setting(500, "real windows drawn from the genome", min=2, max=100_000)
    seed: int = setting(1, "seed of the real windows' draw")
    max_genome_mbp: float = setting(200.0, "the largest genome indexed for the novelty "
                                    "measures, in Mbp (about 60 MB of memory a Mbp)",
                                    above=0, max=4000)

    def __post_init__(self):
        check_settings(self)


@dataclass
class SetSummary:
    name: str
    sequences: int
    mean_length: float
    mean_kmer_variance: float
    mean_longest_match: float
    median_longest_match: float
    mean_absent_12mers: float
    mean_longest_orf: float


def real_windows(contigs, length, count, seed=1):
    """``count`` windows of ``length`` bp drawn at random from the contigs (no N), seeded."""
    rng = np.random.default_rng(seed)
    usable = [(name, sequence) for name, sequence in contigs if len(sequence) >= length]
    if not usable:
        raise DnalmError(f"the genome has no contig of {length} bp or more, the generated "
                         "sequences' length: no real windows to compare with")
    sizes = np.array([len(sequence) - length + 1 for _, sequence in usable], dtype=float)
    windows, tries = [], 0
    while len(windows) < count and tries < count * 20:
        tries += 1
        name, sequence = usable[rng.choice(len(usable), p=sizes / sizes.sum())]
        start = int(rng.integers(0, len(sequence) - length + 1))
        window = sequence[start:start + length]
        if "N" not in window:
            windows.append((f"{name}:{start}-{start + length}", window))
    if not windows:
        raise DnalmError(f"the genome has no window of {length} bp without N, the generated "
                         "sequences' length: no real windows to compare with")
    return windows
