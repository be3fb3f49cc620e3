"""Models installed on a server (the huggingface table): install-model's checks, routes and record.

The routes: a Hugging Face repo read from a cache laid out as huggingface_hub lays it
out (offline), a model zip, a server folder. An installed model gives the same numbers
as its zip, and says in the log where its weights came from.
"""

import csv
import hashlib
import json
import re
import shutil
import zipfile

import numpy as np
import pytest
import torch
from dnalm.cli import main
from dnalm.io.model_install import TABLE_VERSION
from dnalm.io.model_record import RECORD_FILE
from helpers import MICRO_ZIP, MISTRAL_DNA, REPO, TEST_DATA, expect_error

SMALL_FA = TEST_DATA / "hg38_windows_small.fa"
COMMIT = "3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"  # a made-up commit SHA of the test cache


def embeddings(capsys, model, tmp_path, name, *options):
    out = tmp_path / f"{name}.tsv"
    assert main(["embed", str(model), str(SMALL_FA), "-o", str(out), *options]) == 0
    with open(out) as stream:
        rows = list(csv.reader(stream, delimiter="\t"))
    return capsys.readouterr().out, np.array([row[1:] for row in rows[1:]], dtype=np.float64)


def install(tmp_path, *options, name="model"):
    row_path = tmp_path / f"{name}.json"
    argv = ["install-model", *options, "--target", str(tmp_path / name), "--row", str(row_path)]
    assert main(argv) == 0
    return json.loads(row_path.read_text())


def unzipped(zip_path, folder):
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    return folder


def hub_cache(tmp_path, model_dir, repo="testorg/mistral-dna", refs=("main", "v1")):
    """A Hugging Face cache holding ``model_dir`` as ``repo`` at COMMIT, as huggingface_hub lays it out."""
    cache = tmp_path / "hub"
    repo_dir = cache / f"models--{repo.replace('/', '--')}"
    shutil.copytree(model_dir, repo_dir / "snapshots" / COMMIT)
    (repo_dir / "refs").mkdir()
    for ref in refs:
        (repo_dir / "refs" / ref).write_text(COMMIT)
    return cache


def test_table_route_embeds_as_the_zip(capsys, tmp_path):
    """The test table's micro model (the Galaxy tool tests' row) gives the zip's embeddings exactly."""
    rows = [line.split("\t") for line in (TEST_DATA / "huggingface.loc").read_text().splitlines()
            if line and not line.startswith("#")]
    row = next(row for row in rows if row[0] == "dnalm_1_micro_model")
    assert row[2:6] == ["text-generation", "sequence", "dnalm", TABLE_VERSION]
    folder = row[6].strip().replace("${__HERE__}", str(TEST_DATA))
    _, from_zip = embeddings(capsys, MICRO_ZIP, tmp_path, "zip")
    log, from_table = embeddings(capsys, folder, tmp_path, "table")
    assert from_zip.shape == (80, 16)
    assert np.abs(from_table - from_zip).max() == 0
    assert "installed from zip:micro_model.zip; weights model.safetensors sha256:" in log  # its record


def test_zip_route_row_record_and_log(capsys, tmp_path):
    row = install(tmp_path, "--zip", str(MICRO_ZIP))
    digest = hashlib.sha256((tmp_path / "model" / "model.safetensors").read_bytes()).hexdigest()
    assert row == {"value": f"dnalm_{TABLE_VERSION}_micro_model", "name": f"micro_model (sha256 {digest[:8]})",
                   "pipeline_tag": "text-generation", "domain": "sequence", "free_tag": "dnalm",
                   "version": TABLE_VERSION, "path": str((tmp_path / "model").resolve())}
    record = json.loads((tmp_path / "model" / RECORD_FILE).read_text())
    assert record == {"source": "zip:micro_model.zip", "revision": "",
                      "weights_sha256": {"model.safetensors": digest}, "converted_from": "",
                      "converted_sha256": {}}
    log, installed = embeddings(capsys, tmp_path / "model", tmp_path, "installed")
    _, from_zip = embeddings(capsys, MICRO_ZIP, tmp_path, "zip")
    assert np.abs(installed - from_zip).max() == 0
    assert f"installed from zip:micro_model.zip; weights model.safetensors sha256:{digest}" in log


