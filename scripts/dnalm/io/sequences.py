"""Read DNA sequences from FASTA, FASTQ, CSV/TSV or plain text, one record at a time.

Every reader yields ``SequenceRecord(id, sequence)`` in input order, with the
sequence uppercased (soft-masked bases become ordinary bases) and checked to
hold only A, C, G, T and N. Repeated ids are kept as they are: real FASTA files
often name thousands of records ``>chr12``. IUPAC ambiguity letters (R, Y, K,
M, S, W, B, D, H, V) stop the reading unless ``iupac_policy="to-n"`` reads them
as N (and counts them in ``LetterCounts``).

``read_sequence_pieces`` reads the same records as consecutive pieces of at
most about a megabase each (``SequencePiece``), so that genome mode can window
a 250 Mbp chromosome without ever holding it whole: only FASTA records are
long enough to need it, other formats give one piece per record.

The format is detected from the content unless given: ``>`` starts FASTA, ``@``
followed by a ``+`` line two lines later FASTQ (its qualities are not used), a
tab in the first line means TSV, a comma CSV, otherwise one sequence per line.
Gzip is recognised by its magic bytes, whatever the file name.
"""

import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from typing import NamedTuple

from dnalm.errors import DnalmError
from dnalm.io.tables import delimiter_of, read_table

SEQUENCE_FORMATS = ("fasta", "fastq", "csv", "tsv", "txt")
# Column names tried, in order, when no --column is given: the tutorial's CSV
# calls its sequence column "text"; many others call it "sequence".
DEFAULT_COLUMNS = ("text", "sequence", "seq")
BASES = "ACGT"
ALLOWED_LETTERS = BASES + "N"
# IUPAC codes for two or three possible bases; real assemblies hold a few of them.
AMBIGUITY_LETTERS = "RYKMSWBDHV"
IUPAC_POLICIES = ("error", "to-n")
_NOT_ALLOWED = re.compile(f"[^{ALLOWED_LETTERS}]")
_NOT_ALLOWED_OR_AMBIGUOUS = re.compile(f"[^{ALLOWED_LETTERS}{AMBIGUITY_LETTERS}]")
_AMBIGUOUS = re.compile(f"[{AMBIGUITY_LETTERS}]")
_AMBIGUITY_TO_N = str.maketrans(AMBIGUITY_LETTERS, "N" * len(AMBIGUITY_LETTERS))
_ALLOWED_BYTES = ALLOWED_LETTERS.encode("ascii")
_GZIP_MAGIC = b"\x1f\x8b"
PIECE_BASES = 1 << 20  # a long record is read this many bases (about) at a time


class SequenceRecord(NamedTuple):
    id: str
    sequence: str


class FastaEntry(NamedTuple):
    """A FASTA record, or a piece of one: ``header`` is the text after ``>``."""

    header: str
    sequence: str
    number: int  # the record's 1-based number in the file: pieces of one record share it
    start: int  # 0-based position of ``sequence`` in its record

    @property
    def id(self):
        """The header's first word (``record<N>`` for a bare ``>``)."""
        return self.header.split(maxsplit=1)[0] if self.header.strip() else f"record{self.number}"


class SequencePiece(NamedTuple):
    """A stretch of one record: ``sequence`` starts at 0-based ``start`` of record ``number``."""

    id: str
    sequence: str
    start: int
    number: int  # the record's 1-based number in the file: pieces of one record share it


@dataclass
class LetterCounts:
    """IUPAC ambiguity letters read as N (``iupac_policy="to-n"``)."""

    ambiguous_bases: int = 0
    records_with_ambiguity: int = 0
    _last_record: int = field(default=0, compare=False, repr=False)  # counted once per record

    def add(self, record_number, bases):
        self.ambiguous_bases += bases
        if record_number != self._last_record:
            self.records_with_ambiguity += 1
            self._last_record = record_number


def read_sequences(path, input_format=None, column=None, id_column=None,
                   iupac_policy="error", letter_counts=None):
    """Yield ``SequenceRecord``s from ``path``; raise ``DnalmError`` on bad input.

    ``input_format`` is one of ``fasta``, ``fastq``, ``csv``, ``tsv``, ``txt`` or
    ``None`` (detect). ``column`` names the sequence column of a CSV/TSV (default:
    the first of ``text``, ``sequence``, ``seq`` present); ``id_column`` names an
    id column (default: ids are the 1-based row numbers). ``iupac_policy``
    ``error`` refuses ambiguity letters, ``to-n`` reads them as N and adds them
    up in ``letter_counts`` (a ``LetterCounts``) when one is given.
    """
    for piece in _checked_pieces(path, input_format, column, id_column, iupac_policy,
                                 letter_counts, piece_bases=None):
        yield SequenceRecord(piece.id, piece.sequence)


