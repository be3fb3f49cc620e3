"""Small helpers shared by several test files."""

from pathlib import Path

from dnalm.cli import main


def read_fasta(path, limit=None):
    """``[(id, sequence), ...]`` of a FASTA file with one sequence line per record."""
    records, name = [], None
    for line in Path(path).read_text().splitlines():
        if line.startswith(">"):
            name = line[1:]
        elif line:
            records.append((name, line))
    return records[:limit]


def expect_error(capsys, argv, message, outputs):
    """``dnalm argv`` fails with one line on stderr holding ``message`` and writes no output."""
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert message in err, err
    for path in outputs:
        assert not Path(path).exists()
