"""Check a published model and install it for a server's users (the data manager's work).

The model comes from the Hugging Face Hub at a revision (downloaded, or read from
the Hugging Face cache where HF_HUB_OFFLINE is set), from a model zip, or from a
folder on the server. It is checked as io/model_install.py says, copied into
--target with its provenance record, and the row of Galaxy's huggingface table
that offers it is written to --row as JSON (value, name, pipeline_tag, domain,
free_tag, version, path).

Example: dnalm install-model --hub RaphaelMourad/Mistral-DNA-v1-1M-hg38 --revision main
         --target /data/dnalm_models/new --row row.json
"""

import json
import shutil
import tempfile
from pathlib import Path

from dnalm.errors import DnalmError
from dnalm.io.hub_models import fetch_snapshot
from dnalm.io.model_archive import extract_model_zip
from dnalm.io.model_install import install_model
from dnalm.io.outputs import atomic_outputs


def add_arguments(parser):
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--hub", metavar="REPO_ID", help="a Hugging Face model repository, e.g. org/name")
    source.add_argument("--zip", metavar="ZIP", help="a model zip (as DNA LM: pretrain and fine-tune make)")
    source.add_argument("--folder", metavar="DIR", help="a Hugging Face model folder on this server")
    parser.add_argument("--revision", default="main",
                        help="with --hub: a tag, a branch or a commit (default: main); the row records its commit SHA")
    parser.add_argument("--hub-cache", default=None,
                        help="with --hub: the Hugging Face cache (default: huggingface_hub's, HF_HUB_CACHE)")
    parser.add_argument("--offline", action="store_true",
                        help="with --hub: read the cache only (as HF_HUB_OFFLINE=1 does)")
    parser.add_argument("--slug", default=None,
                        help="the model's id in the table is dnalm_<version>_<slug> (default: from the "
                        "repository, zip or folder name)")
    parser.add_argument("--name", default=None, help="the name users see (default: the slug's source)")
    parser.add_argument("--taken", default="",
                        help="comma-separated ids already in the table: such a model is refused")
    parser.add_argument("--target", required=True, help="the folder to install the model into (must not exist)")
    parser.add_argument("--row", required=True, help="JSON file to write the table row to")


def run(args):
    taken = {value for value in args.taken.split(",") if value}
    target = Path(args.target)
    if target.exists():
        raise DnalmError(f"{target} exists already: give a new folder")
    try:
        with tempfile.TemporaryDirectory(prefix="dnalm-install-") as tmp:
            model_dir, source, revision, default_name = _source_folder(args, Path(tmp))
            installed = install_model(
                model_dir, target, source=source, revision=revision,
                display_name=args.name or default_name, slug=args.slug or default_name,
                taken_values=taken,
            )
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # no half-installed model
        raise
    with atomic_outputs(args.row) as (row,):
        Path(row).write_text(json.dumps(installed.table_row(), indent=2) + "\n", encoding="utf-8")
    print(f"installed {installed.value} ({installed.pipeline_tag}): {installed.name}, in {target}")
    print(f"its record: {installed.record.summary()}")


def _source_folder(args, scratch):
    """``(folder, source, revision, default name)`` of the model the options name."""
    if args.hub:
        folder, sha = fetch_snapshot(args.hub, args.revision, cache_dir=args.hub_cache,
                                     offline=True if args.offline else None)
        return folder, f"huggingface:{args.hub}", sha, args.hub.rsplit("/", 1)[-1]
    if args.zip:
        path = Path(args.zip)
        if not path.is_file():
            raise DnalmError(f"model {path} does not exist")
        return extract_model_zip(path, scratch), f"zip:{path.name}", "", path.stem
    path = Path(args.folder)
    if not path.is_dir():
        raise DnalmError(f"model folder {path} does not exist")
    return path, f"folder:{path.resolve()}", "", path.name
