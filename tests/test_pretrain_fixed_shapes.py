"""The pieces that take the launch overhead out of a GPU step, proved on the CPU.

* the chunked loss equals transformers' plain loss, value and gradient;
* with --compile every batch of a run has one shape (a CUDA graph replays one shape);
* the compiled path trains (torch.compile on the CPU, which needs a C compiler).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from dnalm.cli import main
from dnalm.tokenization.loading import load_tokenizer
from dnalm.training import presets
from dnalm.training.token_files import SequenceDataset
from dnalm.training.loss import CausalLMLoss, chunked_causal_lm_loss
from dnalm.training.packing import PackedCollator, fixed_shape_collator
from dnalm.training.pretraining_settings import PretrainingSettings
from dnalm.training.trainer import batch_collator
from helpers import read_fasta
from test_pretrain import FAST, WINDOWS, read_metrics, write_token_table
from transformers.loss.loss_utils import ForCausalLMLoss


def window_ids(count=None):
    tokenizer = load_tokenizer()
    sequences = [sequence for _, sequence in read_fasta(WINDOWS)][:count]
    return [encoding.ids for encoding in tokenizer.encode_batch(sequences)]


@pytest.mark.parametrize("num_items", [None, 300])
def test_chunked_loss_equals_the_plain_loss_and_its_gradient(num_items):
    torch.manual_seed(0)
    logits = torch.randn(6, 50, 4096, dtype=torch.float32) * 3
    labels = torch.randint(0, 4096, (6, 50))
    labels[:, 0] = -100  # first token of a packed sequence
    labels[2, 30:] = -100  # padding tail
    count = None if num_items is None else torch.tensor(num_items)

    plain_logits = logits.clone().requires_grad_()
    plain = ForCausalLMLoss(plain_logits, labels, 4096, num_items_in_batch=count)
    plain.backward()
    chunked_logits = logits.clone().requires_grad_()
    chunked = chunked_causal_lm_loss(chunked_logits, labels, count, chunk=64)  # 5 chunks, a short last one
    chunked.backward()

    torch.testing.assert_close(chunked, plain, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(chunked_logits.grad, plain_logits.grad, rtol=1e-5, atol=1e-8)
    targets = 6 * 49 - 20  # 49 shifted targets per row, row 2 ends after 30 tokens
    assert float(chunked.detach()) * (num_items or targets) / targets > 8.3  # logits x 3: worse than uniform


def test_chunked_loss_of_a_model_equals_the_models_own_loss():
    """Through the tiny model in bf16 autocast: the Trainer's loss function vs the model's."""
    tokenizer = load_tokenizer()
    config = presets.fit_config_to_tokenizer(presets.preset_config("tiny"), tokenizer)
    torch.manual_seed(0)
    model = presets.build_model(config, attention="sdpa")
    batch = PackedCollator(pad_token_id=3, row_length=128)([{"input_ids": i} for i in window_ids(12)])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                        labels=batch["labels"], use_cache=False)
    ours = CausalLMLoss(config.router_aux_loss_coef)(outputs, batch["labels"])
    torch.testing.assert_close(ours, outputs.loss, rtol=1e-6, atol=1e-6)
    assert 7.5 < float(ours.detach()) < 9.0  # about ln(4096) = 8.3 for a random init


def test_fixed_shape_batches_keep_one_shape_across_an_epoch():
    ids = window_ids()  # 400 real windows, 30 to 50 tokens
    lengths = [len(i) for i in ids]
    collator = fixed_shape_collator(pad_token_id=3, row_length=104, lengths=lengths, micro_batch=32)
    order = np.random.default_rng(1).permutation(len(ids))
    shapes, targets = set(), 0
    for start in range(0, len(ids), 32):  # the last batch holds 16 sequences
        batch = collator([{"input_ids": ids[i]} for i in order[start:start + 32]])
        shapes.add(tuple(batch["input_ids"].shape))
        assert batch["input_ids"].shape == batch["labels"].shape == batch["position_ids"].shape
        targets += int((batch["labels"] != -100).sum())
    assert shapes == {(collator.fixed_rows, 104)}
    assert sum(lengths) // 104 // 12 < collator.fixed_rows <= 32 // 2  # ~2 sequences per row
    assert targets == sum(n - 1 for n in lengths)  # padding rows carry no target

    # A batch of unusual lengths that needs more rows grows the shape, and says so.
    long_ones = [{"input_ids": list(range(100))} for _ in range(collator.fixed_rows + 2)]
    assert collator(long_ones)["input_ids"].shape == (collator.fixed_rows, 104)
    assert collator.fixed_rows == len(long_ones)


def test_compile_setting_picks_the_fixed_shape_collator():
    ids = window_ids(64)
    dataset = SequenceDataset(ids)
    settings = PretrainingSettings(batch_size=8, gradient_accumulation=2, compile=True)
    collator = batch_collator(3, 104, (dataset,), settings)
    assert collator.fixed_width and collator.fixed_rows > 0
    assert batch_collator(3, 104, (dataset,), PretrainingSettings(batch_size=8, gradient_accumulation=2)) \
        == PackedCollator(3, 104)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="torch.compile on the CPU needs a C compiler (cc)")
def test_compiled_training_runs_on_the_cpu_with_the_plain_runs_losses(tmp_path):
    """--compile (mode auto = default on a CPU): the same losses as the eager run, to fp32 rounding."""
    tokens = write_token_table(tmp_path / "t.parquet", read_fasta(WINDOWS)[:40])
    losses = {}
    for name, extra in (("eager", []), ("compiled", ["--compile"])):
        argv = ["pretrain", str(tokens), "-o", str(tmp_path / f"{name}.zip"), *FAST,
                "--batch-size", "16", "--max-steps", "2", "--logging-steps", "1",
                "--precision", "fp32", "--metrics", str(tmp_path / f"{name}.tsv"),
                "--checkpoint-dir", str(tmp_path / f"{name}_checkpoints"), *extra]
        assert main(argv) == 0
        losses[name] = [float(row["train_loss"]) for row in read_metrics(tmp_path / f"{name}.tsv")
                        if row["kind"] == "step"]
    assert len(losses["eager"]) == 2
    # Padding rows change nothing but the shapes; compiled kernels sum in another order.
    np.testing.assert_allclose(losses["compiled"], losses["eager"], rtol=1e-4)
    assert Path(tmp_path / "compiled.zip").stat().st_size > 0