@pytest.mark.parametrize("name", ["masked_esm", "masked_bert"])
def test_published_masked_layouts_install_as_fill_mask(capsys, tmp_path, name):
    """An NT-layout (EsmTokenizer vocab.txt) or DNABERT-1-layout model gets a fill-mask row, and
    the installed folder embeds exactly as its zip."""
    row = install(tmp_path, "--zip", str(TEST_DATA / f"{name}.zip"))
    assert row["pipeline_tag"] == "fill-mask" and row["value"] == f"dnalm_{TABLE_VERSION}_{name}"
    assert (tmp_path / "model" / "vocab.txt").is_file()
    split = ("--long-sequences", "split")  # a 200-bp window is 195 overlapping 6-mers
    _, installed = embeddings(capsys, tmp_path / "model", tmp_path, "installed", *split)
    _, from_zip = embeddings(capsys, TEST_DATA / f"{name}.zip", tmp_path, "zip", *split)
    assert installed.shape == (from_zip.shape[0], 16)
    assert np.abs(installed - from_zip).max() == 0


def test_table_version_is_the_tools(capsys):
    """The rows written here are the rows the tools list (macros.xml's @MODEL_TABLE_VERSION@)."""
    macros = (REPO / "tools" / "macros.xml").read_text()
    assert re.search(r'<token name="@MODEL_TABLE_VERSION@">(\w+)</token>', macros)[1] == TABLE_VERSION


