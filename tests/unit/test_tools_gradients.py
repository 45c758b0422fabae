"""Gradient analyzer: flags fire on nets built to vanish, explode or die, not on a healthy one."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from trainlab.tools.gradients import (
    GradientMonitor,
    draw_gradients,
    gradient_columns,
    gradient_flags,
    layer_groups,
)
from trainlab.training.models import ResNet9


def epochs_of(model: nn.Module, epochs: int = 2, steps: int = 5, lr: float = 1e-3) -> list[dict]:
    """Train `model` on a seeded 8-feature/8×8-image problem; the monitor's rows per epoch."""
    gen = torch.Generator().manual_seed(0)
    image = isinstance(model, ResNet9)
    x = torch.randn(32, 1, 8, 8, generator=gen) if image else torch.randn(32, 8, generator=gen)
    y = torch.randint(0, 4, (32,), generator=gen)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    rows = []
    for epoch in range(1, epochs + 1):
        monitor = GradientMonitor(model)
        for _ in range(steps):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            monitor.observe()
            optimizer.step()
        rows.append({"epoch": epoch, **monitor.epoch_columns()})
    return rows


def chain(depth: int, activation: type[nn.Module], gain: float = 1.0) -> nn.Sequential:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(depth):
        linear = nn.Linear(8, 8)
        nn.init.normal_(linear.weight, std=gain / 8**0.5)
        layers += [linear, activation()]
    return nn.Sequential(*layers, nn.Linear(8, 4))


def test_deep_sigmoid_chain_vanishes():
    flags = gradient_flags(epochs_of(chain(16, nn.Sigmoid)))
    assert "vanishing_gradients" in flags
    assert flags["vanishing_gradients"]["grad_norm_first_over_last"] < 1e-4


def test_large_init_without_normalisation_explodes():
    flags = gradient_flags(epochs_of(chain(8, nn.ReLU, gain=8.0)))
    assert "exploding_gradients" in flags and flags["exploding_gradients"]["grad_norm_max"] > 1e3


def test_a_layer_behind_a_dead_relu_is_dead():
    model = chain(3, nn.ReLU)
    with torch.no_grad():
        model[2].bias.fill_(-100.0)  # the second block's units never fire: nothing below learns
    flags = gradient_flags(epochs_of(model))
    assert set(flags["dead_layers"]) == {"grad_norm/0", "grad_norm/2"}


def test_healthy_resnet_raises_no_flag_and_reports_every_group():
    torch.manual_seed(0)
    rows = epochs_of(ResNet9(4, 1, width=4), lr=0.05)
    assert gradient_flags(rows) == {}
    groups = {"prep", "layer1", "layer2", "layer3", "linear"}
    assert {c.split("/")[1] for c in rows[0] if "/" in c} == groups
    assert all(0 < rows[-1][f"update_ratio/{g}"] < 1 for g in groups)
    assert rows[-1]["grad_nonfinite_steps"] == 0 and rows[-1]["grad_norm"] > 0
    axes = Figure().subplots(1, 2)
    draw_gradients(axes, rows)
    assert [len(ax.get_lines()) for ax in axes] == [len(groups)] * 2


def test_non_finite_steps_are_counted_not_averaged():
    model = chain(1, nn.ReLU)
    monitor = GradientMonitor(model)
    for p in model.parameters():
        p.grad = torch.full_like(p, float("inf"))
    monitor.observe()
    columns = monitor.epoch_columns()
    assert columns["grad_nonfinite_steps"] == 1 and columns["grad_norm"] == 0


def test_trainer_columns_name_resnet9_groups():
    from trainlab.training.artifacts import METRIC_COLUMNS

    groups = list(layer_groups(ResNet9(10, 3, width=4)))
    assert METRIC_COLUMNS[-len(gradient_columns(groups)) :] == gradient_columns(groups)
