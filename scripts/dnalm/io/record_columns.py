"""The columns of an input table that describe its records rather than hold them.

A CSV/TSV of sequences may carry labels, coordinates or groups beside the
sequence column; a token table may carry ``length_bp`` and ``source``. ``embed``
keeps them as AnnData's ``obs`` and colours its PCA plot by them.
"""

from dnalm.io.sequences import DEFAULT_COLUMNS, detect_format, open_text
from dnalm.io.tables import delimiter_of, read_table
from dnalm.io.token_table import IDS_COLUMN, is_token_table


def extra_columns(path, input_format=None, column=None):
    """The input's columns other than the sequence or token ids (a DataFrame), or None.

    FASTA, FASTQ and plain text have none.
    """
    import pandas as pd

    if is_token_table(path):
        import pyarrow.parquet as pq

        names = [name for name in pq.read_schema(str(path)).names if name != IDS_COLUMN]
        return pq.read_table(str(path), columns=names).to_pandas() if names else None
    input_format = input_format or detect_format(path, column)
    if input_format not in ("csv", "tsv"):
        return None
    with open_text(path) as stream:
        table = read_table(stream, path, delimiter_of(input_format))
        frame = pd.DataFrame([row.cells for row in table.rows], columns=table.header, dtype=str)
    sequence_column = column or next((name for name in DEFAULT_COLUMNS if name in frame.columns), None)
    return frame.drop(columns=[sequence_column]) if sequence_column in frame.columns else frame
