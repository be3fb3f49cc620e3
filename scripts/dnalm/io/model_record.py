"""Where an installed model came from: a small JSON file beside its weights.

When a model is installed on a server (``dnalm install-model``, which Galaxy's data
manager runs), the folder gets ``dnalm_model_record.json``: the source (a Hugging
Face repo, a zip, a folder), the revision's commit SHA where there is one, and the
SHA-256 of every weight file. Every tool that opens the folder prints the record in
its log, so each result names the exact weights behind it.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dnalm.errors import DnalmError

RECORD_FILE = "dnalm_model_record.json"
WEIGHT_SUFFIXES = (".safetensors",)
HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class ModelRecord:
    """The provenance of one installed model folder."""

    source: str  # e.g. "huggingface:RaphaelMourad/Mistral-DNA-v1-1M-hg38", "zip:model.zip"
    revision: str  # the commit SHA of a Hugging Face revision; "" for a zip or a folder
    weights_sha256: dict = field(default_factory=dict)  # file name -> hex digest
    converted_from: str = ""  # "pytorch_model.bin" (or its shards' index) when converted once
    converted_sha256: dict = field(default_factory=dict)  # the pickled files converted -> hex digest

    def summary(self):
        """One line for a log: source, revision and the weights' digests."""
        revision = f" at revision {self.revision}" if self.revision else ""
        digests = ", ".join(f"{name} sha256:{digest}"
                            for name, digest in sorted(self.weights_sha256.items()))
        converted = f" (converted from {self.converted_from})" if self.converted_from else ""
        return f"installed from {self.source}{revision}; weights {digests}{converted}"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def weight_digests(model_dir):
    """``{file name: SHA-256}`` of the weight files of ``model_dir``."""
    return {path.name: sha256_of(path) for path in sorted(Path(model_dir).iterdir())
            if path.is_file() and path.suffix in WEIGHT_SUFFIXES}


def write_record(model_dir, source, revision="", converted_from="", converted_files=()):
    """Hash the weights of ``model_dir`` (and the pickled files they were converted from)
    and write its record; return the record."""
    record = ModelRecord(source=source, revision=revision,
                         weights_sha256=weight_digests(model_dir), converted_from=converted_from,
                         converted_sha256={path.name: sha256_of(path) for path in converted_files})
    path = Path(model_dir) / RECORD_FILE
    path.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    return record


def read_record(model_dir):
    """The record of ``model_dir``, or None for a folder that was not installed."""
    path = Path(model_dir) / RECORD_FILE
    if not path.is_file():
        return None
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        return ModelRecord(**fields)
    except (ValueError, TypeError, UnicodeDecodeError) as error:
        raise DnalmError(f"model {model_dir}: {RECORD_FILE} is unreadable: {error}") from None
