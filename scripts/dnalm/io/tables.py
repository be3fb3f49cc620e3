"""Read a delimited table with a header line: the one table reader of the suite.

Sequence tables (CSV/TSV), labelled tables and the effect tables that ``dnalm
score`` writes are all read here, so they share one rule for a ragged row: a row
whose cell count differs from the header's is an error naming the row (a stray
comma in a CSV shifts every column after it). Blank lines are skipped. Cells may
be whole chromosomes, beyond the ``csv`` module's 128 kB default.
"""

import csv
import sys
from typing import NamedTuple

from dnalm.errors import DnalmError


class Row(NamedTuple):
    number: int  # 1-based among the data rows (the header is row 0)
    line: int  # 1-based line of the file, for messages about a file a person can open
    cells: list


class Table(NamedTuple):
    path: str
    header: list  # column names, stripped of surrounding blanks
    rows: object  # an iterator of Row, read as it is consumed

    def column(self, candidates, role="", hint=""):
        """The index of the first of ``candidates`` in the header; else one error line
        naming the ``role`` of the column wanted and the columns there are."""
        for name in candidates:
            if name in self.header:
                return self.header.index(name)
        wanted = " or ".join(f"'{name}'" for name in candidates)
        raise DnalmError(f"{self.path} has no {role + ' ' if role else ''}column {wanted} "
                         f"(columns: {', '.join(self.header) or 'none'}){hint}")


def read_table(stream, path, delimiter):
    """The ``Table`` of an open text ``stream``; an empty stream is an error."""
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(stream, delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise DnalmError(f"{path} is empty: a table with a header line is needed")
    header = [name.strip() for name in header]
    return Table(str(path), header, _rows(reader, path, len(header)))


def _rows(reader, path, width):
    number = 0
    for cells in reader:
        if not cells:
            continue  # csv yields [] for a blank line
        number += 1
        if len(cells) != width:
            raise DnalmError(f"{path} row {number} (line {reader.line_num}) has {len(cells)} "
                             f"fields but the header has {width}")
        yield Row(number, reader.line_num, cells)


def delimiter_of(table_format):
    return "\t" if table_format == "tsv" else ","
