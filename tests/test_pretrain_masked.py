"""dnalm pretrain --objective masked: a ModernBERT learns hidden 3-mers of real hg38 windows.

One training run (module fixture, the cpu-masked preset on 3-mer tokens) is shared by the
tests that inspect its outputs; the masking itself is checked on large seeded batches.
"""

import math
import zipfile

import numpy as np
import pytest
import torch
from transformers import AutoModelForMaskedLM, EvalPrediction

from dnalm.cli import main
from dnalm.inference.model_loading import load_masked_lm
from dnalm.io.model_archive import open_model
from dnalm.io.token_table import TokenTableWriter
from dnalm.tokenization.loading import load_tokenizer, to_transformers
from dnalm.training.loss import chunked_cross_entropy
from dnalm.training.masking import MaskedLMCollator, MaskedOnce, masked_token_accuracy
from dnalm.training.token_files import SequenceDataset
from dnalm.training.trainer import most_likely_tokens
from helpers import expect_error, read_fasta
from test_pretrain import WINDOWS, read_metrics, write_token_table

MASKED = ["--objective", "masked", "--preset", "cpu-masked", "--precision", "fp32"]


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    return write_token_table(tmp_path_factory.mktemp("data") / "tokens.parquet", read_fasta(WINDOWS),
                             "kmer:3")


@pytest.fixture(scope="module")
def trained(tokens, tmp_path_factory):
    """cpu-masked for 3 epochs of 10 steps on 320 windows of 3-mers (validated on 80)."""
    out = tmp_path_factory.mktemp("masked")
    argv = ["pretrain", str(tokens), "-o", str(out / "model.zip"), *MASKED, "--epochs", "3",
            "--learning-rate", "3e-3", "--metrics", str(out / "metrics.tsv"),
            "--report", str(out / "report.html"), "--checkpoint-dir", str(out / "checkpoints")]
    assert main(argv) == 0
    return out


def kmer3():
    return to_transformers(load_tokenizer("kmer:3"))


def random_windows(n, generator):
    """``n`` windows of [CLS] + 3-mer ids + [SEP], 40 to 69 tokens long."""
    tokenizer = kmer3()
    words = np.arange(5, len(tokenizer))
    lengths = generator.integers(40, 70, size=n)
    return [np.concatenate([[tokenizer.cls_token_id], generator.choice(words, size=length - 2),
                            [tokenizer.sep_token_id]]) for length in lengths]


def test_masked_pretraining_lowers_the_masked_loss(trained, capsys):
    epochs = [row for row in read_metrics(trained / "metrics.tsv") if row["kind"] == "epoch"]
    losses = [float(row["val_loss"]) for row in epochs]
    assert len(losses) == 3
    # From about a uniform guess over the 64 3-mers (ln 64 = 4.159) downwards.
    assert losses[-1] < losses[0] < 4.3
    assert losses[-1] < math.log(64)
    assert all(0.0 < float(row["accuracy"]) < 1.0 for row in epochs)


def test_report_and_log_say_masked(trained):
    report = (trained / "report.html").read_text()
    assert "masked: 15% of each window" in report
    assert "ModernBertForMaskedLM" in report
    assert "one window each, padded to the batch" in report


