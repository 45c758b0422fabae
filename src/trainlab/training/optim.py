"""What the space's optimizer names mean, and the learning-rate schedule every trial uses.

`build_optimizer` is the one place "adam" and "sgd" become torch optimizers: the trainer's
default and the component registry's "adamw" / "sgd" entries both call it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal

import torch
from torch import nn

from trainlab.space import SGD_MOMENTUM, HParams

WARMUP_FRACTION = 0.05  # of all steps, linear, cosine schedule only
ONE_CYCLE = {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4}  # OneCycleLR's


def build_optimizer(
    name: Literal["adam", "sgd"],
    params: Iterable[nn.Parameter],
    *,
    lr: float,
    weight_decay: float,
) -> torch.optim.Optimizer:
    """adam: AdamW (decoupled weight decay); sgd: Nesterov momentum 0.9."""
    if name == "adam":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=SGD_MOMENTUM, nesterov=True, weight_decay=weight_decay
        )
    raise ValueError(f"unknown optimizer {name!r}: use adam or sgd")


def default_optimizer(params: list[nn.Parameter], hparams: HParams) -> torch.optim.Optimizer:
    """The optimizer a configuration names, at its learning rate and weight decay."""
    return build_optimizer(
        hparams.optimizer, params, lr=hparams.learning_rate, weight_decay=hparams.weight_decay
    )


def lr_multiplier(scheduler: str, total_steps: int) -> Callable[[int], float]:
    """Per-step factor on the base lr: constant, linear warmup then cosine to zero, or
    one-cycle (the base lr is the peak; torch.optim.lr_scheduler.OneCycleLR's cosine shape)."""
    if scheduler == "onecycle":
        return one_cycle_multiplier(total_steps)
    warmup = max(1, round(WARMUP_FRACTION * total_steps))

    def factor(step: int) -> float:
        if scheduler == "none":
            return 1.0
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def one_cycle_multiplier(total_steps: int) -> Callable[[int], float]:
    """OneCycleLR (three_phase=False, cos): max/div_factor up to max, then down to
    max/(div_factor · final_div_factor), as a factor on the max."""
    start = 1 / ONE_CYCLE["div_factor"]
    end = start / ONE_CYCLE["final_div_factor"]
    peak_step = float(ONE_CYCLE["pct_start"] * total_steps) - 1
    last_step = total_steps - 1

    def factor(step: int) -> float:
        if step <= peak_step:
            low, high, pct = start, 1.0, step / peak_step
        else:
            low, high, pct = 1.0, end, (step - peak_step) / (last_step - peak_step)
        return high + (low - high) / 2 * (1 + math.cos(math.pi * min(1.0, pct)))

    return factor
