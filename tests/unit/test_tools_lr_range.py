"""LR range test: suggestions on the falling part of the curve; model and optimizer restored."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainlab.tools.lr_range import LRRange, lr_range_test, plot_lr_find, suggestions


def synthetic_curve() -> tuple[list[float], list[float]]:
    """Flat at 2.3, falls fastest near lr 1e-3, bottoms out near 3e-2, then explodes."""
    lrs = np.logspace(-6, 0, 120)
    x = np.log10(lrs)
    falling = 2.3 - 2.0 / (1 + np.exp(-3 * (x + 3)))
    exploding = np.where(x > -1.5, 5 * (x + 1.5) ** 2, 0.0)
    return lrs.tolist(), (falling + exploding).tolist()


def test_suggestions_land_in_the_decreasing_part_of_the_curve():
    lrs, losses = synthetic_curve()
    lowest = lrs[int(np.argmin(losses))]
    steepest, min_div10 = suggestions(lrs, losses)
    assert math.isclose(math.log10(steepest), -3, abs_tol=0.1)
    for lr in (steepest, min_div10):
        i = lrs.index(min(lrs, key=lambda v: abs(v - lr)))
        assert lr < lowest and losses[i + 1] < losses[i - 1]  # loss still falling there


def tiny_problem() -> tuple[nn.Module, torch.optim.Optimizer, object]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return model, optimizer, lambda _step: (x, y)


def test_model_and_optimizer_state_are_restored_bit_identically():
    model, optimizer, batch = tiny_problem()
    F.cross_entropy(model(batch(0)[0]), batch(0)[1]).backward()
    optimizer.step()  # an optimizer with moments, as in the middle of training
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    moments = {id(p): s["exp_avg"].clone() for p, s in optimizer.state.items()}
    result = lr_range_test(model, optimizer, batch, F.cross_entropy, steps=40)
    assert len(result.lrs) >= 10
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(moments[id(p)], s["exp_avg"]) for p, s in optimizer.state.items())
    assert optimizer.param_groups[0]["lr"] == 3e-3 and not model.training


def test_lr_find_plot_is_written(tmp_path):
    lrs, losses = synthetic_curve()
    result = LRRange(lrs, losses, *suggestions(lrs, losses), stopped_early=False)
    assert plot_lr_find(result, tmp_path / "lr_find.png").stat().st_size > 1000
    assert result.descent_decades > 0.5
