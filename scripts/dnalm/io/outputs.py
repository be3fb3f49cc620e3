"""Write outputs all-or-nothing, so a failed job leaves no half-written file.

A full disk (or quota, or the job's file-size limit) is bad luck, not a bug:
it becomes a one-line ``DnalmError`` naming the output, and no output is left.
"""

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from dnalm.errors import DnalmError

_OUT_OF_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
# Libraries that wrap the OSError (pyarrow, h5py, safetensors) keep only its text.
_OUT_OF_SPACE_TEXTS = tuple(os.strerror(code) for code in _OUT_OF_SPACE)


@contextlib.contextmanager
def atomic_outputs(*paths):
    """Yield temporary paths next to ``paths``; move them into place only on success.

    Usage::

        with atomic_outputs(out_parquet, out_summary) as (tmp_parquet, tmp_summary):
            write(tmp_parquet); write(tmp_summary)

    ``None`` entries (optional outputs not asked for) are passed through as ``None``.
    If the block raises, every temporary file is removed and no target is touched;
    running out of space is reported as a ``DnalmError``.
    """
    temporaries = []
    try:
        for path in paths:
            if path is None:
                temporaries.append(None)
                continue
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
            os.close(fd)
            temporaries.append(Path(tmp))
        yield temporaries
    except BaseException as error:
        for tmp in temporaries:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        reason = None if isinstance(error, DnalmError) else out_of_space_reason(error)
        if reason is not None:
            failed = _failed_output(error, paths, temporaries)
            raise DnalmError(f"no space left writing {failed}: {reason}; no output was kept") from None
        raise
    umask = os.umask(0)
    os.umask(umask)
    for path, tmp in zip(paths, temporaries):
        if tmp is not None:
            # mkstemp makes 0600 files; give outputs the mode a plain open() would.
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)


def out_of_space_reason(error):
    """'No space left on device', 'File too large' ... when ``error`` (or its cause) says so; else None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _OUT_OF_SPACE:
            return os.strerror(error.errno)
        text = str(error).lower()
        for reason in _OUT_OF_SPACE_TEXTS:
            if reason.lower() in text:
                return reason
        error = error.__cause__ or error.__context__
    return None


def _failed_output(error, paths, temporaries):
    """The output being written when ``error`` came, if it says; else all of them."""
    asked = [(str(path), str(tmp)) for path, tmp in zip(paths, temporaries) if path is not None]
    filename = str(getattr(error, "filename", None))
    for path, tmp in asked:
        if filename == tmp:
            return path
    if len(asked) == 1:
        return asked[0][0]
    return "one of " + ", ".join(path for path, _ in asked)
