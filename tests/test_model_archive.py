"""Reading models safely: zip or folder, and every kind of bad archive refused in one line."""

import json
import zipfile

import pytest
from dnalm.cli import main
from dnalm.errors import DnalmError
from dnalm.io.model_archive import open_model
from helpers import MICRO_ZIP, MISTRAL_DNA, REPO

WINDOWS = REPO / "test-data" / "hg38_windows_small.fa"


@pytest.fixture(scope="module")
def micro_files():
    """name -> bytes of the micro model archive."""
    with zipfile.ZipFile(MICRO_ZIP) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def make_zip(path, files):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_zip_at_root_is_read(micro_files):
    with open_model(MICRO_ZIP) as model:
        assert model.model_type == "mixtral"
        assert model.max_positions == 128
        assert model.has_lm_head
        assert (model.directory / "model.safetensors").is_file()
        assert model.tokenizer().token_to_id("[CLS]") == 1
        extracted = model.directory
    assert not extracted.exists()  # the temporary folder is gone afterwards


def test_files_under_one_top_level_folder_are_read(tmp_path, micro_files):
    nested = make_zip(tmp_path / "nested.zip", {f"my_model/{n}": d for n, d in micro_files.items()})
    with open_model(nested) as model:
        assert model.directory.name == "my_model"
        assert model.config["hidden_size"] == 16


def test_a_directory_is_read_in_place():
    with open_model(MISTRAL_DNA) as model:
        assert model.directory == MISTRAL_DNA
        assert model.architecture == "MixtralForSequenceClassification"
        assert not model.has_lm_head  # only a classifier head ('score.weight')
        assert "score.weight" in model.weight_names


def bad_model(tmp_path, files, case):
    """(path, expected message) for one kind of bad model; only that archive is written."""
    config = json.loads(files["config.json"])
    without = lambda *names: {n: d for n, d in files.items() if n not in names}  # noqa: E731
    if case == "missing":
        return tmp_path / "nowhere.zip", "does not exist"
    if case == "not a zip":
        path = tmp_path / "not_a_zip.zip"
        path.write_text(">seq\nACGT\n")
        return path, "is not a zip archive"
    if case == "truncated":
        path = tmp_path / "truncated.zip"
        path.write_bytes(MICRO_ZIP.read_bytes()[: MICRO_ZIP.stat().st_size // 2])
        return path, "not a zip archive"
    contents, message = {
        "pickle only": ({**without("model.safetensors"), "pytorch_model.bin": b"\x80\x04not loaded"},
                        "only pickled weights (pytorch_model.bin)"),
        "no weights": (without("model.safetensors"), "has no model.safetensors"),
        "zip slip": ({**files, "../../evil.sh": b"echo owned"},
                     "'../../evil.sh' that points outside the archive folder"),
        "absolute": ({**files, "/tmp/evil.sh": b"x"}, "points outside the archive folder"),
        "unsupported type": ({**files, "config.json": json.dumps({**config, "model_type": "t5"})},
                             "model_type 't5', which dnalm does not support"),
        "no tokenizer": (without("tokenizer.json"), "has no tokenizer.json"),
        "no config": (without("config.json"), "has no config.json"),
        "bad safetensors": ({**files, "model.safetensors": b"garbage" * 10},
                            "model.safetensors is not a valid safetensors file"),
    }[case]
    return make_zip(tmp_path / "bad.zip", contents), message


@pytest.mark.parametrize("case", [
    "missing", "not a zip", "truncated", "pickle only", "no weights", "zip slip", "absolute",
    "unsupported type", "no tokenizer", "no config", "bad safetensors",
])
def test_bad_models_are_refused(tmp_path, micro_files, case):
    path, message = bad_model(tmp_path, micro_files, case)
    with pytest.raises(DnalmError, match=message.replace("(", r"\(").replace(")", r"\)")):
        with open_model(path):
            pass


@pytest.mark.parametrize("command", ["embed", "score"])
def test_cli_bad_model_one_line_exit_1_no_output(tmp_path, micro_files, capsys, command):
    slip = make_zip(tmp_path / "slip.zip", {**micro_files, "../evil.sh": b"x"})
    out = tmp_path / "out.tsv"
    assert main([command, str(slip), str(WINDOWS), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"dnalm {command}: error: model ")
    assert "outside the archive folder" in err[0]
    assert not out.exists() and list(tmp_path.iterdir()) == [slip]
    assert not (tmp_path.parent / "evil.sh").exists()


def test_generate_refuses_bad_model(tmp_path, micro_files, capsys):
    pickled = make_zip(tmp_path / "pickle.zip", {
        **{n: d for n, d in micro_files.items() if n != "model.safetensors"},
        "pytorch_model.bin": b"never unpickled",
    })
    out = tmp_path / "gen.fa"
    assert main(["generate", str(pickled), "-o", str(out)]) == 1
    assert "only pickled weights" in capsys.readouterr().err
    assert not out.exists()


def test_a_tokenizer_that_is_not_json_is_refused(tmp_path, micro_files):
    path = make_zip(tmp_path / "badtok.zip", {**micro_files, "tokenizer.json": b"{not json"})
    with pytest.raises(DnalmError, match="tokenizer.json is not a valid tokenizer"):
        with open_model(path):
            pass


def test_loading_is_quiet_only_while_it_loads():
    """transformers' warnings and progress bars are off during a load and back afterwards."""
    from dnalm.inference.model_loading import load_base_model
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_info()
    transformers_logging.enable_progress_bar()
    try:
        with open_model(MICRO_ZIP) as files:
            model = load_base_model(files, "cpu")
        assert model.config.hidden_size == 16
        assert transformers_logging.get_verbosity() == transformers_logging.INFO
        assert transformers_logging.is_progress_bar_enabled()
    finally:
        transformers_logging.set_verbosity_warning()


def test_a_failed_load_is_one_line_naming_the_model():
    from dnalm.io.checkpoint_loading import loading_checkpoint

    with pytest.raises(DnalmError) as raised:
        with loading_checkpoint("upload.zip"):
            raise OSError("Error no file named model.safetensors found\nsecond line of detail")
    assert str(raised.value) == "model upload.zip cannot be loaded: Error no file named model.safetensors found"