def test_hub_route_offline_records_the_commit(capsys, tmp_path, monkeypatch):
    """A branch and a tag resolve, through refs/, to the snapshot's commit, which the row and record keep."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = hub_cache(tmp_path, MISTRAL_DNA)
    row = install(tmp_path, "--hub", "testorg/mistral-dna", "--revision", "v1", "--hub-cache", str(cache))
    assert row["value"] == f"dnalm_{TABLE_VERSION}_mistral_dna"
    assert row["name"] == f"mistral-dna ({COMMIT[:8]})"
    assert row["pipeline_tag"] == "text-classification"  # MixtralForSequenceClassification
    record = json.loads((tmp_path / "model" / RECORD_FILE).read_text())
    assert record["source"] == "huggingface:testorg/mistral-dna" and record["revision"] == COMMIT
    log, installed = embeddings(capsys, tmp_path / "model", tmp_path, "installed")
    _, original = embeddings(capsys, MISTRAL_DNA, tmp_path, "original")
    assert np.abs(installed - original).max() == 0
    assert f"at revision {COMMIT}" in log
    # the commit itself names the same snapshot
    row = install(tmp_path, "--hub", "testorg/mistral-dna", "--revision", COMMIT, "--hub-cache", str(cache),
                  "--slug", "mistral_dna_by_commit", name="again")
    assert row["name"] == f"mistral-dna ({COMMIT[:8]})"


@pytest.mark.parametrize("repo, revision", [("testorg/mistral-dna", "v9"), ("testorg/absent", "main")])
def test_hub_route_offline_refuses_what_the_cache_lacks(capsys, tmp_path, repo, revision):
    cache = hub_cache(tmp_path, MISTRAL_DNA)
    expect_error(capsys, ["install-model", "--hub", repo, "--revision", revision, "--hub-cache", str(cache),
                          "--offline", "--target", str(tmp_path / "model"), "--row", str(tmp_path / "row.json")],
                 f"{repo} at revision {revision} is not in the Hugging Face cache",
                 [tmp_path / "model", tmp_path / "row.json"])


def test_pickle_only_weights_are_converted_once(capsys, tmp_path):
    """pytorch_model.bin (tensors only) becomes model.safetensors with the very same numbers."""
    folder = unzipped(MICRO_ZIP, tmp_path / "pickled")
    from safetensors.torch import load_file

    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    install(tmp_path, "--folder", str(folder), "--slug", "micro_pickled")
    assert not (tmp_path / "model" / "pytorch_model.bin").exists()
    record = json.loads((tmp_path / "model" / RECORD_FILE).read_text())
    assert record["converted_from"] == "pytorch_model.bin"
    assert record["converted_sha256"] == {"pytorch_model.bin": sha256_hex(folder / "pytorch_model.bin")}
    _, installed = embeddings(capsys, tmp_path / "model", tmp_path, "installed")
    _, from_zip = embeddings(capsys, MICRO_ZIP, tmp_path, "zip")
    assert np.abs(installed - from_zip).max() == 0


def sha256_hex(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


SHARDS = [f"pytorch_model-0000{i}-of-00002.bin" for i in (1, 2)]


def sharded_pickles(folder):
    """The micro model's safetensors split into two torch.save shards and their index, as
    transformers' save_pretrained(safe_serialization=False) lays out a large model; returns
    the original tensors."""
    from safetensors.torch import load_file

    original = load_file(folder / "model.safetensors")
    names = sorted(original)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for shard, half in zip(SHARDS, halves):
        torch.save({name: original[name] for name in half}, folder / shard)
        weight_map.update(dict.fromkeys(half, shard))
    total_size = sum(tensor.numel() * tensor.element_size() for tensor in original.values())
    index = {"metadata": {"total_size": total_size}, "weight_map": weight_map}
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    (folder / "model.safetensors").unlink()
    return original


def test_sharded_pickle_weights_become_one_safetensors(tmp_path):
    """Two pickled shards and their index: every tensor installed equal, every file hashed."""
    from safetensors.torch import load_file

    folder = unzipped(MICRO_ZIP, tmp_path / "sharded")
    original = sharded_pickles(folder)
    row = install(tmp_path, "--folder", str(folder), "--slug", "micro_sharded")
    model = tmp_path / "model"
    installed = load_file(model / "model.safetensors")
    assert sorted(installed) == sorted(original) and len(original) > 2
    for name, tensor in original.items():
        assert torch.equal(installed[name], tensor), name
    assert sorted(p.name for p in model.iterdir() if "pytorch_model" in p.name) == []
    record = json.loads((model / RECORD_FILE).read_text())
    assert record["converted_from"] == "pytorch_model.bin.index.json"
    assert record["converted_sha256"] == {shard: sha256_hex(folder / shard) for shard in SHARDS}
    assert record["weights_sha256"] == {"model.safetensors": sha256_hex(model / "model.safetensors")}
    assert row["name"] == f"sharded (sha256 {sha256_hex(model / 'model.safetensors')[:8]})"


def system_call_pickle(command):
    """A pickle, written opcode by opcode, whose loading calls os.system(command)."""
    text = command.encode()
    return (b"\x80\x02" + b"cos\nsystem\n"  # PROTO 2; GLOBAL os.system
            + b"X" + len(text).to_bytes(4, "little") + text  # BINUNICODE command
            + b"\x85R.")  # TUPLE1, REDUCE: call it; STOP


def test_a_shard_holding_code_is_refused_unrun(capsys, tmp_path):
    import pickle

    # the pickle is real: a plain unpickler runs its command
    control = tmp_path / "plain pickle ran"
    pickle.loads(system_call_pickle(f"touch '{control}'"))
    assert control.exists()

    folder = unzipped(MICRO_ZIP, tmp_path / "sharded")
    sharded_pickles(folder)
    ran = tmp_path / "shard ran"
    (folder / SHARDS[1]).write_bytes(system_call_pickle(f"touch '{ran}'"))
    expect_error(capsys, ["install-model", "--folder", str(folder), "--target", str(tmp_path / "model"),
                          "--row", str(tmp_path / "row.json")],
                 f"{SHARDS[1]} holds more than tensors (pickled objects, which could run code): refused",
                 [tmp_path / "model", tmp_path / "row.json"])
    assert not ran.exists()


@pytest.mark.parametrize("spoil, message", [
    (lambda folder: (folder / SHARDS[1]).unlink(), f"lacks the weight files {SHARDS[1]}"),
    (lambda folder: (folder / "pytorch_model.bin.index.json").write_text(
        json.dumps({"weight_map": {"lm_head.weight": "../elsewhere.bin"}})), "names weight files outside"),
    (lambda folder: torch.save({"extra.weight": torch.zeros(1)}, folder / SHARDS[1]), "disagree on"),
])
def test_broken_shards_are_refused_without_a_row(capsys, tmp_path, spoil, message):
    folder = unzipped(MICRO_ZIP, tmp_path / "sharded")
    sharded_pickles(folder)
    spoil(folder)
    expect_error(capsys, ["install-model", "--folder", str(folder), "--target", str(tmp_path / "model"),
                          "--row", str(tmp_path / "row.json")], message,
                 [tmp_path / "model", tmp_path / "row.json"])


class RunsCode:
    """Unpickling this would call print: torch's weights_only loader must refuse it first."""

    def __reduce__(self):
        return (print, ("THIS PICKLE RAN CODE",))


