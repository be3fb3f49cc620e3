"""The CUDA path: training steps, packed rows, grouped-GEMM experts, embed/score/generate.

Marked ``gpu`` and skipped where no CUDA device is visible. ``bench/gpu_check.sh``
runs them on a GPU machine (``pytest -m gpu``). With ``DNALM_TEST_DEVICE=cpu``
the same tests run on the CPU instead (the "device" side then runs in bf16 on
the CPU where a test asks for bf16), which checks their logic where there is no
GPU; the tolerances are the ones the GPU must meet.
"""

import csv
import math
import os
import zipfile

import numpy as np
import pytest
import torch
from helpers import MICRO_ZIP, MISTRAL_DNA, REPO, read_fasta

DEVICE = torch.device(os.environ.get("DNALM_TEST_DEVICE", "cuda"))
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(DEVICE.type == "cuda" and not torch.cuda.is_available(),
                       reason="no CUDA device (DNALM_TEST_DEVICE=cpu runs these on the CPU)"),
]

WINDOWS = REPO / "tests" / "data" / "pretrain_windows.fa"  # 400 real hg38 windows
# The tutorial's model on a GPU; its tiny sibling where the CPU stands in.
PRESET = "tutorial" if DEVICE.type == "cuda" else "tiny"


@pytest.fixture(autouse=True)
def full_fp32_matmuls():
    """fp32 means fp32: no TF32 (the Trainer turns it on for the whole process on a GPU)."""
    before = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.set_float32_matmul_precision(before[0])
    torch.backends.cudnn.allow_tf32 = before[1]


@pytest.fixture(scope="module")
def tokenizer():
    from dnalm.tokenization.loading import load_tokenizer

    return load_tokenizer()


@pytest.fixture(scope="module")
def window_ids(tokenizer):
    return [e.ids for e in tokenizer.encode_batch([seq for _, seq in read_fasta(WINDOWS)])]


def fresh_model(tokenizer, preset=PRESET, attention="sdpa", experts="grouped_mm", seed=0):
    from dnalm.training import presets

    torch.manual_seed(seed)
    config = presets.fit_config_to_tokenizer(presets.preset_config(preset), tokenizer)
    return presets.build_model(config, attention=attention, experts=experts).to(DEVICE)


def autocast(bf16):
    return torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=bf16)


