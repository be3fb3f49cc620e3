"""Which precision and attention kernels run fastest on this machine.

bf16 mixed precision pays where the hardware multiplies bf16 natively: GPUs
that support it, and CPUs with AMX tile units (Intel Xeon from Sapphire
Rapids on), where oneDNN runs bf16 matrix products on the tiles. Elsewhere a
CPU emulates bf16 and fp32 is faster.

Attention: PyTorch's fused SDPA, except on a CPU in bf16, where its
flash-attention backward is slower than the plain (eager) attention; on the
tutorial model it made a training step about twice as slow (bench/).
"""

import torch

PRECISIONS = ("auto", "fp32", "bf16")
ATTENTION_CHOICES = ("auto", "sdpa", "eager")


def cpu_has_bf16_matrix_units():
    is_supported = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(is_supported and is_supported())


def use_bf16(precision="auto"):
    """Whether to train in bf16 mixed precision (weights and optimiser stay fp32)."""
    if precision in ("bf16", "fp32"):
        return precision == "bf16"
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16_matrix_units()


def attention_implementation(requested="auto", bf16=False):
    if requested != "auto":
        return requested
    return "eager" if bf16 and not torch.cuda.is_available() else "sdpa"
