"""dnalm.runtime.autocast_experts: grouped-GEMM experts in the autocast dtype."""

import copy

import torch
from dnalm.runtime import autocast_experts
from dnalm.tokenization.loading import load_tokenizer
from dnalm.training import presets
from transformers.models.mixtral.modeling_mixtral import MixtralExperts


def experts_pair():
    config = presets.fit_config_to_tokenizer(presets.preset_config("tiny"), load_tokenizer())
    name = autocast_experts.register()
    plain, cast = copy.deepcopy(config), copy.deepcopy(config)
    plain._experts_implementation, cast._experts_implementation = "grouped_mm", name
    torch.manual_seed(0)
    reference = MixtralExperts(plain)
    for parameter in reference.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    candidate = MixtralExperts(cast)
    candidate.load_state_dict(reference.state_dict())
    hidden = torch.randn(300, config.hidden_size)
    top_k_index = torch.randint(0, config.num_local_experts, (300, 1))
    top_k_weights = 0.5 + torch.rand(300, 1)
    return reference, candidate, (hidden, top_k_index, top_k_weights)


def test_outside_autocast_it_is_grouped_mm():
    reference, candidate, inputs = experts_pair()
    assert torch.equal(candidate(*inputs), reference(*inputs))


def test_under_autocast_it_multiplies_in_bf16_and_trains_the_fp32_weights():
    reference, candidate, inputs = experts_pair()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected, got = reference(*inputs), candidate(*inputs)
    # transformers' grouped_mm multiplies in the weights' fp32 under autocast; ours in bf16.
    assert expected.dtype == got.dtype == torch.float32
    hidden, top_k_index, top_k_weights = inputs
    in_bf16 = copy.deepcopy(reference).to(torch.bfloat16)(
        hidden.to(torch.bfloat16), top_k_index, top_k_weights).float()
    # The same products as bf16 weights give (up to the last rounding), not fp32's.
    torch.testing.assert_close(got, in_bf16, rtol=8e-3, atol=1e-3)
    assert (got - expected).abs().max() > 10 * (got - in_bf16).abs().max()
    torch.testing.assert_close(got, expected, rtol=3e-2, atol=3e-2)
    got.square().sum().backward()
    assert candidate.down_proj.grad.dtype == torch.float32
    assert candidate.down_proj.grad.abs().sum() > 0 and candidate.gate_up_proj.grad.abs().sum() > 0