def read_sequence_pieces(path, input_format=None, column=None, id_column=None,
                         iupac_policy="error", letter_counts=None, piece_bases=PIECE_BASES):
    """Yield the records of ``path`` as ``SequencePiece``s, in order; options as ``read_sequences``.

    A FASTA record longer than ``piece_bases`` comes as several pieces, each
    checked as it is read (an error names the position in the whole record).
    """
    return _checked_pieces(path, input_format, column, id_column, iupac_policy, letter_counts,
                           piece_bases)


def _checked_pieces(path, input_format, column, id_column, iupac_policy, letter_counts,
                    piece_bases):
    if input_format is not None and input_format not in SEQUENCE_FORMATS:
        raise DnalmError(f"unknown input format '{input_format}' "
                         f"(use one of {', '.join(SEQUENCE_FORMATS)})")
    if iupac_policy not in IUPAC_POLICIES:
        raise DnalmError(f"unknown IUPAC policy '{iupac_policy}' (use one of {', '.join(IUPAC_POLICIES)})")
    letter_counts = letter_counts if letter_counts is not None else LetterCounts()
    try:
        input_format = input_format or detect_format(path, column)
        count = 0
        with open_text(path) as stream:
            if input_format == "fasta":
                pieces = ((entry.id, entry.sequence, entry.number, entry.start)
                          for entry in fasta_entries(stream, path, piece_bases))
            else:
                if input_format == "fastq":
                    records = _read_fastq(stream, path)
                elif input_format == "txt":
                    records = _read_lines(stream, path)
                else:
                    records = _read_table(stream, path, input_format, column, id_column)
                pieces = ((record_id, sequence, number, 0) for record_id, sequence, number in records)
            for record_id, sequence, number, start in pieces:
                count += 1
                sequence = checked_sequence(sequence, record_id, number, iupac_policy,
                                            letter_counts, start)
                yield SequencePiece(record_id, sequence, start, number)
    except (OSError, EOFError, zlib.error) as error:
        raise DnalmError(f"{path} cannot be read: {_reason(error)}") from None
    except UnicodeDecodeError:
        raise DnalmError(f"{path} is not a text file (nor gzip of one)") from None
    if count == 0:
        raise DnalmError(f"{path} holds no sequences (empty file?)")


def detect_format(path, column=None):
    """Guess ``fasta``, ``fastq``, ``tsv``, ``csv`` or ``txt`` from the first lines."""
    with open_text(path) as stream:
        first_line = next((line for line in stream if line.strip()), None)
        _, third_line = next(stream, None), next(stream, None)
    if first_line is None:
        raise DnalmError(f"{path} is empty: no sequences to read")
    if first_line.startswith(">"):
        return "fasta"
    if first_line.startswith("@"):
        if third_line is None or not third_line.startswith("+"):
            # '@' is no DNA letter and no usual table header: call it a broken FASTQ.
            raise DnalmError(
                f"{path} starts with '@' like FASTQ, but its first record has no '+' line "
                "after the sequence line (FASTQ records are 4 lines: @id, sequence, +, qualities)"
            )
        return "fastq"
    if "\t" in first_line:
        return "tsv"
    if "," in first_line:
        return "csv"
    # A one-column table still has a header naming its column.
    if column is not None or first_line.strip().lower() in DEFAULT_COLUMNS:
        return "csv"
    return "txt"


def checked_sequence(sequence, record_id, record_number, iupac_policy="error", letter_counts=None,
                     start=0):
    """Uppercase ``sequence`` and make sure it is non-empty DNA (ACGTN; see ``iupac_policy``).

    ``start`` is where ``sequence`` begins in its record, when it is a piece of one.
    """
    sequence = sequence.upper()
    if not sequence:
        raise DnalmError(f"record '{record_id}' (record {record_number}) has an empty sequence")
    to_n = iupac_policy == "to-n"
    others = _other_letters(sequence)
    if not others:
        return sequence  # the usual case, found without a regex scan of the sequence
    bad = (_NOT_ALLOWED_OR_AMBIGUOUS if to_n else _NOT_ALLOWED).search(sequence)
    if bad:
        where = f"record '{record_id}' (record {record_number}) has '{bad.group()}' at position {start + bad.start() + 1}"
        if bad.group() in AMBIGUITY_LETTERS:
            raise DnalmError(
                f"{where}, an IUPAC ambiguity letter: --iupac-policy to-n reads such letters as N "
                f"(otherwise only {', '.join(ALLOWED_LETTERS)} are allowed)"
            )
        raise DnalmError(f"{where}: only the letters {', '.join(ALLOWED_LETTERS)} are allowed")
    if to_n and _AMBIGUOUS.search(sequence):
        if letter_counts is not None:
            letter_counts.add(record_number, sum(map(sequence.count, AMBIGUITY_LETTERS)))
        sequence = sequence.translate(_AMBIGUITY_TO_N)
    return sequence


