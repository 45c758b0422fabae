"""LR range test (Smith 2017; fastai's `lr_find`): where the loss falls fastest as lr grows.

The learning rate rises exponentially from `start_lr` to `end_lr` over `steps` optimizer steps
on real batches; the loss is smoothed (bias-corrected exponential moving average, as fastai)
and the test stops early once it exceeds `DIVERGE_FACTOR` × its minimum. Two suggestions:
`steepest` (the most negative slope of the smoothed loss against log lr, before the minimum)
and `min_div10` (the lr of the minimum loss / 10). Model and optimizer state are restored.

Own ~50 lines rather than `torch-lr-finder`: that package iterates a DataLoader (and moves
each batch to the device), whereas trainlab's data is already an in-memory tensor on the
training device; a step -> batch callable keeps that path, needs no extra dependency, and
lets the same code run on a model and optimizer the caller already built.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn

from trainlab.tools.inputs import Batch

SMOOTHING = 0.98  # fastai's beta
DIVERGE_FACTOR = 4.0
SKIP_START, SKIP_END = 5, 3  # the noisy first and the exploding last points carry no signal


@dataclass(frozen=True)
class LRRange:
    """The curve of one range test and its two suggestions."""

    lrs: list[float]
    losses: list[float]  # smoothed
    steepest: float
    min_div10: float
    stopped_early: bool  # the loss diverged before end_lr

    @property
    def descent_decades(self) -> float:
        """How many decades of lr separate the steepest point from the minimum (≥ 0)."""
        return max(0.0, math.log10(10 * self.min_div10 / self.steepest))


def lr_range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Callable[[int], Batch],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    start_lr: float = 1e-5,
    end_lr: float = 1.0,
    steps: int = 200,
) -> LRRange:
    """Run the test on `model`/`optimizer`; both are left exactly as they were."""
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    lrs, losses = [], []
    try:
        model.train()
        average, best = 0.0, math.inf
        for step in range(steps):
            lr = start_lr * (end_lr / start_lr) ** (step / max(1, steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = batch(step)
            loss = loss_fn(model(x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = loss.item()  # one sync per step: the test needs the value to stop early
            average = SMOOTHING * average + (1 - SMOOTHING) * value
            smoothed = average / (1 - SMOOTHING ** (step + 1))
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            if not math.isfinite(smoothed) or smoothed > DIVERGE_FACTOR * best:
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        model.train(was_training)
    steepest, min_div10 = suggestions(lrs, losses)
    return LRRange(lrs, losses, steepest, min_div10, stopped_early=len(lrs) < steps)


def suggestions(lrs: list[float], losses: list[float]) -> tuple[float, float]:
    """(steepest descent before the minimum, lr at the minimum / 10) of a smoothed curve."""
    finite = [(lr, loss) for lr, loss in zip(lrs, losses, strict=True) if math.isfinite(loss)]
    if len(finite) < 3:
        raise ValueError("the range test needs at least 3 finite points; raise its steps")
    lr_array, loss_array = map(np.asarray, zip(*finite, strict=True))
    end = len(loss_array) - SKIP_END if len(loss_array) > SKIP_START + SKIP_END + 2 else None
    start = SKIP_START if end is not None else 0
    lr_array, loss_array = lr_array[start:end], loss_array[start:end]
    lowest = int(np.argmin(loss_array))
    slopes = np.gradient(loss_array, np.log10(lr_array))
    steepest = lr_array[int(np.argmin(slopes[: lowest + 1]))]
    return float(steepest), float(lr_array[lowest] / 10)


def plot_lr_find(result: LRRange, path: Path) -> Path:
    """lr_find.png: smoothed loss against lr (log scale) with both suggestions marked."""
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(result.lrs, result.losses)
    ax.axvline(result.steepest, color="tab:red", ls="--", label=f"steepest {result.steepest:.2g}")
    ax.axvline(result.min_div10, color="tab:green", ls=":", label=f"min/10 {result.min_div10:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("smoothed training loss")
    ax.set_title("LR range test")
    ax.grid(alpha=0.3)
    ax.legend()
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)
    return path
