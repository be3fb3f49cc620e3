"""A full disk while writing outputs: one line on stderr, exit 1, no output and no partial file.

The disk is filled for real: a child process runs under a file-size limit (RLIMIT_FSIZE, what
``ulimit -f`` sets; Python ignores SIGXFSZ, so a write past the limit fails with EFBIG), and
/dev/full answers every write with ENOSPC.
"""

import os
import resource
import subprocess
import sys
import zipfile

import pytest
from dnalm.errors import DnalmError
from dnalm.io.outputs import atomic_outputs, out_of_space_reason
from helpers import MICRO_ZIP, TEST_DATA


def run_dnalm_with_file_limit(arguments, cwd, max_bytes):
    """``python -m dnalm ARGUMENTS`` whose files may not grow past ``max_bytes``."""

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLCONFIGDIR=str(cwd / "mpl"),
               HF_HOME=str(cwd / "hf"), CUDA_VISIBLE_DEVICES="")
    return subprocess.run(
        [sys.executable, "-m", "dnalm", *map(str, arguments)], cwd=cwd, env=env,
        preexec_fn=limit_file_size, capture_output=True, text=True, timeout=600,
    )


def assert_one_line_and_nothing_left(result, command, outputs, log_lines_before=False):
    """``log_lines_before``: progress lines (pretrain's) may come first; the error is the last line."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith(f"dnalm {command}: error:")]
    assert len(error_lines) == 1, result.stderr
    assert result.stderr.endswith(error_lines[0] + "\n")
    if not log_lines_before:
        assert result.stderr.count("\n") == 1, result.stderr
    assert error_lines[0].startswith(f"dnalm {command}: error: no space left writing")
    assert "File too large" in error_lines[0]
    leftovers = sorted(path.name for path in outputs.iterdir()) if outputs.exists() else []
    assert leftovers == []  # neither the outputs nor their .partial temporaries


def test_tokenize_on_a_full_disk_names_its_three_outputs_and_keeps_none(tmp_path):
    out = tmp_path / "out"
    result = run_dnalm_with_file_limit(
        ["tokenize", TEST_DATA / "hg38_windows_small.fa", "-o", out / "t.parquet",
         "--summary", out / "s.tsv", "--histogram", out / "h.png"], tmp_path, 3000)
    assert_one_line_and_nothing_left(result, "tokenize", out)
    assert f"writing one of {out / 't.parquet'}, {out / 's.tsv'}, {out / 'h.png'}" in result.stderr


@pytest.fixture
def model_folder(tmp_path):
    """The micro model unzipped beforehand: a zip is unpacked to a temporary folder, which a
    small file-size limit would refuse first (a one-line error of its own)."""
    folder = tmp_path / "model"
    with zipfile.ZipFile(MICRO_ZIP) as archive:
        archive.extractall(folder)
    return folder


@pytest.mark.parametrize("output_format", ["tsv", "h5ad", "npy"])
def test_embed_on_a_full_disk_keeps_no_output_in_any_format(tmp_path, model_folder, output_format):
    out = tmp_path / "out"
    # the 20 x 16 float32 spill file (1,280 bytes) fits, the output does not
    result = run_dnalm_with_file_limit(
        ["embed", model_folder, TEST_DATA / "exon_intron_windows.fa", "-o", out / f"e.{output_format}",
         "--output-format", output_format, "--pca-plot", out / "pca.png"], tmp_path, 1400)
    assert_one_line_and_nothing_left(result, "embed", out)


def test_score_on_a_full_disk_names_the_scores_file(tmp_path, model_folder):
    out = tmp_path / "out"
    result = run_dnalm_with_file_limit(
        ["score", model_folder, TEST_DATA / "hg38_windows_small.fa", "-o", out / "scores.tsv"],
        tmp_path, 1000)
    assert_one_line_and_nothing_left(result, "score", out)
    assert f"no space left writing {out / 'scores.tsv'}: File too large" in result.stderr


def test_pretrain_on_a_full_disk_ends_its_log_with_one_error_line(tmp_path):
    out = tmp_path / "out"
    result = run_dnalm_with_file_limit(
        ["pretrain", TEST_DATA / "pretrain_tokens.parquet", "-o", out / "model.zip",
         "--metrics", out / "metrics.tsv", "--loss-curve", out / "loss.png", "--report", out / "report.html",
         "--preset", "tiny", "--epochs", "1", "--max-steps", "1", "--gradient-accumulation", "1",
         "--checkpoint-dir", tmp_path / "checkpoints"], tmp_path, 200_000)
    assert_one_line_and_nothing_left(result, "pretrain", out, log_lines_before=True)


def test_atomic_outputs_turn_enospc_into_one_line_and_remove_temporaries(tmp_path):
    targets = [tmp_path / "a.tsv", tmp_path / "b.png"]
    with pytest.raises(DnalmError) as caught:
        with atomic_outputs(*targets) as (first, second):
            first.write_text("metric\tvalue\n")
            with open("/dev/full", "w") as full:
                full.write("x" * 10)
                full.flush()  # the kernel answers ENOSPC
    assert str(caught.value) == (
        f"no space left writing one of {targets[0]}, {targets[1]}: No space left on device; "
        "no output was kept"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_failing_output_is_named_when_the_error_says_which(tmp_path):
    targets = [tmp_path / "a.tsv", tmp_path / "b.png"]
    with pytest.raises(DnalmError, match=f"no space left writing {targets[1]}: Disk quota exceeded"):
        with atomic_outputs(*targets) as (_, second):
            raise OSError(122, os.strerror(122), str(second))  # EDQUOT, as open() reports it
    assert list(tmp_path.iterdir()) == []


def test_other_errors_pass_through_unchanged(tmp_path):
    with pytest.raises(PermissionError):
        with atomic_outputs(tmp_path / "a.tsv"):
            raise PermissionError(13, "Permission denied")
    assert out_of_space_reason(RuntimeError("Error while serializing: IoError(Os { code: 28, "
                                            "kind: StorageFull, message: \"No space left on device\" })")
                               ) == "No space left on device"
    assert out_of_space_reason(ValueError("bad value")) is None
