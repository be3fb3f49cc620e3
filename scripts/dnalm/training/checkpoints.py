"""Where a run keeps its checkpoints, and which run they belong to.

The Trainer saves a checkpoint every epoch; a run started again with the same
folder resumes from the newest complete one. A folder the user names is kept.
Otherwise the checkpoints live in a hidden folder beside the output
(``.model.zip.checkpoints`` for ``model.zip``): rerunning the same command
after a crash resumes from it, and it is removed once the outputs are written,
so a successful run leaves nothing behind in the working directory.
"""

import contextlib
import hashlib
import json
import shutil
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
        yield CheckpointFolder(Path(named), temporary=False)
        return
    output = Path(output)
    folder = CheckpointFolder(output.with_name(f".{output.name}.checkpoints"), temporary=True)
    yield folder  # an exception leaves it in place, to resume from
    shutil.rmtree(folder.path, ignore_errors=True)


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
