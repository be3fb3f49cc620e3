"""The tokenized-data contract between the tools: a Parquet file.

Columns: ``id`` (string, the sequence or window id, input order kept, repeats
allowed) and ``input_ids`` (list<int32>, special tokens included); the tokenize
tool may add more columns (``length_bp`` ...). The tokenizer's JSON text is
stored once, in the file's key-value metadata under ``dnalm.tokenizer``, so a
model can never be trained or used with a different vocabulary than its data.
"""

import pyarrow as pa
import pyarrow.parquet as pq

from dnalm.errors import DnalmError

TOKENIZER_KEY = b"dnalm.tokenizer"
ID_COLUMN = "id"
IDS_COLUMN = "input_ids"


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
