"""Grouped-GEMM experts that multiply in the autocast dtype (bf16) during mixed precision.

Training in bf16 mixed precision keeps the weights in fp32 and lets autocast
run each matrix product in bf16. transformers' ``grouped_mm`` experts are not
autocast-aware: they cast the tokens to the weights' dtype, so the experts of
a mixture-of-experts layer multiply in fp32. On a GPU, PyTorch's fast grouped
GEMM (one CUTLASS kernel for all experts) takes bf16 only; fp32 falls back to
one matrix product per expert, with a device-to-host sync.

``grouped_mm_autocast`` casts the expert weights to the autocast dtype first
(differentiably: the fp32 weights get the gradients), then runs transformers'
own grouped-GEMM forward, so every expert runs in one bf16 kernel. Outside
autocast it is exactly ``grouped_mm``.
"""

import torch

NAME = "grouped_mm_autocast"
WEIGHT_NAMES = ("gate_up_proj", "up_proj", "down_proj",
                "gate_up_proj_bias", "up_proj_bias", "down_proj_bias")


class _ExpertsInDtype:
    """The experts module as transformers' forward sees it, with its weights cast."""

    def __init__(self, experts, dtype):
        self._experts = experts
        for name in WEIGHT_NAMES:
            weight = getattr(experts, name, None)
            if isinstance(weight, torch.Tensor) and weight.is_floating_point():
                setattr(self, name, weight.to(dtype))

    def __getattr__(self, name):  # everything else: the module's own attributes and methods
        return getattr(self._experts, name)


def grouped_mm_autocast_forward(experts, hidden_states, top_k_index, top_k_weights):
    from transformers.integrations.moe import grouped_mm_experts_forward

    device_type = hidden_states.device.type
    if torch.is_autocast_enabled(device_type):
        dtype = torch.get_autocast_dtype(device_type)
        output = grouped_mm_experts_forward(_ExpertsInDtype(experts, dtype),
                                            hidden_states.to(dtype), top_k_index, top_k_weights)
        return output.to(hidden_states.dtype)
    return grouped_mm_experts_forward(experts, hidden_states, top_k_index, top_k_weights)


def register():
    """Make ``experts_implementation="grouped_mm_autocast"`` known to transformers."""
    from transformers.integrations.moe import ALL_EXPERTS_FUNCTIONS, ExpertsInterface

    if NAME not in ALL_EXPERTS_FUNCTIONS:
        ExpertsInterface.register(NAME, grouped_mm_autocast_forward)
    return NAME
