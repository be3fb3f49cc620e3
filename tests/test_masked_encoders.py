"""Masked LMs (ESM/Nucleotide Transformer, BERT/DNABERT-1, ModernBERT) through embed,
fine-tune -> predict, generate and tokenize, each checked against plain transformers on the
tiny random models of test-data (tests/make_masked_models.py)."""

import json
import zipfile

import numpy as np
import pytest
import torch
from dnalm.cli import main
from tokenizers import Tokenizer
from dnalm.inference.classification import load_classifier, predict_logits
from dnalm.io.model_archive import open_model
from dnalm.io.model_tokenizers import OverlappingKmerTokenizer
from dnalm.io.token_table import read_token_table
from dnalm.training.classifier_model import HEAD_MODULES
from helpers import TEST_DATA, expect_error, read_fasta, read_rows, write_fasta

MASKED = ("esm", "bert", "modernbert")
MODELS = {name: TEST_DATA / f"masked_{name}.zip" for name in MASKED}
TRAIN, TEST = TEST_DATA / "tata_train_small.csv", TEST_DATA / "tata_test_small.csv"
# What the issue asks LoRA to adapt in each architecture.
ISSUE_LORA_TARGETS = {"esm": {"query", "key", "value", "dense"},
                      "bert": {"query", "key", "value", "dense"}, "modernbert": {"Wqkv", "Wo"}}
ATOL = 1e-6


def unzipped(model_zip, folder):
    with zipfile.ZipFile(model_zip) as archive:
        archive.extractall(folder)
    return folder


def reference_text(name, sequence):
    """What transformers' tokenizer is given: DNABERT-1 reads a sequence as overlapping 6-mers."""
    if name != "bert":
        return sequence
    return " ".join(sequence[i:i + 6] for i in range(max(len(sequence) - 5, 1)))


def reference_ids(tokenizer, name, sequences, **options):
    return [tokenizer(reference_text(name, s), **options)["input_ids"] for s in sequences]


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    """Windows of hg38_windows_small.fa cut to many lengths (6 to 111 bases, so that batches
    are padded and every model's context holds them), and an N; as a FASTA file."""
    records = [(name, sequence[:6 + 15 * (i % 8)]) for i, (name, sequence)
               in enumerate(read_fasta(TEST_DATA / "hg38_windows_small.fa", limit=24))]
    records[3] = (records[3][0], records[3][1][:20] + "N" + records[3][1][21:])
    return write_fasta(tmp_path_factory.mktemp("masked") / "windows.fa", records), records


@pytest.fixture(scope="module", params=MASKED)
def reference(request, tmp_path_factory):
    """``(name, model folder, transformers tokenizer)`` of one masked model, unpacked."""
    from transformers import AutoTokenizer

    folder = unzipped(MODELS[request.param], tmp_path_factory.mktemp(request.param))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    expected = {"esm": "EsmTokenizer", "bert": "BertTokenizer", "modernbert": "TokenizersBackend"}
    assert type(tokenizer).__name__ == expected[request.param]  # transformers' own classes
    return request.param, folder, tokenizer


# --- embed -------------------------------------------------------------------------------------

@pytest.mark.parametrize("pooling, layer, no_special", [
    ("mean", -1, False), ("max", -1, True), ("mean", 1, True), ("cls", 2, True), ("first", 0, False)])
def test_embeddings_equal_transformers_hidden_states(tmp_path, reference, sequences, pooling,
                                                     layer, no_special):
    from transformers import AutoModel

    name, folder, tokenizer = reference
    fasta, records = sequences
    out = tmp_path / "e.npy"
    assert main(["embed", str(MODELS[name]), str(fasta), "-o", str(out), "--output-format", "npy",
                 "--pooling", pooling, "--layer", str(layer), "--batch-size", "8"]
                + (["--no-special-tokens"] if no_special else [])) == 0
    ours = np.load(out)
    options = {"add_pooling_layer": False} if name != "modernbert" else {}
    model = AutoModel.from_pretrained(str(folder), **options).eval()
    specials = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}  # an N k-mer is real DNA
    expected = []
    for ids in reference_ids(tokenizer, name, [s for _, s in records]):
        with torch.no_grad():
            output = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        hidden = (output.last_hidden_state if layer == -1 else output.hidden_states[layer])[0]
        assert ids[0] in specials  # [CLS] / <cls>: what cls pooling reads
        if pooling == "cls":
            expected.append(hidden[0])
            continue
        kept = hidden[[i for i, token in enumerate(ids) if not (no_special and token in specials)]]
        expected.append({"mean": kept.mean(0), "max": kept.max(0).values, "first": kept[0]}[pooling])
    np.testing.assert_allclose(ours, torch.stack(expected).numpy(), rtol=0, atol=ATOL)
    assert ours.shape == (len(records), 16)


def test_every_layer_of_each_encoder_can_be_read_and_one_more_is_refused(tmp_path, capsys, sequences):
    fasta, _ = sequences
    for name in MASKED:
        layers = [np.load(out) for out in _embed_layers(tmp_path / name, MODELS[name], fasta)]
        assert all(not np.allclose(layers[i], layers[i + 1]) for i in range(2)), name
    out = tmp_path / "too_deep.npy"
    expect_error(capsys, ["embed", str(MODELS["esm"]), str(fasta), "-o", str(out), "--layer", "3"],
                 "--layer 3 is out of range: the model has 2 layers", [out])


