"""Write the test data of the data manager data_manager_dnalm_models from the suite's models.

- hub_cache/: the micro model (test-data/micro_model.zip) as the repository testorg/micro-dna
  at commit HUB_COMMIT, laid out as huggingface_hub lays out its cache
  (models--testorg--micro-dna/snapshots/<sha>/ and refs/main naming the sha);
- mistral_dna_1m_tf0.zip: the suite's Mistral-DNA tf0 classifier zip, unchanged;
- pickled_code_model.zip: a model whose only weights are a pickle that would call print
  when unpickled (the installer must refuse it unrun), with the micro config and the
  single-nucleotide tokenizer (a DNA tokenizer, so the weights are what is refused).
"""

import argparse
import shutil
import zipfile
from pathlib import Path

import torch
from dnalm.tokenization.fixed_vocabularies import build_fixed_vocabulary_tokenizer

REPO = Path(__file__).resolve().parents[1]
DATA_MANAGER_TEST_DATA = REPO / "data_managers" / "data_manager_dnalm_models" / "test-data"
HUB_REPO = "testorg/micro-dna"
HUB_COMMIT = "5d2b9e0c4a7f1e3d8b6a9c0f2e4d6b8a1c3e5f70"  # made up: a commit of the test cache


class RunsCode:
    """Unpickling this calls print: torch's weights_only loader refuses it first."""

    def __reduce__(self):
        return (print, ("THIS PICKLE RAN CODE",))


def write_hub_cache(micro_zip, cache):
    repo_dir = cache / f"models--{HUB_REPO.replace('/', '--')}"
    shutil.rmtree(repo_dir, ignore_errors=True)
    snapshot = repo_dir / "snapshots" / HUB_COMMIT
    snapshot.mkdir(parents=True)
    with zipfile.ZipFile(micro_zip) as archive:
        archive.extractall(snapshot)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(HUB_COMMIT)


def write_pickled_code_model(micro_zip, path, scratch):
    with zipfile.ZipFile(micro_zip) as archive:
        config = archive.read("config.json")
    pickled = scratch / "pytorch_model.bin"
    torch.save({"model.embed_tokens.weight": RunsCode()}, pickled)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", config)
        archive.writestr("tokenizer.json", build_fixed_vocabulary_tokenizer("char").to_str())
        archive.write(pickled, "pytorch_model.bin")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DATA_MANAGER_TEST_DATA))
    args = parser.parse_args()
    out = Path(args.out)
    micro_zip = REPO / "test-data" / "micro_model.zip"
    write_hub_cache(micro_zip, out / "hub_cache")
    shutil.copyfile(REPO / "test-data" / "mistral_dna_1m_tf0.zip", out / "mistral_dna_1m_tf0.zip")
    write_pickled_code_model(micro_zip, out / "pickled_code_model.zip", out)
    (out / "pytorch_model.bin").unlink()
    print(f"wrote the hub cache, mistral_dna_1m_tf0.zip and pickled_code_model.zip under {out}")


if __name__ == "__main__":
    main()
