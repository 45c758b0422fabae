"""Each architecture block's defining property."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainlab.components.architectures import (
    AdaptiveComputationTime,
    DynamicDepthNetwork,
    HyperNetwork,
    MixtureOfExpertsLayer,
    MultiScaleAttention,
    attach_auxiliary_loss,
    load_balancing_loss,
    pool_tokens,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_attached_auxiliary_loss_gets_gradient_one_and_leaves_output_alone() -> None:
    weight = torch.tensor(2.0, requires_grad=True)
    x = torch.ones(3, requires_grad=True)
    out = attach_auxiliary_loss(x * 1.0, weight * 3.0)
    assert torch.equal(out, x)
    out.sum().backward()
    assert weight.grad.item() == pytest.approx(3.0)  # d(aux)/d(weight)
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_growth_preserves_the_function_and_happens_on_schedule() -> None:
    net = DynamicDepthNetwork(8, max_depth=3, initial_depth=1)
    x = torch.randn(5, 8)
    net.eval()
    before = net(x)
    assert net.grow() and int(net.depth) == 2
    assert torch.equal(net(x), before)
    assert net.grow() and not net.grow()  # capped at max_depth

    scheduled = DynamicDepthNetwork(8, max_depth=3, grow_every=2).train()
    depths = []
    for _ in range(6):
        scheduled(x)
        depths.append(int(scheduled.depth))
    assert depths == [1, 2, 2, 3, 3, 3]


def test_inactive_blocks_are_not_computed() -> None:
    net = DynamicDepthNetwork(4, max_depth=2, initial_depth=1)
    net(torch.randn(2, 4)).sum().backward()
    assert all(p.grad is None for p in net.blocks[1].parameters())


def test_grown_block_starts_learning_through_its_gate() -> None:
    net = DynamicDepthNetwork(4, max_depth=2, initial_depth=1)
    net.grow()
    net(torch.randn(3, 4)).pow(2).sum().backward()
    assert net.gates.grad[1] != 0  # the zero gate gets a gradient, so the block can turn on


def test_moe_balance_loss_is_one_for_a_uniform_router_and_e_when_collapsed() -> None:
    n, experts = 32, 4
    uniform = torch.full((n, experts), 1.0 / experts)
    spread = torch.arange(n * 2).view(n, 2) % experts  # every expert gets the same share
    assert load_balancing_loss(uniform, spread, experts).item() == pytest.approx(1.0)
    collapsed = F.one_hot(torch.zeros(n, dtype=torch.long), experts).float()
    chosen = torch.zeros(n, 1, dtype=torch.long)
    assert load_balancing_loss(collapsed, chosen, experts).item() == pytest.approx(experts)


def test_moe_with_zero_router_weights_is_balanced() -> None:
    layer = MixtureOfExpertsLayer(6, num_experts=4, top_k=1)
    nn.init.zeros_(layer.router.weight)
    layer(torch.randn(10, 6))
    assert layer.balance_loss.item() == pytest.approx(1.0)


def test_moe_output_is_the_weighted_sum_of_the_top_k_experts() -> None:
    layer = MixtureOfExpertsLayer(6, num_experts=4, top_k=2).eval()
    x = torch.randn(5, 6)
    _, chosen, weights = layer.route(x)
    dense = torch.stack([expert(x) for expert in layer.experts], 1)  # [N, E, D]
    expected = (dense.gather(1, chosen[..., None].expand(-1, -1, 6)) * weights[..., None]).sum(1)
    assert torch.allclose(layer(x), expected, atol=1e-6)
    assert torch.allclose(weights.sum(-1), torch.ones(5))


def test_moe_trains_the_router_through_the_balance_loss() -> None:
    layer = MixtureOfExpertsLayer(6, num_experts=4, top_k=2, balance_weight=1.0).train()
    layer(torch.randn(3, 2, 6)).sum().backward()  # any leading shape works
    assert layer.router.weight.grad.abs().sum() > 0


def halting_at(probability: float, max_steps: int = 8) -> AdaptiveComputationTime:
    act = AdaptiveComputationTime(4, max_steps=max_steps, epsilon=0.01)
    nn.init.zeros_(act.halt.weight)
    nn.init.constant_(act.halt.bias, math.log(probability / (1 - probability)))
    return act


def test_act_halts_when_the_halting_sum_reaches_one_and_ponder_is_n_plus_r() -> None:
    act = halting_at(0.3)  # cumulative 0.3, 0.6, 0.9, 1.2 ≥ 0.99: N = 4, R = 1 − 0.9
    act(torch.randn(3, 4))
    assert act.steps.tolist() == [4.0, 4.0, 4.0]
    assert act.ponder_cost.item() == pytest.approx(4.1, abs=1e-5)


def test_act_output_mixes_the_states_with_the_halting_probabilities() -> None:
    act = halting_at(0.3)
    x = torch.randn(2, 4)
    states, state = [], x
    for step in range(4):
        flag = torch.full((2, 1), float(step == 0))
        state = act.cell(torch.cat([x, flag], 1), state)
        states.append(state)
    expected = sum(p * s for p, s in zip((0.3, 0.3, 0.3, 0.1), states, strict=True))
    assert torch.allclose(act(x), expected, atol=1e-5)


def test_act_never_exceeds_max_steps() -> None:
    act = halting_at(1e-4, max_steps=5)
    act(torch.randn(3, 4))
    assert act.steps.max().item() == 5
    assert act.ponder_cost.item() == pytest.approx(5 + 1 - 4e-4, abs=1e-4)


def test_act_ponder_cost_gradient_pushes_towards_halting_sooner() -> None:
    act = halting_at(0.3).train()
    act(torch.randn(3, 4)).sum().mul(0).backward()  # only the attached ponder cost remains
    assert act.halt.bias.grad.item() < 0  # raising h lowers N + R... through R


def test_hypernetwork_generates_linear_weights_per_task() -> None:
    hyper = HyperNetwork(5, 3, num_tasks=2)
    x = torch.randn(4, 5)
    weight, bias = hyper.weights(torch.tensor([1]))
    assert torch.allclose(hyper(x, 1), F.linear(x, weight[0], bias[0]))
    assert not torch.allclose(hyper(x, 0), hyper(x, 1))
    per_row = hyper(x, torch.tensor([0, 1, 1, 0]))
    assert torch.allclose(per_row[1], hyper(x, 1)[1], atol=1e-6)
    assert torch.allclose(per_row[0], hyper(x, 0)[0], atol=1e-6)


def test_hypernetwork_has_fewer_parameters_than_the_layer_it_generates() -> None:
    hyper = HyperNetwork(64, 64, num_tasks=1, embed_dim=8, hidden=32)
    assert sum(p.numel() for p in hyper.parameters()) < 64 * 65


def test_hypernetwork_starts_with_linear_layer_scale() -> None:
    weight = HyperNetwork(64, 64).weights(torch.tensor([0]))[0]
    assert weight.std().item() == pytest.approx(1 / math.sqrt(3 * 64), rel=0.05)


def test_multiscale_attention_with_scale_one_is_plain_attention() -> None:
    attention = MultiScaleAttention(8, num_heads=2, scales=(1,))
    x = torch.randn(2, 5, 8)
    q, k, v = attention.qkv(x).chunk(3, -1)
    heads = [slice(0, 4), slice(4, 8)]
    out = torch.cat(
        [((q[..., h] @ k[..., h].transpose(1, 2)) / 2).softmax(-1) @ v[..., h] for h in heads], -1
    )
    assert torch.allclose(attention(x), attention.out(out), atol=1e-5)


def test_the_coarsest_scale_sees_one_summary_token() -> None:
    attention = MultiScaleAttention(8, num_heads=2, scales=(16,))
    out = attention(torch.randn(1, 6, 8))
    assert torch.allclose(out[0, 0], out[0, 5], atol=1e-6)  # every query gets the same value


def test_scale_weights_are_a_softmax_and_pooling_keeps_partial_windows() -> None:
    attention = MultiScaleAttention(8, num_heads=2, scales=(1, 2, 4))
    assert attention.scale_weights().sum().item() == pytest.approx(1.0)
    tokens = torch.arange(5.0).view(1, 5, 1)
    assert pool_tokens(tokens, 2).flatten().tolist() == [0.5, 2.5, 4.0]
