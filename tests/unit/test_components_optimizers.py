"""Each optimizer's defining property, on tensors small enough to check by hand."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from trainlab.components.optimizers import (
    LAMB,
    AdaptiveGradientClipping,
    GradientCentralization,
    LookAhead,
    SecondOrderMomentum,
    StochasticWeightAveraging,
    secant_update,
    unitwise_norm,
)

CURVATURE = torch.tensor([1.0, 10.0])


def quadratic_step(opt: torch.optim.Optimizer, x: nn.Parameter) -> float:
    """One step on f(x) = ½ Σ h_i x_i² (gradient h ⊙ x)."""
    opt.zero_grad()
    loss = 0.5 * (CURVATURE * x * x).sum()
    loss.backward()
    opt.step()
    return loss.item()


def test_lookahead_slow_weights_interpolate_every_k_steps() -> None:
    x = nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = LookAhead(torch.optim.SGD([x], lr=0.1), k=3, alpha=0.5)
    slow = x.detach().clone()
    fast = x.detach().clone()
    for step in range(1, 7):
        quadratic_step(opt, x)
        fast = fast - 0.1 * CURVATURE * fast  # what plain SGD does to the fast weights
        if step % 3 == 0:
            slow = slow + 0.5 * (fast - slow)
            fast = slow.clone()
            assert torch.allclose(opt.state[x]["slow"], slow)
        assert torch.allclose(x.detach(), fast, atol=1e-6)


def test_wrappers_share_param_groups_with_the_base_so_schedulers_reach_it() -> None:
    x = nn.Parameter(torch.ones(2))
    base = torch.optim.AdamW([x], lr=1e-2)
    opt = GradientCentralization(base)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5)
    opt.step()  # no gradients: changes nothing
    scheduler.step()
    assert base.param_groups[0]["lr"] == pytest.approx(5e-3)


def test_wrapper_state_dict_round_trip_keeps_base_state_and_sharing() -> None:
    x = nn.Parameter(torch.ones(3))
    opt = LookAhead(torch.optim.AdamW([x], lr=0.1), k=2)
    for _ in range(3):
        opt.zero_grad()
        x.sum().backward()
        opt.step()
    saved = opt.state_dict()
    y = nn.Parameter(torch.ones(3))
    restored = LookAhead(torch.optim.AdamW([y], lr=0.1), k=2)
    restored.load_state_dict(saved)
    assert restored.param_groups is restored.base.param_groups
    assert restored.param_groups[0]["lookahead_step"] == 3
    assert torch.equal(restored.base.state[y]["exp_avg"], opt.base.state[x]["exp_avg"])


def test_agc_clips_each_unit_to_clip_times_its_weight_norm() -> None:
    w = nn.Parameter(torch.tensor([[3.0, 4.0], [0.6, 0.8]]))  # unit norms 5 and 1
    w.grad = torch.tensor([[0.03, 0.04], [3.0, 4.0]])  # unit norms 0.05 and 5
    opt = AdaptiveGradientClipping(torch.optim.SGD([w], lr=1.0), clip=0.1)
    opt.before_step()
    norms = unitwise_norm(w.grad).flatten()
    assert norms[0] == pytest.approx(0.05)  # 0.05 ≤ 0.1·5: untouched
    assert norms[1] == pytest.approx(0.1)  # 5 > 0.1·1: clipped to the limit
    assert torch.allclose(w.grad[1] / norms[1], torch.tensor([0.6, 0.8]))  # direction kept


def test_unitwise_norm_is_per_output_unit_and_whole_vector_for_biases() -> None:
    conv = torch.ones(4, 3, 2, 2)
    assert unitwise_norm(conv).shape == (4, 1, 1, 1)
    assert torch.allclose(unitwise_norm(conv), torch.full((4, 1, 1, 1), 12**0.5))
    assert unitwise_norm(torch.tensor([3.0, 4.0])).item() == pytest.approx(5.0)


def test_gradient_centralization_gives_zero_mean_unit_gradients_and_skips_vectors() -> None:
    layer = nn.Conv2d(3, 5, 3)
    layer(torch.randn(2, 3, 6, 6)).pow(2).sum().backward()
    bias_grad = layer.bias.grad.clone()
    opt = GradientCentralization(torch.optim.SGD(layer.parameters(), lr=0.1))
    opt.before_step()
    assert torch.allclose(layer.weight.grad.mean(dim=(1, 2, 3)), torch.zeros(5), atol=1e-6)
    assert torch.equal(layer.bias.grad, bias_grad)


def test_lamb_moves_each_tensor_by_lr_times_its_norm() -> None:
    """The trust ratio makes the step length lr·‖w‖ whatever the gradient scale."""
    for scale in (1e-4, 1.0, 1e4):
        w = nn.Parameter(torch.tensor([3.0, 4.0, 0.0]))
        opt = LAMB([w], lr=0.01)
        before = w.detach().clone()
        w.grad = scale * torch.tensor([1.0, -2.0, 0.5])
        opt.step()
        assert (w.detach() - before).norm().item() == pytest.approx(0.01 * 5.0, rel=1e-4)


def test_lamb_trust_ratio_is_one_for_zero_weights() -> None:
    w = nn.Parameter(torch.zeros(2))
    opt = LAMB([w], lr=0.1)
    w.grad = torch.tensor([1.0, 1.0])
    opt.step()
    assert w.detach().norm().item() > 0  # the step still happens (ratio 1)


def test_secant_update_satisfies_the_weak_secant_condition() -> None:
    curvature = torch.tensor([0.5, 2.0, 1.0])
    s = torch.tensor([1.0, -0.5, 2.0])
    y = torch.tensor([0.3, -0.4, 1.1])
    secant_update(curvature, s, y)
    assert (s * curvature * s).sum().item() == pytest.approx((y * s).sum().item(), rel=1e-5)


def test_secant_update_leaves_curvature_alone_for_a_zero_step() -> None:
    curvature = torch.tensor([0.5, 2.0])
    secant_update(curvature, torch.zeros(2), torch.ones(2))
    assert curvature.tolist() == [0.5, 2.0]


def test_second_order_momentum_recovers_the_hessian_diagonal() -> None:
    """On f = ½(a² + 100 b²) the curvature estimate becomes (1, 100) and the loss vanishes."""
    a, b = nn.Parameter(torch.tensor([1.0])), nn.Parameter(torch.tensor([1.0]))
    opt = SecondOrderMomentum([a, b], lr=0.1)
    for _ in range(150):
        opt.zero_grad()
        loss = 0.5 * (a * a + 100.0 * b * b).sum()
        loss.backward()
        opt.step()
    assert opt.state[a]["curvature"].item() == pytest.approx(1.0, rel=1e-3)
    assert opt.state[b]["curvature"].item() == pytest.approx(100.0, rel=1e-3)
    assert loss.item() < 1e-8


def test_second_order_momentum_steps_at_most_lr_per_coordinate() -> None:
    x = nn.Parameter(torch.tensor([5.0, -3.0]))
    opt = SecondOrderMomentum([x], lr=0.01)
    x.grad = torch.tensor([1e3, -1e-3])  # no curvature known yet: a sign step of size lr
    opt.step()
    assert x.detach().tolist() == pytest.approx([4.99, -2.99])


def test_swa_averages_iterates_from_start_and_swaps_in_at_the_end() -> None:
    x = nn.Parameter(torch.tensor([0.0]))
    opt = StochasticWeightAveraging(torch.optim.SGD([x], lr=1.0), start=2, every=1, swap_at=4)
    for _ in range(4):
        x.grad = torch.tensor([-1.0])  # x goes 1, 2, 3, 4
        opt.step()
    assert opt.averaged == 3  # steps 2, 3, 4
    assert x.item() == pytest.approx((2.0 + 3.0 + 4.0) / 3)


def test_swa_with_the_model_averages_batch_norm_statistics_too() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    opt = StochasticWeightAveraging(
        torch.optim.SGD(model.parameters(), lr=0.1), start=1, swap_at=2, model=model
    )
    means = []
    for shift in (0.0, 4.0):
        model(torch.randn(8, 2) + shift).sum().backward()
        means.append(model[1].running_mean.clone())
        opt.step()
        opt.zero_grad()
    assert torch.allclose(model[1].running_mean, (means[0] + means[1]) / 2)


def test_swa_state_dict_keeps_the_average() -> None:
    x = nn.Parameter(torch.tensor([0.0]))
    opt = StochasticWeightAveraging(torch.optim.SGD([x], lr=1.0), start=1)
    x.grad = torch.tensor([-1.0])
    opt.step()
    y = nn.Parameter(torch.tensor([0.0]))
    restored = StochasticWeightAveraging(torch.optim.SGD([y], lr=1.0), start=1)
    restored.load_state_dict(opt.state_dict())
    assert restored.averaged == 1 and restored.steps == 1
    assert restored.swap_in() and y.item() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: LookAhead(torch.optim.AdamW(p, lr=0.05)),
        lambda p: AdaptiveGradientClipping(torch.optim.AdamW(p, lr=0.05), clip=0.5),
        lambda p: GradientCentralization(torch.optim.AdamW(p, lr=0.05)),
        lambda p: LAMB(p, lr=0.05),
        lambda p: SecondOrderMomentum(p, lr=0.05),
    ],
)
def test_every_optimizer_fits_a_tiny_regression(make: Callable) -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1
    model = nn.Linear(4, 1)
    opt = make(list(model.parameters()))
    first = None
    for _ in range(150):
        opt.zero_grad()
        loss = (model(x).squeeze(1) - y).pow(2).mean()
        loss.backward()
        opt.step()
        first = first or loss.item()
    assert loss.item() < 0.2 * first