def _other_letters(sequence):
    """The letters of ``sequence`` other than ACGTN (a C loop over bytes: ~10x a regex)."""
    try:
        return sequence.encode("ascii").translate(None, _ALLOWED_BYTES)
    except UnicodeEncodeError:
        return sequence  # not ASCII: some letter is wrong; the regex says which


def open_text(path):
    """Open ``path`` as text, transparently decompressing gzip."""
    try:
        with open(path, "rb") as raw:
            magic = raw.read(2)
    except OSError as error:
        raise DnalmError(f"{path} cannot be opened: {_reason(error)}") from None
    if magic == _GZIP_MAGIC:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline=None)
    return open(path, encoding="utf-8-sig", newline=None)


def fasta_entries(stream, path, piece_bases=None):
    """Yield the ``FastaEntry``s of an open FASTA ``stream``: whole records, or pieces of
    ``piece_bases``. The letters are not checked here (``checked_sequence`` does that)."""
    header, chunks, size, start, number = None, [], 0, 0, 0
    for line_number, line in enumerate(stream, start=1):
        line = line.strip()
        if line.startswith(">"):
            if header is not None and (chunks or start == 0):  # an empty record is one empty piece
                yield FastaEntry(header, "".join(chunks), number, start)
            number += 1
            header, chunks, size, start = line[1:], [], 0, 0
        elif line:
            if header is None:
                raise DnalmError(f"{path} line {line_number}: sequence text before the first '>' header")
            chunks.append(line)
            size += len(line)
            if piece_bases and size >= piece_bases:
                yield FastaEntry(header, "".join(chunks), number, start)
                chunks, start, size = [], start + size, 0
    if header is not None and (chunks or start == 0):
        yield FastaEntry(header, "".join(chunks), number, start)


def _read_fastq(stream, path):
    """4-line records: ``@id``, sequence, ``+``, qualities (as long as the sequence; not used)."""
    number, line_number = 0, 0
    for line in stream:
        line_number += 1
        header = line.strip()
        if not header:
            continue  # blank lines between records (or at the end) are harmless
        number += 1
        if not header.startswith("@"):
            raise DnalmError(
                f"{path} line {line_number}: FASTQ record {number} should start with '@', not "
                f"'{header[:20]}'"
            )
        record_id = header[1:].split(maxsplit=1)[0] if header[1:].strip() else f"record{number}"
        sequence, plus, quality = (next(stream, None) for _ in range(3))
        name = f"{path}: FASTQ record '{record_id}' (record {number}, line {line_number})"
        if quality is None:
            raise DnalmError(f"{name} is cut short: fewer than 4 lines (truncated file?)")
        line_number += 3
        sequence, quality = sequence.strip(), quality.strip()
        if not plus.startswith("+"):
            raise DnalmError(f"{name} has no '+' line after its sequence")
        if len(quality) != len(sequence):
            raise DnalmError(
                f"{name} has {len(sequence)} bases but {len(quality)} quality characters "
                "(truncated file, or a FASTQ with wrapped lines?)"
            )
        yield record_id, sequence, number


def _read_lines(stream, path):
    number, blank_line = 0, None
    for line_number, line in enumerate(stream, start=1):
        line = line.strip()
        if not line:
            blank_line = blank_line or line_number
            continue
        if blank_line is not None:  # blank lines are only allowed at the end
            raise DnalmError(f"{path} line {blank_line} is empty: a zero-length sequence")
        number += 1
        yield str(number), line, number


def _read_table(stream, path, input_format, column, id_column):
    table = read_table(stream, path, delimiter_of(input_format))
    sequence_index = table.column([column] if column else DEFAULT_COLUMNS, "sequence")
    id_index = None if id_column is None else table.column([id_column], "id")
    for row in table.rows:
        record_id = str(row.number) if id_index is None else row.cells[id_index].strip()
        yield record_id, row.cells[sequence_index].strip(), row.number


def _reason(error):
    return getattr(error, "strerror", None) or str(error) or type(error).__name__