def test_pickle_holding_code_is_refused_unrun(capsys, tmp_path):
    folder = unzipped(MICRO_ZIP, tmp_path / "pickled")
    torch.save({"model.embed_tokens.weight": RunsCode()}, folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    expect_error(capsys, ["install-model", "--folder", str(folder), "--target", str(tmp_path / "model"),
                          "--row", str(tmp_path / "row.json")],
                 "pytorch_model.bin holds more than tensors (pickled objects, which could run code): refused", [tmp_path / "model", tmp_path / "row.json"])
    assert "THIS PICKLE RAN CODE" not in capsys.readouterr().out


def edited_config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def non_dna_tokenizer(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "the", "cat", "sat", "on", "a", "mat", "A", "C", "G", "T"]
    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))


@pytest.mark.parametrize("spoil, message", [
    (lambda folder: edited_config(folder, auto_map={"AutoModel": "modeling_x.XModel"}),
     "needs its own Python code (auto_map in config.json): refused"),
    (lambda folder: edited_config(folder, model_type="t5"), "has model_type 't5', which dnalm does not support"),
    (non_dna_tokenizer, "has no DNA tokenizer: 6 of its 14 words are made of A, C, G, T"),
    (lambda folder: edited_config(folder, hidden_size=32), "the weights do not match config.json"),
])
def test_unusable_models_are_refused_without_a_row(capsys, tmp_path, spoil, message):
    folder = unzipped(MICRO_ZIP, tmp_path / "source")
    spoil(folder)
    expect_error(capsys, ["install-model", "--folder", str(folder), "--target", str(tmp_path / "model"),
                          "--row", str(tmp_path / "row.json")], message, [tmp_path / "model", tmp_path / "row.json"])


def test_a_value_already_in_the_table_is_refused(capsys, tmp_path):
    expect_error(capsys, ["install-model", "--zip", str(MICRO_ZIP), "--taken", "dnalm_1_other,dnalm_1_micro_model",
                          "--target", str(tmp_path / "model"), "--row", str(tmp_path / "row.json")],
                 "'dnalm_1_micro_model' is already in the huggingface table", [tmp_path / "model", tmp_path / "row.json"])


def test_the_data_manager_asks_for_the_suites_dnalm():
    """The data manager's requirement is the dnalm version of the tools (tools/macros.xml)."""
    def version_token(path):
        return re.search(r'<token name="@TOOL_VERSION@">([^<]+)</token>', path.read_text())[1]

    data_manager = REPO / "data_managers" / "data_manager_dnalm_models" / "data_manager" / "dnalm_models.xml"
    assert version_token(data_manager) == version_token(REPO / "tools" / "macros.xml")


def test_the_data_manager_is_its_own_tool_shed_repository():
    """As IUC ships data managers: a .shed.yml in its folder, same owner as the tools, in Data Managers."""
    import yaml

    folder = REPO / "data_managers" / "data_manager_dnalm_models"
    shed = yaml.safe_load((folder / ".shed.yml").read_text())
    suite = yaml.safe_load((REPO / ".shed.yml").read_text())
    assert shed["name"] == folder.name and shed["owner"] == suite["owner"]
    assert "Data Managers" in shed["categories"] and shed["type"] == "unrestricted"
    assert shed["remote_repository_url"].endswith(f"/tree/main/data_managers/{folder.name}")
    assert folder.name not in suite["repositories"]  # not also a tool repository of the root's