def _embed_layers(folder, model, fasta):
    folder.mkdir()
    for layer in range(3):
        out = folder / f"{layer}.npy"
        assert main(["embed", str(model), str(fasta), "-o", str(out), "--output-format", "npy",
                     "--layer", str(layer)]) == 0
        yield out


def test_cls_pooling_needs_a_tokenizer_that_puts_a_special_token_first(tmp_path, capsys, sequences):
    fasta, records = sequences
    out = tmp_path / "e.tsv"
    micro = TEST_DATA / "micro_model.zip"  # its tokenizer adds [CLS]: cls is allowed
    assert main(["embed", str(micro), str(fasta), "-o", str(out), "--pooling", "cls"]) == 0
    first = tmp_path / "first.tsv"
    assert main(["embed", str(micro), str(fasta), "-o", str(first), "--pooling", "first"]) == 0
    assert out.read_text() == first.read_text()  # with the special tokens pooled, first is [CLS]
    plain = tmp_path / "plain"  # a model folder whose tokenizer adds no special token
    unzipped(MODELS["modernbert"], plain)
    tokenizer = json.loads((plain / "tokenizer.json").read_text())
    tokenizer["post_processor"] = None
    (plain / "tokenizer.json").write_text(json.dumps(tokenizer))
    refused = tmp_path / "refused.tsv"
    expect_error(capsys, ["embed", str(plain), str(fasta), "-o", str(refused), "--pooling", "cls"],
                 f"record {records[0][0]}: --pooling cls reads the special token", [refused])


# --- fine-tune -> predict ----------------------------------------------------------------------

@pytest.fixture(scope="module", params=MASKED)
def finetuned(request, tmp_path_factory):
    """``(name, fine-tuned zip, its folder, the base model's folder, report)``: LoRA, defaults."""
    name = request.param
    folder = tmp_path_factory.mktemp(f"finetuned_{name}")
    out, report = folder / "classifier.zip", folder / "report.html"
    assert main(["finetune", str(MODELS[name]), str(TRAIN), "-o", str(out), "--epochs", "1",
                 "--learning-rate", "1e-3", "--precision", "fp32", "--report", str(report)]) == 0
    return (name, out, unzipped(out, folder / "unzipped"),
            unzipped(MODELS[name], folder / "base"), report.read_text())


def test_lora_adapts_the_architectures_attention_layers_and_merges(finetuned):
    from safetensors.torch import load_file

    name, _, folder, base_folder, report = finetuned
    config = json.loads((folder / "config.json").read_text())
    architecture = {"esm": "Esm", "bert": "Bert", "modernbert": "ModernBert"}[name]
    assert config["architectures"] == [f"{architecture}ForSequenceClassification"]
    assert config["id2label"] == {"0": "0", "1": "1"}
    tuned = load_file(str(folder / "model.safetensors"))
    base = load_file(str(base_folder / "model.safetensors"))
    assert not [key for key in tuned if "lora" in key or "modules_to_save" in key]
    head = HEAD_MODULES[name]
    changed = {key for key in base if key in tuned and not torch.equal(base[key], tuned[key])
               and not set(key.split(".")) & set(head)}
    # Exactly the weights (not the biases) of the layers LoRA adapts moved; the rest is the base.
    adapted = {key for key in base if key.endswith(".weight") and key in tuned
               and key.split(".")[-2] in ISSUE_LORA_TARGETS[name]
               and not set(key.split(".")) & set(head)}
    assert changed == adapted and len(adapted) == {"modernbert": 6}.get(name, 12)
    assert f"auto: {','.join(sorted(ISSUE_LORA_TARGETS[name], key=_issue_order(name)))}" in report


def _issue_order(name):
    order = {"esm": "query,key,value,dense", "bert": "query,key,value,dense", "modernbert": "Wqkv,Wo"}
    return order[name].split(",").index


def test_the_tokenizer_travels_with_the_classifier(finetuned):
    name, classifier, folder, base_folder, _ = finetuned
    with open_model(classifier) as tuned, open_model(MODELS[name]) as base:
        assert tuned.has_classification_head and not base.has_classification_head
        assert tuned.tokenizer_json == base.tokenizer_json
        assert isinstance(tuned.tokenizer(), OverlappingKmerTokenizer) == (name == "bert")
    expected = {"tokenizer.json"} if name == "modernbert" else {"vocab.txt"}
    assert expected <= {path.name for path in folder.iterdir()}


