"""Which precision and attention kernels run fastest on this machine.

bf16 mixed precision pays where the hardware multiplies bf16 natively: GPUs
that support it, and CPUs with bf16 matrix instructions, where oneDNN runs
bf16 matrix products on them:

* AMX tile units (Intel Xeon from Sapphire Rapids on): training the tutorial
  model ran faster in bf16 (bench/);
* AVX512-BF16 (AMD EPYC from Zen 4 on, Intel Cooper Lake): 3,669 tokens/s in
  bf16 against 3,149 in fp32 on an EPYC with 2 threads (issue 12).

Elsewhere a CPU emulates bf16 and fp32 is faster.

Attention: on a GPU in bf16, the flash-attn package where it is installed
(the -flash-attn container): with packed rows it runs each sequence on its own
(variable-length kernels) instead of masking a whole row. Otherwise PyTorch's
fused SDPA, except on a CPU in bf16, where its flash-attention backward is
slower than the plain (eager) attention; on the tutorial model it made a
training step about twice as slow (bench/).

Experts: on a GPU in bf16, the grouped GEMMs of a mixture-of-experts layer run
in bf16 (``autocast_experts``): transformers' own ``grouped_mm`` multiplies in
the fp32 of the master weights, which CUDA runs as one product per expert. On
an H100 that doubled training speed (92,604 -> 180,542 tokens/s, bench/RESULTS.md).
On a CPU the experts stay fp32: bf16 grouped GEMMs have no oneDNN path there.

Compilation (``--compile``): on a GPU the step is replayed as CUDA graphs
(``reduce-overhead``): the profile of issue 12 showed the GPU idle 70% of a
step while the CPU launched ~12,800 small kernels. CUDA graphs do not exist
on a CPU, where ``default`` (fused kernels) is the mode.
"""

import torch

PRECISIONS = ("auto", "fp32", "bf16")
ATTENTION_CHOICES = ("auto", "sdpa", "eager", "flash_attention_2")

# CPU instruction sets that multiply bf16 natively, best first, with torch's probe for each.
CPU_BF16_UNITS = (("AMX", "_is_amx_tile_supported"), ("AVX512-BF16", "_is_avx512_bf16_supported"))


def cpu_bf16_units():
    """The name of this CPU's native bf16 matrix instructions ("AMX", "AVX512-BF16"), or None."""
    for name, probe in CPU_BF16_UNITS:
        is_supported = getattr(torch.cpu, probe, None)
        if is_supported and is_supported():
            return name
    return None


def use_bf16(precision="auto"):
    """Whether to train in bf16 mixed precision (weights and optimiser stay fp32)."""
    if precision in ("bf16", "fp32"):
        return precision == "bf16"
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_bf16_units() is not None


def precision_reason(precision="auto"):
    """Why ``use_bf16(precision)`` chose what it did, for logs and bench lines."""
    if precision != "auto":
        return "asked"
    if torch.cuda.is_available():
        return "GPU" + ("" if torch.cuda.is_bf16_supported() else " without bf16")
    return cpu_bf16_units() or "no bf16 matrix instructions on this CPU"


def attention_implementation(requested="auto", bf16=False):
    if requested != "auto":
        return requested
    if not torch.cuda.is_available():
        return "eager" if bf16 else "sdpa"
    return "flash_attention_2" if bf16 and flash_attention_installed() else "sdpa"


def experts_implementation(requested="grouped_mm", bf16=False):
    """The transformers experts implementation to run ``requested`` with."""
    if requested == "grouped_mm" and bf16 and torch.cuda.is_available():
        from dnalm.runtime import autocast_experts

        return autocast_experts.register()
    return requested


def flash_attention_installed():
    from transformers.utils import is_flash_attn_2_available

    return is_flash_attn_2_available()


def compile_mode(requested="auto"):
    """The ``torch.compile`` mode to run ``requested`` with on this machine."""
    if requested != "auto":
        return requested
    return "reduce-overhead" if torch.cuda.is_available() else "default"
