"""Which precision and attention kernels run fastest on this machine.

bf16 mixed precision pays where the hardware multiplies bf16 natively: GPUs
that support it, and CPUs with AMX tile units (Intel Xeon from Sapphire
Rapids on), where oneDNN runs bf16 matrix products on the tiles. Elsewhere a
CPU emulates bf16 and fp32 is faster.

Attention: on a GPU in bf16, the flash-attn package where it is installed
(the -flash-attn container): with packed rows it runs each sequence on its own
(variable-length kernels) instead of masking a whole row. Otherwise PyTorch's
fused SDPA, except on a CPU in bf16, where its flash-attention backward is
slower than the plain (eager) attention; on the tutorial model it made a
training step about twice as slow (bench/).
"""

import torch

PRECISIONS = ("auto", "fp32", "bf16")
ATTENTION_CHOICES = ("auto", "sdpa", "eager", "flash_attention_2")


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
    if not torch.cuda.is_available():
        return "eager" if bf16 else "sdpa"
    return "flash_attention_2" if bf16 and flash_attention_installed() else "sdpa"


def flash_attention_installed():
    from transformers.utils import is_flash_attn_2_available

    return is_flash_attn_2_available()
