"""A reference genome (FASTA) read base by base through htslib's index, via pysam.

The ``.fai`` index beside the genome is used when there is one (built-in genomes
usually ship it); otherwise one is built in a temporary folder, so that nothing is
ever written beside the user's file (a Galaxy dataset may be read-only).
"""

import contextlib
import os
import tempfile

from dnalm.errors import DnalmError
from dnalm.io.sequences import AMBIGUITY_LETTERS

# Ambiguity letters become N (windows holding N are counted).
_AMBIGUITY_TO_N = str.maketrans(AMBIGUITY_LETTERS, "N" * len(AMBIGUITY_LETTERS))


@contextlib.contextmanager
def quiet_htslib():
    """htslib's own warnings off: a failure reaches the user as one ``DnalmError`` line."""
    import pysam

    previous = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(previous)


class ReferenceGenome:
    """Contig names, lengths and uppercase slices of an indexed FASTA."""

    def __init__(self, fasta):
        self._fasta = fasta
        self.lengths = dict(zip(fasta.references, fasta.lengths))

    def fetch(self, contig, start, end):
        """Bases ``start`` to ``end`` (0-based, end excluded); soft-masking is read as bases."""
        return self._fasta.fetch(contig, start, end).upper().translate(_AMBIGUITY_TO_N)


@contextlib.contextmanager
def open_genome(path):
    """Yield a ``ReferenceGenome``; a file that is not an indexable FASTA is one error line."""
    import pysam

    path = str(path)
    if not os.path.isfile(path):
        raise DnalmError(f"genome {path} does not exist")
    if os.path.getsize(path) == 0:
        raise DnalmError(f"genome {path} is empty: a FASTA reference genome is needed")
    with tempfile.TemporaryDirectory(prefix="dnalm-fai-") as folder, quiet_htslib():
        index = path + ".fai"
        if not (os.path.isfile(index) and os.path.getmtime(index) >= os.path.getmtime(path)):
            index = os.path.join(folder, "genome.fai")
            try:
                pysam.faidx(path, "--fai-idx", index)
            except pysam.utils.SamtoolsError:
                raise DnalmError(
                    f"genome {path} cannot be indexed: it must be a FASTA file, plain or "
                    "bgzip-compressed (not gzip), with one '>name' line per contig"
                ) from None
        with pysam.FastaFile(path, filepath_index=index) as fasta:
            if fasta.nreferences == 0 or not any(fasta.lengths):
                raise DnalmError(f"genome {path} holds no sequence")
            yield ReferenceGenome(fasta)
