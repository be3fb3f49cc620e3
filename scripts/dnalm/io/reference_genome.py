"""A reference genome (FASTA) read base by base through htslib's index, via pysam.

The ``.fai`` index beside the genome is used when there is one (built-in genomes
usually ship it); otherwise one is built in a temporary folder, so that nothing is
ever written beside the user's file (a Galaxy dataset may be read-only). htslib
indexes plain and bgzipped FASTA; a plain-gzip one (Galaxy's ``fasta.gz``) is first
unpacked into that folder.
"""

import contextlib
import gzip
import os
import shutil
import tempfile

from dnalm.errors import DnalmError
from dnalm.io.sequences import checked_sequence


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
        self._numbers = {contig: number for number, contig in enumerate(fasta.references, start=1)}

    def fetch(self, contig, start, end):
        """Bases ``start`` to ``end`` (0-based, end excluded), checked as ``dnalm tokenize``
        checks a genome: soft-masking read as bases, IUPAC ambiguity letters as N (windows
        holding N are counted), any other letter an error naming the contig and position."""
        bases = self._fasta.fetch(contig, start, end)
        if not bases:
            return bases
        return checked_sequence(bases, contig, self._numbers[contig], "to-n", start=start)


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
        readable = path
        if _is_plain_gzip(path):
            readable = os.path.join(folder, "genome.fa")
            with gzip.open(path, "rb") as packed, open(readable, "wb") as stream:
                shutil.copyfileobj(packed, stream, 1 << 20)
        index, gzi = _indexes(readable, folder, path)
        with pysam.FastaFile(readable, filepath_index=index, filepath_index_compressed=gzi) as fasta:
            if fasta.nreferences == 0 or not any(fasta.lengths):
                raise DnalmError(f"genome {path} holds no sequence")
            yield ReferenceGenome(fasta)


def _indexes(path, folder, source):
    """The (.fai, .gzi or None) of ``path``: its own when current, else built in ``folder``."""
    import pysam

    compressed = _is_gzip(path)
    own = (path + ".fai", path + ".gzi" if compressed else None)
    if all(i is None or (os.path.isfile(i) and os.path.getmtime(i) >= os.path.getmtime(path))
           for i in own):
        return own
    index, gzi = os.path.join(folder, "genome.fai"), os.path.join(folder, "genome.gzi")
    try:
        pysam.faidx(path, "--fai-idx", index, "--gzi-idx", gzi)
    except pysam.utils.SamtoolsError:
        raise DnalmError(f"genome {source} cannot be indexed: it must be a FASTA file (plain, "
                         "gzip or bgzip) with one '>name' line per contig") from None
    return index, gzi if compressed else None


def _is_gzip(path):
    with open(path, "rb") as stream:
        return stream.read(2) == b"\x1f\x8b"


def _is_plain_gzip(path):
    """gzip, but not BGZF (whose header carries a 'BC' extra field)."""
    with open(path, "rb") as stream:
        head = stream.read(16)
    return head[:2] == b"\x1f\x8b" and not (head[3] & 4 and head[12:14] == b"BC")