def relative_error(actual, expected):
    """||actual - expected|| / ||expected|| over the whole matrix (Frobenius)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


def row_agreement(actual, expected):
    """How closely each row (one sequence's vector) agrees: relative errors and cosines."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    norms = np.linalg.norm(expected, axis=1)
    errors = np.linalg.norm(actual - expected, axis=1) / norms
    cosines = (actual * expected).sum(1) / norms / np.linalg.norm(actual, axis=1)
    return {"relative_error": relative_error(actual, expected),
            "median_row_error": float(np.median(errors)), "max_row_error": float(errors.max()),
            "min_cosine": float(cosines.min())}


# --- training -------------------------------------------------------------------------------

def test_attention_auto_without_flash_attn():
    """What --attention auto trains with here: SDPA on a GPU without the flash-attn package."""
    from dnalm.runtime.hardware import attention_implementation, flash_attention_installed

    picked = attention_implementation("auto", bf16=True)
    if DEVICE.type == "cuda":
        assert picked == ("flash_attention_2" if flash_attention_installed() else "sdpa")
    else:
        assert picked in ("eager", "sdpa")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_pretrain_one_step(tmp_path, capsys, precision):
    from dnalm.cli import main
    from dnalm.io.token_table import TokenTableWriter
    from dnalm.tokenization.loading import load_tokenizer

    tokenizer = load_tokenizer()
    records = read_fasta(WINDOWS)
    ids = [e.ids for e in tokenizer.encode_batch([seq for _, seq in records])]
    tokens = tmp_path / "tokens.parquet"
    with TokenTableWriter(tokens, tokenizer.to_str()) as writer:
        writer.write({"id": [name for name, _ in records], "input_ids": ids})
    argv = ["pretrain", str(tokens), "-o", str(tmp_path / "m.zip"), "--preset", PRESET,
            "--gradient-accumulation", "4", "--max-steps", "1", "--logging-steps", "1",
            "--precision", precision, "--metrics", str(tmp_path / "m.tsv"),
            "--checkpoint-dir", str(tmp_path / "ck")]
    if DEVICE.type == "cpu" and torch.cuda.is_available():
        pytest.skip("the CLI trains on the GPU when one is visible")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"; {precision}" in out
    if DEVICE.type == "cuda":
        assert "GPU(s)" in out  # not a silent fall-back to the CPU
    with open(tmp_path / "m.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    loss = float(next(row["train_loss"] for row in rows if row["train_loss"]))
    assert abs(loss - math.log(4096)) < 1.0, loss  # a fresh model guesses about uniformly
    with zipfile.ZipFile(tmp_path / "m.zip") as archive:
        assert archive.getinfo("model.safetensors").file_size > 0


@pytest.mark.parametrize("bf16", [True, False], ids=["bf16", "fp32"])
def test_packed_rows_give_the_per_token_loss_of_unpacked_rows(tokenizer, window_ids, bf16,
                                                              record_property):
    """Packed rows (the attention --attention auto picks) vs the tutorial's padded rows."""
    import torch.nn.functional as F
    from dnalm.runtime.hardware import attention_implementation
    from dnalm.training.packing import PackedCollator, pack_into_rows

    sequences = window_ids[:48]
    attention = attention_implementation("auto", bf16=bf16)
    model = fresh_model(tokenizer, attention=attention).eval()
    batch = PackedCollator(pad_token_id=3, row_length=256)([{"input_ids": s} for s in sequences])
    batch = {key: value.to(DEVICE) for key, value in batch.items()}

    def per_token_losses(logits, labels):
        return F.cross_entropy(logits[:, :-1].float().transpose(1, 2), labels[:, 1:],
                               reduction="none", ignore_index=-100)

    with torch.no_grad(), autocast(bf16):
        packed_logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                              use_cache=False).logits
        packed = per_token_losses(packed_logits, batch["labels"])
        # Unpacked: one sequence per row, right-padded, with an attention mask.
        width = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), width), 3, dtype=torch.long, device=DEVICE)
        mask = torch.zeros_like(input_ids)
        for row, sequence in enumerate(sequences):
            input_ids[row, :len(sequence)] = torch.tensor(sequence)
            mask[row, :len(sequence)] = 1
        labels = torch.where(mask.bool(), input_ids, -100)
        unpacked = per_token_losses(model(input_ids=input_ids, attention_mask=mask,
                                          use_cache=False).logits, labels)

    alone = {}
    for row, sequences_in_row in enumerate(pack_into_rows(sequences, 256)):
        start = 0
        for sequence in sequences_in_row:
            # labels[start] is -100, so the packed losses of this sequence are start .. end-2
            alone.setdefault(tuple(sequence), []).append(
                packed[row, start:start + len(sequence) - 1])
            start += len(sequence)
    worst, total_packed, total_unpacked = 0.0, 0.0, 0.0
    for row, sequence in enumerate(sequences):
        from_packed = alone[tuple(sequence)].pop()
        from_unpacked = unpacked[row, :len(sequence) - 1]
        worst = max(worst, float((from_packed - from_unpacked).abs().max()))
        total_packed += float(from_packed.sum())
        total_unpacked += float(from_unpacked.sum())
    tokens = sum(len(s) - 1 for s in sequences)
    mean_difference = abs(total_packed - total_unpacked) / tokens
    record_property("attention", attention)
    record_property("loss_differences", {"mean": mean_difference, "worst_token": worst})
    assert mean_difference < (5e-3 if bf16 else 1e-5)
    assert worst < (0.1 if bf16 else 1e-3), worst


@pytest.mark.parametrize("implementation", ["grouped_mm", "grouped_mm_autocast"])
@pytest.mark.parametrize("mode", ["bf16-weights", "fp32-weights-bf16-autocast", "fp32"])
def test_grouped_mm_experts_match_eager(tokenizer, mode, implementation, record_property):
    """One MoE experts layer of the tutorial model: grouped GEMM vs the per-expert loop.

    Training runs the middle mode (fp32 weights under bf16 autocast): transformers'
    grouped_mm then multiplies in fp32, dnalm.runtime.autocast_experts in bf16.
    """
    import copy

    from dnalm.runtime import autocast_experts
    from dnalm.training import presets
    from transformers.models.mixtral.modeling_mixtral import MixtralExperts

    autocast_experts.register()
    config = presets.fit_config_to_tokenizer(presets.preset_config(PRESET), tokenizer)
    torch.manual_seed(0)
    eager_config, grouped_config = copy.deepcopy(config), copy.deepcopy(config)
    eager_config._experts_implementation = "eager"
    grouped_config._experts_implementation = implementation
    eager = MixtralExperts(eager_config).to(DEVICE)
    for parameter in eager.parameters():
        torch.nn.init.normal_(parameter, std=0.05)
    grouped = MixtralExperts(grouped_config).to(DEVICE)
    grouped.load_state_dict(eager.state_dict())
    weights_dtype = torch.bfloat16 if mode == "bf16-weights" else torch.float32
    eager.to(weights_dtype)
    grouped.to(weights_dtype)

    tokens, experts = 4096, config.num_local_experts
    hidden = torch.randn(tokens, config.hidden_size, device=DEVICE, dtype=weights_dtype)
    top_k = config.num_experts_per_tok
    top_k_index = torch.randint(0, experts, (tokens, top_k), device=DEVICE)
    top_k_weights = 0.1 + torch.rand(tokens, top_k, device=DEVICE, dtype=weights_dtype)
    outputs, gradients = [], []
    for module in (eager, grouped):
        module.zero_grad()
        with autocast(mode == "fp32-weights-bf16-autocast"):
            out = module(hidden, top_k_index, top_k_weights)
        out.float().square().sum().backward()
        outputs.append(out.detach().float())
        gradients.append(module.down_proj.grad.float())
    low_precision = mode != "fp32"
    tolerance = 2e-2 if low_precision else 1e-4
    output_error = relative_error(outputs[1].cpu(), outputs[0].cpu())
    gradient_error = relative_error(gradients[1].cpu(), gradients[0].cpu())
    record_property("relative_errors", {"output": output_error, "gradient": gradient_error})
    assert output_error < tolerance
    assert gradient_error < tolerance


