"""Where a run keeps its checkpoints, and which run they belong to.

The Trainer saves a checkpoint every epoch; a run started again with the same
folder resumes from the newest complete one. A folder the user names is kept.
Otherwise the checkpoints live in a hidden folder beside the output
(``.model.zip.checkpoints`` for ``model.zip``): rerunning the same command
after a crash resumes from it, and it is removed once the outputs are written,
so a successful run leaves nothing behind in the working directory.
A run stopped by Ctrl-C or SIGTERM (Galaxy's stop) says where its checkpoints
are, how big they are, and how to resume or remove them.
"""

import contextlib
import hashlib
import json
import shutil
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from dnalm.errors import DnalmError

CHECKPOINT_PREFIX = "checkpoint-"
RUN_FILE = "dnalm_run.json"  # which run the checkpoints in a folder belong to


@dataclass
class CheckpointFolder:
    path: Path
    temporary: bool  # ours to replace (another run's checkpoints) and to remove on success


@contextlib.contextmanager
def checkpoint_folder(named, output):
    """Yield the ``CheckpointFolder`` of a run writing ``output``; see the module's docstring."""
    if named:
        folder = CheckpointFolder(Path(named), temporary=False)
    else:
        output = Path(output)
        folder = CheckpointFolder(output.with_name(f".{output.name}.checkpoints"), temporary=True)
    with told_on_stop(folder):
        yield folder  # an exception leaves it in place, to resume from
    if folder.temporary:
        shutil.rmtree(folder.path, ignore_errors=True)


@contextlib.contextmanager
def told_on_stop(folder, stream=None):
    """On Ctrl-C or SIGTERM, say what the stopped run leaves behind, then stop as asked."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop) if in_main_thread else None
    try:
        yield
    except KeyboardInterrupt:
        print(stop_message(folder), file=stream or sys.stderr, flush=True)
        raise
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _stop(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def stop_message(folder):
    """Where the checkpoints are, their size, how to resume, how to remove them."""
    path = Path(folder.path).resolve()
    newest = last_complete_checkpoint(path)
    if newest is None:
        if folder.temporary:
            shutil.rmtree(path, ignore_errors=True)  # nothing in it to resume from
        return "stopped before the first checkpoint: there is nothing to resume from"
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    again = ("run the same command again (it finds this folder beside the output), or add "
             f"--checkpoint-dir {path}") if folder.temporary else "run the same command again"
    shown = f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"
    return (f"stopped: the checkpoints so far are in {path} ({shown}; newest "
            f"{Path(newest).name})\n"
            f"  to resume from there: {again}\n"
            f"  to remove them: rm -r {path}")


def claim(folder, fingerprint, print_fn=print):
    """Mark the folder as this run's; refuse to resume someone else's checkpoints.

    A temporary folder holding another run's checkpoints (the same output name
    with other data) is emptied instead: nobody asked to keep it.
    """
    run_file = Path(folder.path) / RUN_FILE
    if run_file.is_file() and json.loads(run_file.read_text())["fingerprint"] != fingerprint:
        if not folder.temporary:
            raise DnalmError(
                f"{folder.path} holds checkpoints of a different run (other data, model or "
                "settings): remove it or choose another --checkpoint-dir"
            )
        print_fn(f"{folder.path} held checkpoints of another run: starting afresh", flush=True)
        shutil.rmtree(folder.path)
    Path(folder.path).mkdir(parents=True, exist_ok=True)
    if not run_file.is_file():
        run_file.write_text(json.dumps({"fingerprint": fingerprint}))


def run_fingerprint(*parts):
    """A short hash of what makes two runs the same run (data, model, settings)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def last_complete_checkpoint(directory):
    """The newest checkpoint whose trainer state was written (the last file saved)."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    complete = [
        path
        for path in directory.glob(f"{CHECKPOINT_PREFIX}*")
        if path.name[len(CHECKPOINT_PREFIX) :].isdigit() and (path / "trainer_state.json").is_file()
    ]
    if not complete:
        return None
    return str(max(complete, key=lambda path: int(path.name[len(CHECKPOINT_PREFIX) :])))