def test_the_log_says_which_objective(tokens, tmp_path, capsys):
    argv = ["pretrain", str(tokens), "-o", "m.zip", *MASKED, "--max-steps", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "model: modernbert (preset cpu-masked)" in out
    assert "objective: masked: 15% of each window's tokens chosen" in out


def test_saved_model_is_a_masked_lm_whose_logits_match_plain_transformers(trained):
    with zipfile.ZipFile(trained / "model.zip") as archive:
        assert '"ModernBertForMaskedLM"' in archive.read("config.json").decode()
    with open_model(trained / "model.zip") as files:
        assert (files.is_masked_lm, files.has_lm_head, files.objective) == (True, True, "masked")
        assert files.tokenizer().token_to_id("[MASK]") == 4
        ours = load_masked_lm(files, device="cpu")
        plain = AutoModelForMaskedLM.from_pretrained(str(files.directory), dtype=torch.float32).eval()
    ids = torch.tensor([[1, 4, 20, 4, 33, 60, 2]])  # [CLS] [MASK] ... [SEP]
    with torch.no_grad():
        ours_logits, plain_logits = ours(input_ids=ids).logits, plain(input_ids=ids).logits
    assert ours_logits.shape == (1, 7, 69)
    assert torch.equal(ours_logits, plain_logits)


def test_continuing_a_masked_model_trains_it_masked(trained, tokens, tmp_path, capsys):
    argv = ["pretrain", str(tokens), "-o", "more.zip", "--objective", "masked",
            "--init-model", str(trained / "model.zip"), "--max-steps", "2", "--precision", "fp32"]
    assert main(argv) == 0
    assert "objective: masked" in capsys.readouterr().out
    with open_model("more.zip") as files:
        assert files.is_masked_lm and files.has_lm_head


def test_masking_chooses_15_percent_of_the_tokens_and_hides_them_80_10_10():
    """A seeded batch of 2,000 windows (~110,000 tokens): BERT's proportions, never a special."""
    tokenizer = kmer3()
    windows = random_windows(2000, np.random.default_rng(0))
    torch.manual_seed(0)
    batch = MaskedLMCollator(tokenizer)([{"input_ids": ids} for ids in windows])
    originals = torch.full_like(batch["input_ids"], tokenizer.pad_token_id)
    for row, ids in enumerate(windows):
        originals[row, : len(ids)] = torch.as_tensor(ids)
    special = torch.isin(originals, torch.tensor(tokenizer.all_special_ids))
    chosen = batch["labels"] != -100
    assert not chosen[special].any()  # never [CLS], [SEP] or padding
    assert torch.equal(batch["labels"][chosen], originals[chosen])
    assert torch.equal(batch["attention_mask"].bool(), originals != tokenizer.pad_token_id)
    share = chosen.sum().item() / (~special).sum().item()
    assert share == pytest.approx(0.15, abs=0.005)
    shown = batch["input_ids"][chosen]
    as_mask = (shown == tokenizer.mask_token_id).float().mean().item()
    kept = (shown == originals[chosen]).float().mean().item()
    other = 1 - as_mask - kept
    # a random replacement draws the token it replaces 1 time in 69
    assert as_mask == pytest.approx(0.8, abs=0.01)
    assert kept == pytest.approx(0.1 + 0.1 / 69, abs=0.01)
    assert other == pytest.approx(0.1 * 68 / 69, abs=0.01)
    assert torch.equal(batch["input_ids"][~chosen], originals[~chosen])  # the rest as they were


def test_the_validation_windows_are_masked_once_the_same_for_every_evaluation():
    tokenizer = kmer3()
    windows = SequenceDataset(random_windows(300, np.random.default_rng(1)))
    first, again = MaskedOnce(windows, tokenizer, seed=42), MaskedOnce(windows, tokenizer, seed=42)
    other_seed = MaskedOnce(windows, tokenizer, seed=7)
    assert len(first) == 300
    assert all(np.array_equal(first[i]["labels"], again[i]["labels"]) and
               np.array_equal(first[i]["input_ids"], again[i]["input_ids"]) for i in range(300))
    assert not all(np.array_equal(first[i]["labels"], other_seed[i]["labels"]) for i in range(300))
    # the trainer's collator pads a masked validation window and masks nothing more
    batch = MaskedLMCollator(tokenizer)([first[0], first[1]])
    n = len(windows[0]["input_ids"])
    assert batch["input_ids"][0, :n].tolist() == first[0]["input_ids"].tolist()
    assert batch["labels"][0, :n].tolist() == first[0]["labels"].tolist()
    assert (batch["labels"][0, n:] == -100).all()


def test_masked_accuracy_and_loss_equal_a_direct_computation(trained):
    """Through the trainer's own functions, on a masked batch and the trained model's logits."""
    tokenizer = kmer3()
    windows = MaskedOnce(SequenceDataset(random_windows(64, np.random.default_rng(2))), tokenizer, 3)
    batch = MaskedLMCollator(tokenizer)([windows[i] for i in range(64)])
    with open_model(trained / "model.zip") as files:
        model = load_masked_lm(files, device="cpu")
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"]
    predicted = most_likely_tokens(logits, labels)
    accuracy = masked_token_accuracy(EvalPrediction(predicted.numpy(), labels.numpy()))["accuracy"]
    right = total = 0
    for row in range(labels.shape[0]):
        for position in range(labels.shape[1]):
            if labels[row, position] != -100:
                total += 1
                right += int(logits[row, position].argmax() == labels[row, position])
    assert total > 500 and accuracy == right / total
    loss = chunked_cross_entropy(logits, labels)
    direct = torch.nn.functional.cross_entropy(logits.reshape(-1, 69), labels.reshape(-1))
    assert loss.item() == pytest.approx(direct.item(), rel=1e-6)


@pytest.mark.parametrize("argv, message", [
    (["--objective", "masked", "--preset", "cpu-dense"],
     "preset cpu-dense is a causal LM (mistral): pretrain it with --objective causal"),
    (["--preset", "cpu-masked"],
     "preset cpu-masked is a masked LM (modernbert): pretrain it with --objective masked"),
])
def test_a_model_of_the_other_kind_than_the_objective_is_refused(tokens, capsys, argv, message):
    expect_error(capsys, ["pretrain", str(tokens), "-o", "m.zip", *argv], message, ["m.zip"])


def test_a_masked_model_is_not_continued_causal(trained, tokens, capsys):
    expect_error(capsys, ["pretrain", str(tokens), "-o", "m.zip", "--init-model",
                          str(trained / "model.zip")],
                 "is a masked LM (modernbert): pretrain it with --objective masked", ["m.zip"])


def test_a_tokenizer_without_a_mask_token_is_refused(tmp_path, capsys):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "A": 4, "C": 5, "G": 6, "T": 7}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tokenizer.add_special_tokens(["[UNK]", "[CLS]", "[SEP]", "[PAD]"])
    with TokenTableWriter(tmp_path / "t.parquet", tokenizer.to_str()) as writer:
        writer.write({"id": ["a", "b", "c"], "input_ids": [[1, 4, 5, 2], [1, 6, 7, 2], [1, 4, 2]]})
    expect_error(capsys, ["pretrain", "t.parquet", "-o", "m.zip", *MASKED],
                 "its tokenizer has no mask token ([MASK]): --objective masked needs one", ["m.zip"])