def test_predict_equals_transformers_classifier(tmp_path, finetuned, sequences):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    name, classifier, folder, _, _ = finetuned
    out = tmp_path / "p.tsv"
    assert main(["predict", str(classifier), str(TEST), "-o", str(out)]) == 0
    rows = read_rows(out)
    ours = np.array([[float(row["probability_0"]), float(row["probability_1"])] for row in rows])
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    test_sequences = [line.split(",")[0] for line in TEST.read_text().splitlines()[1:]]

    def logits(texts):
        with torch.no_grad():
            return torch.cat([model(input_ids=torch.tensor([ids])).logits
                              for ids in reference_ids(tokenizer, name, texts)]).numpy()

    expected = logits(test_sequences)
    np.testing.assert_allclose(ours, torch.softmax(torch.tensor(expected), -1).numpy(),
                               rtol=0, atol=ATOL)
    # Sequences of many lengths, padded in batches: each gets the logits it gets alone.
    _, records = sequences
    texts = [s for _, s in records]
    with open_model(classifier) as files:
        ids = [files.tokenizer().encode(s).ids for s in texts]
        assert ids == reference_ids(tokenizer, name, texts)
        ours = predict_logits(load_classifier(files, device="cpu"), ids, model.config.pad_token_id,
                              batch_size=8)
    # (padding changes the order of float32 sums: a few units in the last place)
    np.testing.assert_allclose(ours, logits(texts), rtol=ATOL, atol=ATOL)


def test_the_predict_tools_bert_classifier_gives_what_transformers_gives(tmp_path):
    """test-data/masked_bert_classifier.zip (tests/make_masked_classifier.py), whose numbers the
    predict tool's test asserts."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = unzipped(TEST_DATA / "masked_bert_classifier.zip", tmp_path / "classifier")
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    first = TEST.read_text().splitlines()[1].split(",")[0]
    with torch.no_grad():
        expected = torch.softmax(model(**tokenizer(reference_text("bert", first),
                                                   return_tensors="pt")).logits, -1)[0]
    out = tmp_path / "p.tsv"
    assert main(["predict", str(folder), str(TEST), "-o", str(out)]) == 0
    row = read_rows(out)[0]
    assert (row["id"], row["label"], row["predicted"]) == ("1", "0", "0")
    ours = [float(row["probability_0"]), float(row["probability_1"])]
    np.testing.assert_allclose(ours, expected.numpy(), rtol=0, atol=ATOL)
    assert f"{ours[0]:.6f}".startswith("0.51842")  # the tool's test


def test_mutagenesis_takes_a_fine_tuned_encoder_as_a_classifier(tmp_path, finetuned):
    _, classifier, _, _, _ = finetuned
    fasta = write_fasta(tmp_path / "one.fa", [("s", "ACGTACGTTAGCAATG")])
    out = tmp_path / "m.tsv"
    assert main(["mutagenesis", str(classifier), "--sequences", str(fasta), "-o", str(out)]) == 0
    assert len(read_rows(out)) == 16 * 3  # every other base at every position


# --- generate ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MASKED)
def test_generate_refuses_a_masked_lm(tmp_path, capsys, name):
    out = tmp_path / "g.fa"
    expect_error(capsys, ["generate", str(MODELS[name]), "-o", str(out), "--num-sequences", "2"],
                 "is a masked LM", [out])


# --- tokenize ----------------------------------------------------------------------------------

def test_tokenize_with_a_models_tokenizer_gives_its_ids(tmp_path, reference, sequences):
    name, folder, tokenizer = reference
    fasta, records = sequences
    texts = [s for _, s in records]
    # A model zip, and a folder of its tokenizer files alone (no config.json, no weights).
    files_only = tmp_path / "tokenizer_files"
    files_only.mkdir()
    for path in folder.iterdir():
        if path.name in ("vocab.txt", "tokenizer_config.json", "tokenizer.json"):
            (files_only / path.name).write_bytes(path.read_bytes())
    for spec in (MODELS[name], files_only):
        out = tmp_path / f"{spec.name}.parquet"
        assert main(["tokenize", str(fasta), "--tokenizer", str(spec), "-o", str(out)]) == 0
        table, tokenizer_json = read_token_table(out)
        assert table.column("input_ids").to_pylist() == reference_ids(tokenizer, name, texts)
        with open_model(MODELS[name]) as files:  # the model's tokenizer, as the table keeps it
            assert Tokenizer.from_str(tokenizer_json).to_str() == \
                Tokenizer.from_str(files.tokenizer_json).to_str()
    cut = tmp_path / "cut.parquet"
    assert main(["tokenize", str(fasta), "--tokenizer", str(MODELS[name]), "--max-length", "9",
                 "-o", str(cut)]) == 0
    table, _ = read_token_table(cut)
    assert table.column("input_ids").to_pylist() == reference_ids(
        tokenizer, name, texts, truncation=True, max_length=9)


def test_a_token_table_made_with_a_models_tokenizer_embeds_as_its_sequences(tmp_path, sequences):
    fasta, _ = sequences
    table, from_table, from_fasta = tmp_path / "t.parquet", tmp_path / "a.npy", tmp_path / "b.npy"
    assert main(["tokenize", str(fasta), "--tokenizer", str(MODELS["bert"]), "-o", str(table)]) == 0
    for source, out in ((table, from_table), (fasta, from_fasta)):
        assert main(["embed", str(MODELS["bert"]), str(source), "-o", str(out),
                     "--output-format", "npy"]) == 0
    np.testing.assert_array_equal(np.load(from_table), np.load(from_fasta))
