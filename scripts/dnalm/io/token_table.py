"""The tokenized-data contract between the tools: a Parquet file.

Columns: ``id`` (string, the sequence or window id, input order kept, repeats
allowed) and ``input_ids`` (list<int32>, special tokens included); the tokenize
tool adds more columns: ``length_bp`` (int32) and ``source``.

``source`` (dictionary<int32, string>) names the record a row comes from: in
genome mode the record the window was cut from (``chrXV`` for
``chrXV:1000-1200`` and for its reverse complement ``chrXV:1000-1200(-)``);
otherwise the id without a ``bedtools getfasta`` style ``:START-END`` (and
``(-)``) suffix, so windows cut by bedtools name their chromosome, and any
other id is its own source. Dictionary-encoded, it costs a 4-byte code per row
plus each name once per row group, so pretraining can hold out whole contigs
(``--validation-contigs``) without ever turning window ids into Python
strings. Tables written before it existed still read: ``row_sources`` derives
it from ``id`` the same way, vectorised in Arrow.

The tokenizer's JSON text is
stored once, in the file's key-value metadata under ``dnalm.tokenizer``, so a
model can never be trained or used with a different vocabulary than its data.
"""

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dnalm.errors import DnalmError

TOKENIZER_KEY = b"dnalm.tokenizer"
ID_COLUMN = "id"
IDS_COLUMN = "input_ids"
SOURCE_COLUMN = "source"
SOURCE_TYPE = pa.dictionary(pa.int32(), pa.string())
_WINDOW_SUFFIX = r":[0-9]+-[0-9]+(\(-\))?$"  # RECORD:START-END, maybe (-)


def token_table_schema(extra_fields=()):
    fields = [pa.field(ID_COLUMN, pa.string()), pa.field(IDS_COLUMN, pa.list_(pa.int32()))]
    fields.extend(extra_fields)
    return pa.schema(fields)


class TokenTableWriter:
    """Stream record batches into a token table; use as a context manager."""

    def __init__(self, path, tokenizer_json, extra_fields=()):
        # The tokenizer goes into the footer's key-value metadata only: metadata on
        # the Arrow schema would be stored a second time, in the serialised schema.
        self.schema = token_table_schema(extra_fields)
        self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        self._writer.add_key_value_metadata({TOKENIZER_KEY: tokenizer_json.encode("utf-8")})

    def write(self, columns):
        """Write one batch given as ``{column name: list of values}``."""
        self._writer.write_batch(pa.record_batch(columns, schema=self.schema))

    def close(self):
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def is_token_table(path):
    """Parquet files start with the magic bytes 'PAR1'."""
    try:
        with open(path, "rb") as stream:
            return stream.read(4) == b"PAR1"
    except OSError as error:
        raise DnalmError(f"{path} cannot be opened: {error.strerror or error}") from None


def open_token_table(path):
    """Return ``(pyarrow.parquet.ParquetFile, tokenizer_json)`` after checking the contract."""
    try:
        parquet = pq.ParquetFile(str(path))
    except (OSError, pa.ArrowInvalid) as error:
        raise DnalmError(f"{path} is not a readable Parquet file: {error}") from None
    metadata = parquet.metadata.metadata or {}
    if TOKENIZER_KEY not in metadata:
        raise DnalmError(
            f"{path} has no tokenizer in its metadata: make it with 'dnalm tokenize'"
        )
    names = parquet.schema_arrow.names
    for column in (ID_COLUMN, IDS_COLUMN):
        if column not in names:
            raise DnalmError(f"{path} lacks the column '{column}' (has: {', '.join(names)})")
    return parquet, metadata[TOKENIZER_KEY].decode("utf-8")


def read_token_table(path, columns=None):
    """Return ``(pyarrow.Table, tokenizer_json)``; clear errors for anything else."""
    parquet, tokenizer_json = open_token_table(path)
    try:
        table = parquet.read(columns=columns)
    except (OSError, pa.ArrowInvalid) as error:
        raise DnalmError(f"{path} is not a readable Parquet file: {error}") from None
    return table, tokenizer_json


def sources_from_ids(ids):
    """The ``source`` of rows named ``ids`` (Arrow strings): a window id loses its coordinates."""
    return _as_source(pc.replace_substring_regex(ids, _WINDOW_SUFFIX, ""))


def row_sources(batch):
    """The ``source`` of every row of a record batch or table, as dictionary<int32, string>.

    Tables without the column derive it from ``id`` (``sources_from_ids``).
    """
    if SOURCE_COLUMN in batch.schema.names:
        return _as_source(batch.column(SOURCE_COLUMN))
    return sources_from_ids(batch.column(ID_COLUMN))


def _as_source(column):
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    return column.cast(SOURCE_TYPE)


def read_row_id(path, row):
    """The ``id`` of row ``row`` alone (for an error message), reading one row group."""
    parquet, _ = open_token_table(path)
    for group in range(parquet.num_row_groups):
        rows = parquet.metadata.row_group(group).num_rows
        if row < rows:
            return parquet.read_row_group(group, columns=[ID_COLUMN]).column(0)[row].as_py()
        row -= rows
    raise IndexError(f"{path} has no row {row}")
