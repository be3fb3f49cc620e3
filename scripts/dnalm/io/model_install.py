"""Installing a published model on a server: check it, then copy it where the tools find it.

A server's administrator offers models to every user through Galaxy's shared
``huggingface`` data table (the data manager ``data_manager_dnalm_models`` runs
``dnalm install-model``). Before a folder is installed, everything a dnalm tool
will need from it is checked, so that no user meets a broken model later:

- ``config.json`` names a ``model_type`` the suite runs, and no ``auto_map``
  (a model's own Python code, which dnalm never runs);
- ``tokenizer.json`` loads and is a DNA tokenizer (its words are made of A, C, G, T);
- the weights are safetensors; pickle-only weights (``pytorch_model.bin``, or its
  shards and their index, as many published DNA models ship) are converted once
  (io/pickled_weights.py), read with torch's ``weights_only`` loader, which refuses a
  pickle that holds code before running any;
- transformers loads the tensors into the architecture of ``config.json`` with
  none missing or mis-shaped.

The installed folder holds the model's files and its provenance record
(io/model_record.py).
"""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from dnalm.errors import DnalmError
from dnalm.io.checkpoint_loading import loading_checkpoint
from dnalm.io.model_archive import SAFETENSORS_FILE, SAFETENSORS_INDEX, check_model_directory, read_config
from dnalm.io.model_tokenizers import model_tokenizer_json
from dnalm.io.model_record import write_record
from dnalm.io.pickled_weights import PICKLED_INDEX, PICKLED_WEIGHTS, convert_pickled_weights, converted_from
from dnalm.io.sequences import ALLOWED_LETTERS, BASES

# The table version of the rows written here: the tools list only rows of their own
# version (macros.xml's @MODEL_TABLE_VERSION@; tests/test_model_install.py checks both agree).
TABLE_VERSION = "1"
FREE_TAG = "dnalm"
DOMAIN = "sequence"
# Hugging Face's pipeline tag of each head; a bare decoder stack extracts features.
PIPELINE_TAGS = {"ForCausalLM": "text-generation", "ForMaskedLM": "fill-mask",
                 "ForSequenceClassification": "text-classification"}
