"""Write outputs all-or-nothing, so a failed job leaves no half-written file."""

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_outputs(*paths):
    """Yield temporary paths next to ``paths``; move them into place only on success.

    Usage::

        with atomic_outputs(out_parquet, out_summary) as (tmp_parquet, tmp_summary):
            write(tmp_parquet); write(tmp_summary)

    ``None`` entries (optional outputs not asked for) are passed through as ``None``.
    If the block raises, every temporary file is removed and no target is touched.
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
    except BaseException:
        for tmp in temporaries:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        raise
    umask = os.umask(0)
    os.umask(umask)
    for path, tmp in zip(paths, temporaries):
        if tmp is not None:
            # mkstemp makes 0600 files; give outputs the mode a plain open() would.
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
