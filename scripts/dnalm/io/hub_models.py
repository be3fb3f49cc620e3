"""A model published on the Hugging Face Hub, fetched at an exact revision.

``huggingface_hub`` resolves a revision (a tag, a branch or a commit) to its commit
SHA, and keeps the files in its cache under ``models--org--name/snapshots/<sha>/``,
with ``refs/<branch or tag>`` naming the SHA. Offline (``HF_HUB_OFFLINE=1``, or
``offline=True``) the same call reads that cache only: a server without internet
installs what its administrator put in the cache beforehand.
"""

import os
from pathlib import Path

from dnalm.errors import DnalmError

# What dnalm reads from a repository (pickled weights, whole or in shards, are converted at
# installation); README files, other frameworks' weights and the rest stay out.
WANTED_FILES = ["*.json", "vocab.txt", "*.safetensors", "pytorch_model.bin", "pytorch_model-*.bin"]


def hub_is_offline():
    """True where huggingface_hub is told to stay offline (HF_HUB_OFFLINE set to 1, true or yes)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def fetch_snapshot(repo_id, revision="main", cache_dir=None, offline=None):
    """``(folder, commit SHA)`` of ``repo_id`` at ``revision``, downloaded or from the cache."""
    from huggingface_hub import snapshot_download
    from huggingface_hub import errors as hub_errors

    offline = hub_is_offline() if offline is None else offline
    where = f"{repo_id} at revision {revision}"
    try:
        folder = snapshot_download(repo_id=repo_id, revision=revision, cache_dir=cache_dir,
                                   local_files_only=offline, allow_patterns=WANTED_FILES)
    except hub_errors.LocalEntryNotFoundError:
        if offline:
            raise DnalmError(f"{where} is not in the Hugging Face cache "
                             f"{cache_dir or 'of HF_HUB_CACHE'}, and the server is offline: "
                             "download it into the cache first (hf download)") from None
        raise DnalmError(f"{where} cannot be downloaded: the Hub cannot be reached") from None
    except hub_errors.RevisionNotFoundError:
        raise DnalmError(f"{repo_id} has no revision '{revision}' on the Hub") from None
    except hub_errors.RepositoryNotFoundError:
        raise DnalmError(f"{repo_id} is not a model repository on the Hub (or it is private)") from None
    except (hub_errors.HFValidationError, ValueError) as error:
        raise DnalmError(f"'{repo_id}' is not a Hugging Face repository id: {error}") from None
    except (hub_errors.HfHubHTTPError, OSError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DnalmError(f"{where} cannot be fetched: {first_line}") from None
    folder = Path(folder)
    return folder, folder.name  # snapshots/<commit SHA>