# --- inference: the device agrees with the CPU --------------------------------------------------

def embeddings(model_dir, device, dtype, sequences):
    from dnalm.inference.batches import fit_to_context, special_token_ids, tokenize_records
    from dnalm.inference.embedding import EmbeddingSettings, embed_pieces
    from dnalm.inference.model_loading import load_base_model
    from dnalm.io.model_archive import open_model
    from dnalm.io.sequences import SequenceRecord

    with open_model(model_dir) as files:
        tokenizer = files.tokenizer()
        # Loaded in fp32, then cast: the fp32 run must not start from bf16-rounded weights.
        model = load_base_model(files, "cpu").to(device=device, dtype=dtype)
        specials = special_token_ids(tokenizer)
        records = [SequenceRecord(str(i), s) for i, s in enumerate(sequences)]
        pieces = fit_to_context(tokenize_records(records, tokenizer), 512, "error", specials, "t")
        settings = EmbeddingSettings(batch_size=64)
        return np.concatenate([matrix for _, matrix in embed_pieces(model, pieces, settings,
                                                                    3, specials)])


@pytest.fixture(scope="module")
def windows():
    return [seq for _, seq in read_fasta(WINDOWS, 200)]


def test_embeddings_match_the_cpu(windows, record_property):
    """bf16 (the tools' dtype on a GPU) and fp32 on the device against fp32 on the CPU.

    bf16 keeps 8 bits of mantissa, and a token whose top experts change under
    rounding moves its vector: on the CPU, bf16 weights gave a relative error
    of 2.0e-2 over the matrix (median row 1.2e-2, worst 0.10, cosine >= 0.995),
    so 1e-2 is asked of the median row, not of every row.
    """
    on_cpu = embeddings(MISTRAL_DNA, "cpu", torch.float32, windows)
    bf16 = row_agreement(embeddings(MISTRAL_DNA, DEVICE, torch.bfloat16, windows), on_cpu)
    fp32 = row_agreement(embeddings(MISTRAL_DNA, DEVICE, torch.float32, windows), on_cpu)
    record_property("bf16", bf16)
    record_property("fp32", fp32)
    assert on_cpu.shape == (200, 64)
    assert bf16["median_row_error"] < 2e-2 and bf16["relative_error"] < 4e-2, bf16
    assert bf16["min_cosine"] > 0.99, bf16
    assert fp32["max_row_error"] < 1e-4, fp32


def causal_lm(device, dtype):
    from dnalm.inference.model_loading import load_causal_lm
    from dnalm.io.model_archive import open_model

    with open_model(MICRO_ZIP) as files:
        return load_causal_lm(files, "cpu").to(device=device, dtype=dtype), files.tokenizer()


# bf16: the micro model's large logits gave 1.6e-2 at most on the CPU.
@pytest.mark.parametrize("dtype, tolerance", [(torch.bfloat16, 3e-2), (torch.float32, 1e-4)],
                         ids=["bf16", "fp32"])
def test_scores_match_the_cpu(windows, dtype, tolerance, record_property):
    from dnalm.inference.batches import Piece
    from dnalm.inference.scoring import score_pieces

    def scores(device, dtype):
        model, tokenizer = causal_lm(device, dtype)
        pieces = [Piece(i, str(i), e.ids) for i, e in enumerate(tokenizer.encode_batch(windows))]
        return np.array([s.log_likelihood for s in score_pieces(model, pieces, pad_id=3)])

    on_cpu, on_device = scores("cpu", torch.float32), scores(DEVICE, dtype)
    error = float(np.abs(on_device / on_cpu - 1).max())
    record_property("max_relative_error", error)
    assert np.all(on_cpu < 0)
    assert error < tolerance


