"""LearningRateScheduler tool: none, cosine or one-cycle, read from an LR range test's curve.

- The loss never fell during the test: every lr of the range is too large or the curve is
  noise, so no schedule can be tuned from it: "none" at the space's smallest lr.
- The loss falls over at least a decade of lr before its minimum: a wide band of usable
  rates is what one-cycle's climb to a large peak needs (Smith & Topin 2019,
  super-convergence): "onecycle" peaking at the suggested lr.
- Otherwise (a narrow band): "cosine" with its short warmup, which never exceeds the
  suggested lr (Loshchilov & Hutter 2017, SGDR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from trainlab.tools.lr_range import LRRange

ONE_CYCLE_MIN_DECADES = 1.0
MIN_FALL = 0.05  # the smoothed loss must fall 5% below its start to count as falling

Scheduler = Literal["none", "cosine", "onecycle"]


@dataclass(frozen=True)
class ScheduleChoice:
    scheduler: Scheduler
    reason: str


def loss_fell(result: LRRange) -> bool:
    return min(result.losses) < (1 - MIN_FALL) * result.losses[0]


def choose_schedule(result: LRRange) -> ScheduleChoice:
    """The schedule for the range test's curve (rules in the module docstring)."""
    if not loss_fell(result):
        return ScheduleChoice("none", "the loss never fell in the range test: constant low lr")
    decades = result.descent_decades
    if decades >= ONE_CYCLE_MIN_DECADES:
        reason = f"the loss falls over {decades:.1f} decades of lr: one-cycle (Smith & Topin 2019)"
        return ScheduleChoice("onecycle", reason)
    reason = f"the loss falls over only {decades:.1f} decades of lr: cosine with warmup (SGDR)"
    return ScheduleChoice("cosine", reason)
