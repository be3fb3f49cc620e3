"""Models travel between tools as a zip of a Hugging Face model directory.

The archive holds, at its root, what ``save_pretrained`` writes:
``config.json``, ``model.safetensors``, ``generation_config.json``,
``tokenizer.json``, ``tokenizer_config.json`` (and nothing pickled). Readers also
accept the same files under a single top-level folder, which is what zipping a
checkpoint directory by hand gives.

Reading a model someone else made is where a tool meets untrusted files, so
``open_model`` checks everything before any weight is touched: the archive is a
real zip, no entry escapes the extraction folder ("zip-slip"), the weights are
safetensors (a pickled ``pytorch_model.bin`` could run code when loaded, so it
is refused, never opened), the architecture is one the suite knows how to run
without remote code, and the tokenizer travels with the model.
"""

import contextlib
import json
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dnalm.errors import DnalmError
from dnalm.io.model_record import read_record
from dnalm.io.model_tokenizers import dna_tokenizer, model_tokenizer_json

# Model families that transformers runs natively (no trust_remote_code): causal decoders, and
# the masked LMs that DNA models are published as (Nucleotide Transformer and AgroNT are ESM,
# DNABERT-1 is BERT).
CAUSAL_MODEL_TYPES = ("mistral", "mixtral", "llama", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe")
MASKED_MODEL_TYPES = ("esm", "bert", "modernbert")
SUPPORTED_MODEL_TYPES = CAUSAL_MODEL_TYPES + MASKED_MODEL_TYPES
# Where each masked LM keeps its prediction head (the weights that give token probabilities).
MASKED_LM_HEADS = {"esm": "lm_head.", "bert": "cls.predictions.", "modernbert": "head."}
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
# The layer of each ...ForSequenceClassification whose rows are the classes: Mistral, Mixtral,
# Llama and Qwen call it score; ESM's head is a dense layer then out_proj, BERT's and
# ModernBERT's final layer is classifier.
CLASSIFICATION_HEADS = {**{model_type: "score" for model_type in CAUSAL_MODEL_TYPES},
                        "esm": "classifier.out_proj", "bert": "classifier",
                        "modernbert": "classifier"}
# Folders that zip tools add next to the real content.
IGNORED_TOP_LEVEL = ("__MACOSX",)


def pack_model_directory(model_dir, zip_path):
    """Zip the files of ``model_dir`` (not sub-folders) at the archive's root."""
    model_dir = Path(model_dir)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in sorted(model_dir.iterdir()):
            if path.is_file():
                archive.write(path, arcname=path.name)


@dataclass(frozen=True)
class ModelFiles:
    """A checked model directory: where it is and what it says about itself."""

    directory: Path
    source: str  # what the user gave (zip or folder), for messages
    config: dict
    tokenizer_json: str
    weight_names: frozenset  # tensor names in the safetensors files
    record: object = None  # the ModelRecord of a model installed on the server, else None

    @property
    def model_type(self):
        return self.config["model_type"]

    @property
    def architecture(self):
        return (self.config.get("architectures") or [self.model_type])[0]

    @property
    def max_positions(self):
        """How many tokens one forward pass may see (None when the config does not say)."""
        positions = self.config.get("max_position_embeddings")
        if positions and self.model_type == "esm" and \
                self.config.get("position_embedding_type", "absolute") == "absolute":
            # ESM counts learned positions from padding_idx + 1, as fairseq did.
            positions -= self.config.get("pad_token_id", 1) + 1
        return positions

    @property
    def is_masked_lm(self):
        """True for a masked LM (ESM, BERT, ModernBERT), False for a causal one."""
        return self.model_type in MASKED_MODEL_TYPES

    @property
    def objective(self):
        return "masked" if self.is_masked_lm else "causal"

    @property
    def has_lm_head(self):
        """True when the token probabilities (next-token for a causal LM, masked-token for a
        masked one) come from trained weights, not from a random new layer."""
        if self.is_masked_lm:
            head = MASKED_LM_HEADS[self.model_type]
            return any(name.startswith(head) for name in self.weight_names)
        tied = self.config.get("tie_word_embeddings", False)
        return tied or any(name.endswith("lm_head.weight") for name in self.weight_names)

    @property
    def classification_head(self):
        """The name of the layer whose rows are the classes (``score``, ``classifier``, ...)."""
        return CLASSIFICATION_HEADS[self.model_type]

    @property
    def has_classification_head(self):
        """True when the checkpoint holds a trained classification head (e.g. ``score.weight``)."""
        weight = f"{self.classification_head}.weight"
        return any(name == weight or name.endswith("." + weight) for name in self.weight_names)

    def tokenizer(self):
        """The model's own ``tokenizers.Tokenizer`` (io/model_tokenizers.py).

        Any special tokens are accepted (DNABERT-2's [CLS]/[SEP]/[PAD], ESM's
        <cls>/<eos>, or a Llama-style <s>/</s>): the model was trained with
        whatever it has.
        """
        from tokenizers import Tokenizer

        try:
            return dna_tokenizer(Tokenizer.from_str(self.tokenizer_json))
        except Exception as error:  # the Rust library raises plain Exception
            raise DnalmError(
                f"model {self.source}: tokenizer.json is not a valid tokenizer: {error}"
            ) from None


@contextlib.contextmanager
def open_model(path):
    """Yield the checked ``ModelFiles`` of a model zip or directory.

    A zip is extracted into a temporary folder that is removed when the block
    ends; a directory is used in place. A model installed on the server (its
    folder holds a record, io/model_record.py) says in the log where its weights
    came from.
    """
    path = Path(path)
    if path.is_dir():
        yield _announced(check_model_directory(path, source=str(path)))
        return
    if not path.is_file():
        raise DnalmError(f"model {path} does not exist")
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as error:
        raise DnalmError(f"model {path} cannot be read: {error.strerror or error}") from None
    if not is_zip:
        raise DnalmError(f"model {path} is not a zip archive (nor a model directory)")
    with tempfile.TemporaryDirectory(prefix="dnalm-model-") as tmp:
        model_dir = extract_model_zip(path, Path(tmp))
        yield _announced(check_model_directory(model_dir, source=str(path)))


def _announced(files):
    """Print where an installed model's weights came from, in the job's log."""
    if files.record is not None:
        print(f"model {files.source}: {files.record.summary()}", flush=True)
    return files


def extract_model_zip(zip_path, target, only=None):
    """Extract the model files of ``zip_path`` under ``target``; return the model folder.

    ``only``: the file names to extract (e.g. the tokenizer's), where not all are needed.
    """
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            for info in members:
                _check_member(info, zip_path)
            prefix = _model_prefix([info.filename for info in members], zip_path)
            for info in members:
                wanted = only is None or info.filename[len(prefix):] in only
                if info.filename.startswith(prefix) and not _is_ignored(info.filename) and wanted:
                    archive.extract(info, target)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise DnalmError(f"model {zip_path} is a damaged zip archive: {error}") from None
    except OSError as error:
        raise DnalmError(f"model {zip_path} cannot be extracted: {error.strerror or error}") from None
    return target / prefix if prefix else target


def _check_member(info, zip_path):
    """Refuse entries that would land outside the folder: absolute, '..', drive letters, links."""
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    escapes = (
        name.startswith("/")
        or ".." in parts
        or (len(name) > 1 and name[1] == ":")
        or stat.S_ISLNK(info.external_attr >> 16)
    )
    if escapes:
        raise DnalmError(
            f"model {zip_path} has an entry '{info.filename}' that points outside the archive "
            "folder: refused"
        )


def _is_ignored(name):
    return name.split("/", 1)[0] in IGNORED_TOP_LEVEL


def _model_prefix(names, zip_path):
    """'' when config.json is at the zip root, 'folder/' when all files are under one folder."""
    names = [name for name in names if not _is_ignored(name)]
    if "config.json" in names:
        return ""
    folders = {name.split("/", 1)[0] for name in names if "/" in name}
    if len(folders) == 1 and all("/" in name for name in names):
        folder = folders.pop()
        if f"{folder}/config.json" in names:
            return f"{folder}/"
    raise DnalmError(
        f"model {zip_path} has no config.json at its root or in a single top-level folder: "
        "the zip must hold a model's files (config.json, model.safetensors, tokenizer.json), "
        "as the DNA LM tools' model outputs do, or one folder holding them"
    )


def check_model_directory(model_dir, source):
    """Check config, weights and tokenizer of an (extracted) model directory."""
    model_dir = Path(model_dir)
    config = read_config(model_dir, source)
    weight_names = _safetensors_names(model_dir, source)
    files = ModelFiles(
        directory=model_dir,
        source=source,
        config=config,
        tokenizer_json=model_tokenizer_json(model_dir, source),
        weight_names=frozenset(weight_names),
        record=read_record(model_dir),
    )
    files.tokenizer()  # fails early, with the file named, if it is not a usable tokenizer
    return files


def read_config(model_dir, source):
    """config.json of ``model_dir``: valid JSON, no remote code, a model_type dnalm runs."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise DnalmError(f"model {source} has no config.json")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise DnalmError(f"model {source}: config.json is not valid JSON: {error}") from None
    if isinstance(config, dict) and "auto_map" in config:
        raise DnalmError(f"model {source} needs its own Python code (auto_map in config.json): "
                         "refused, dnalm never runs a model's remote code")
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise DnalmError(
            f"model {source} has model_type '{model_type}', which dnalm does not support "
            f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})"
        )
    return config


def _safetensors_names(model_dir, source):
    """Tensor names of the safetensors weights, read from the headers only."""
    from safetensors import safe_open

    single, index = model_dir / SAFETENSORS_FILE, model_dir / SAFETENSORS_INDEX
    if single.is_file():
        shards = [single]
    elif index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (ValueError, KeyError, TypeError) as error:
            raise DnalmError(f"model {source}: {SAFETENSORS_INDEX} is unreadable: {error}") from None
        shards = [model_dir / name for name in sorted(set(weight_map.values()))]
        missing = [shard.name for shard in shards if not shard.is_file()]
        if missing:
            raise DnalmError(f"model {source} lacks the weight files {', '.join(missing)}")
    else:
        pickled = sorted(p.name for p in model_dir.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickled:
            raise DnalmError(
                f"model {source} has only pickled weights ({', '.join(pickled)}), which can run "
                "code when loaded: refused; save the model with safetensors"
            )
        raise DnalmError(f"model {source} has no {SAFETENSORS_FILE} weights")
    names = set()
    for shard in shards:
        try:
            with safe_open(str(shard), framework="pt") as weights:
                names.update(weights.keys())
        except Exception as error:  # safetensors raises its own SafetensorError
            raise DnalmError(
                f"model {source}: {shard.name} is not a valid safetensors file: {error}"
            ) from None
    return names
