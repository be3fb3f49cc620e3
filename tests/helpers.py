"""Paths and small helpers shared by the test files; shared fixtures are in conftest.py.

The paths are plain names, importable from here, since module-level constants and
``parametrize`` lists use them; pytest imports each conftest.py under the one name
``conftest`` (tests/browser has its own), so a test file cannot import from it.
"""

from pathlib import Path

from dnalm.cli import main
from dnalm.io.sequences import read_sequences

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "test-data"  # shared with the Galaxy tool tests
MICRO_ZIP = TEST_DATA / "micro_model.zip"  # a tiny random causal LM: 16 dims, context 128
MISTRAL_DNA = REPO / "tests" / "data" / "mistral-dna-1m-hg38-tf0"  # a real checkpoint: 64 dims, context 256


def read_fasta(path, limit=None):
    """``[(id, sequence), ...]`` of a small FASTA file (plain or .gz), through the suite's reader."""
    return [tuple(record) for record in read_sequences(path, "fasta")][:limit]


def fasta_ids_and_sequences(path):
    """``read_fasta``'s records as two lists: ``(ids, sequences)``."""
    records = read_fasta(path)
    return [record_id for record_id, _ in records], [sequence for _, sequence in records]


def expect_error(capsys, argv, message, outputs):
    """``dnalm argv`` fails with one line on stderr holding ``message`` and writes no output."""
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert message in err, err
    for path in outputs:
        assert not Path(path).exists()


def read_rows(path):
    """A tool's TSV output as a list of ``{column: text}``."""
    import csv

    with open(path) as stream:
        return list(csv.DictReader(stream, delimiter="\t"))


def write_fasta(path, records):
    """``records`` (``(name, sequence)`` pairs) as a one-line-per-sequence FASTA at ``path``."""
    path.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in records))
    return path