def test_generation_matches_the_cpu():
    """Greedy decoding in fp32 makes the same DNA; sampling in bf16 makes valid DNA."""
    from dnalm.inference.generation import GenerationSettings, generate_dna
    from dnalm.io.sequences import SequenceRecord

    prompts = [SequenceRecord("p", "AAGGAAATTTCTCAAGGCACTGGGG")]
    greedy = GenerationSettings(length_bp=120, temperature=0)
    made = {}
    for device in ("cpu", DEVICE):
        model, tokenizer = causal_lm(device, torch.float32)
        made[str(device)] = [dna for _, _, dna in generate_dna(model, tokenizer, prompts, greedy,
                                                               bos_id=1, pad_id=3)]
    assert len(set(map(tuple, made.values()))) == 1
    model, tokenizer = causal_lm(DEVICE, torch.bfloat16)
    sampled = GenerationSettings(num_sequences=4, length_bp=150, temperature=1.0, seed=3)
    dna = [d for _, _, d in generate_dna(model, tokenizer, prompts, sampled, bos_id=1, pad_id=3)]
    assert len(dna) == 4 and all(len(d) == 150 and set(d) <= set("ACGT") for d in dna)


def test_embed_tool_runs_on_the_device(tmp_path, capsys, windows, record_property):
    """The command a Galaxy job runs, end to end: it says where it ran and writes the vectors."""
    from dnalm.cli import main

    if DEVICE.type == "cpu" and torch.cuda.is_available():
        pytest.skip("the tool runs on the GPU when one is visible")
    fasta = tmp_path / "w.fa"
    fasta.write_text("".join(f">w{i}\n{s}\n" for i, s in enumerate(windows[:50])))
    out = tmp_path / "e.tsv"
    assert main(["embed", str(MISTRAL_DNA), str(fasta), "-o", str(out)]) == 0
    assert ("GPU(s)" if DEVICE.type == "cuda" else "CPU") in capsys.readouterr().out
    with open(out) as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    vectors = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    expected = embeddings(MISTRAL_DNA, "cpu", torch.float32, windows[:50])
    agreement = row_agreement(vectors, expected)
    record_property("agreement", agreement)
    assert agreement["relative_error"] < (4e-2 if DEVICE.type == "cuda" else 1e-5), agreement
    assert agreement["min_cosine"] > 0.99, agreement


@pytest.mark.slow  # minutes of compiling on a CPU
def test_compiled_training_replays_one_shape_with_the_eager_losses(tmp_path, capsys):
    """--compile: fixed-shape batches, CUDA graphs (reduce-overhead) on a GPU, the eager losses."""
    from dnalm.cli import main
    from dnalm.io.token_table import TokenTableWriter
    from dnalm.runtime.hardware import compile_mode
    from dnalm.tokenization.loading import load_tokenizer

    if DEVICE.type == "cpu" and torch.cuda.is_available():
        pytest.skip("the CLI trains on the GPU when one is visible")
    tokenizer = load_tokenizer()
    records = read_fasta(WINDOWS)[:160]
    tokens = tmp_path / "tokens.parquet"
    with TokenTableWriter(tokens, tokenizer.to_str()) as writer:
        writer.write({"id": [name for name, _ in records],
                      "input_ids": [e.ids for e in tokenizer.encode_batch([s for _, s in records])]})
    losses = {}
    for name, extra in (("eager", []), ("compiled", ["--compile"])):
        argv = ["pretrain", str(tokens), "-o", str(tmp_path / f"{name}.zip"), "--preset", "tiny",
                "--batch-size", "32", "--max-steps", "4", "--logging-steps", "1",
                "--precision", "fp32", "--metrics", str(tmp_path / f"{name}.tsv"),
                "--checkpoint-dir", str(tmp_path / f"{name}_ck"), *extra]
        assert main(argv) == 0
        with open(tmp_path / f"{name}.tsv", newline="") as handle:
            losses[name] = [float(row["train_loss"]) for row in csv.DictReader(handle, delimiter="\t")
                            if row["kind"] == "step"]
        if extra:
            assert f"torch.compile {compile_mode('auto')}, batches of " in capsys.readouterr().out
    assert len(losses["eager"]) == 4
    np.testing.assert_allclose(losses["compiled"], losses["eager"], rtol=1e-3)