FEATURE_EXTRACTION = "feature-extraction"
# vocab.txt: the tokenizer of Nucleotide Transformer (ESM) and DNABERT-1 (BERT) models.
METADATA_FILES = ("config.json", "generation_config.json", "tokenizer.json",
                  "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
# A DNA vocabulary is mostly words over A, C, G, T (DNABERT-2's BPE, k-mers, single letters);
# an English one has a few such words among tens of thousands.
MIN_DNA_WORD_SHARE = 0.5


@dataclass(frozen=True)
class InstalledModel:
    """A checked, installed model and the row of the huggingface table that offers it."""

    value: str
    name: str
    pipeline_tag: str
    directory: Path
    record: object  # its ModelRecord (io/model_record.py)

    def table_row(self):
        """The row's seven columns, as Galaxy's schema names them."""
        return {"value": self.value, "name": self.name, "pipeline_tag": self.pipeline_tag,
                "domain": DOMAIN, "free_tag": FREE_TAG, "version": TABLE_VERSION,
                "path": str(self.directory)}


def table_value(slug):
    """``dnalm_<version>_<slug>``, the slug reduced to lower-case letters, digits and _."""
    cleaned = re.sub(r"[^a-z0-9]+", "_", slug.lower()).strip("_")
    if not cleaned:
        raise DnalmError(f"'{slug}' gives no usable model id: use letters or digits")
    return f"dnalm_{TABLE_VERSION}_{cleaned}"


def install_model(model_dir, target, *, source, display_name, slug, revision="", taken_values=()):
    """Check the model folder ``model_dir`` and install it as the folder ``target``.

    ``source`` says where it came from (for the record and messages), ``revision``
    the commit SHA of a Hugging Face revision. A model whose table value is among
    ``taken_values`` is refused before anything is read.
    """
    model_dir, target = Path(model_dir), Path(target)
    value = table_value(slug)
    if value in taken_values:
        raise DnalmError(f"model {source}: '{value}' is already in the huggingface table: "
                         "rows are added, never replaced; install it under another name")
    config = read_config(model_dir, source)
    check_dna_tokenizer(model_dir, source)
    target.mkdir(parents=True, exist_ok=False)
    for name in METADATA_FILES:
        if (model_dir / name).is_file():
            shutil.copyfile(model_dir / name, target / name)
    converted = place_weights(model_dir, target, source)
    check_tensors(target, config, source)
    check_model_directory(target, source)  # what every tool checks when it opens a model
    record = write_record(target, source, revision=revision, converted_from=converted_from(converted),
                          converted_files=converted)
    short = revision[:8] if revision else "sha256 " + next(iter(record.weights_sha256.values()))[:8]
    return InstalledModel(value=value, name=f"{display_name} ({short})",
                          pipeline_tag=pipeline_tag(config), directory=target.resolve(), record=record)


def pipeline_tag(config):
    architecture = (config.get("architectures") or [""])[0]
    return next((tag for head, tag in PIPELINE_TAGS.items() if architecture.endswith(head)),
                FEATURE_EXTRACTION)


def check_dna_tokenizer(model_dir, source):
    """The tokenizer loads (tokenizer.json, or an ESM/BERT vocab.txt), and its words are DNA:
    A, C, G and T all occur, and most words are theirs."""
    from tokenizers import Tokenizer

    text = model_tokenizer_json(model_dir, source)
    try:
        tokenizer = Tokenizer.from_str(text)
    except Exception as error:  # the Rust library raises plain Exception
        raise DnalmError(f"model {source}: tokenizer.json is not a valid tokenizer: {error}") from None
    special = {token.content for token in tokenizer.get_added_tokens_decoder().values()}
    words = [word for word in tokenizer.get_vocab() if word not in special]
    dna_words = [word for word in words if word and set(word.upper()) <= set(ALLOWED_LETTERS)]
    letters = set("".join(dna_words).upper())
    if not words or not set(BASES) <= letters or len(dna_words) < MIN_DNA_WORD_SHARE * len(words):
        raise DnalmError(f"model {source} has no DNA tokenizer: {len(dna_words)} of its {len(words)} "
                         "words are made of A, C, G, T (a DNA model's vocabulary is mostly such words)")


def place_weights(model_dir, target, source):
    """Copy the safetensors weights, or convert pickle-only weights once; return the pickled
    files converted (none for safetensors)."""
    if (model_dir / SAFETENSORS_FILE).is_file() or (model_dir / SAFETENSORS_INDEX).is_file():
        for path in model_dir.iterdir():
            if path.suffix == ".safetensors" or path.name == SAFETENSORS_INDEX:
                shutil.copyfile(path, target / path.name)
        return []
    if not (model_dir / PICKLED_WEIGHTS).is_file() and not (model_dir / PICKLED_INDEX).is_file():
        raise DnalmError(f"model {source} has neither {SAFETENSORS_FILE} nor {PICKLED_WEIGHTS} "
                         f"(or {PICKLED_INDEX}) weights")
    return convert_pickled_weights(model_dir, target / SAFETENSORS_FILE, source)


def check_tensors(model_dir, config, source):
    """transformers loads every tensor of the architecture, none missing or mis-shaped."""
    import transformers

    architecture = (config.get("architectures") or [""])[0]
    model_class = getattr(transformers, architecture, None) if architecture else transformers.AutoModel
    if model_class is None or not hasattr(model_class, "from_pretrained"):
        raise DnalmError(f"model {source} names the architecture '{architecture}', "
                         "which transformers does not have built in")
    with loading_checkpoint(source):
        _, info = model_class.from_pretrained(str(model_dir), use_safetensors=True, trust_remote_code=False,
                                              local_files_only=True, output_loading_info=True,
                                              ignore_mismatched_sizes=True)  # listed, then refused below
    wrong = sorted(info.get("missing_keys") or ()) + sorted(str(k) for k in info.get("mismatched_keys") or ())
    if wrong:
        raise DnalmError(f"model {source}: the weights do not match config.json ({len(wrong)} tensors "
                         f"missing or mis-shaped, e.g. {', '.join(wrong[:3])})")
