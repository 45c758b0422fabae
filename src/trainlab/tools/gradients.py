"""Gradient analyzer: per-epoch gradient norms and update/weight ratios, and what they mean.

`GradientMonitor` is created at the start of an epoch and called once per step after
`backward()` (after `GradScaler.unscale_` under fp16). It keeps its sums on the device — one
`_foreach_norm` and a few tiny tensor ops per step, no host sync — and `epoch_columns()` reads
them back once. Columns, per layer group (the model's top-level children):

    grad_norm             mean over steps of the global L2 gradient norm (finite steps only)
    grad_norm_max         largest global norm of the epoch
    grad_nonfinite_steps  steps whose gradients held inf/NaN (fp16 overflow, divergence)
    update_ratio          ‖W_end − W_start‖ / ‖W_start‖ over the epoch
    grad_norm/<group>     root mean square over steps of the group's gradient norm
    update_ratio/<group>  the group's relative weight change over the epoch

`gradient_flags(rows)` reads those columns back (from metrics_epoch.csv rows) and names
`exploding_gradients`, `vanishing_gradients` and `dead_layers` with their evidence;
`draw_gradients` plots them (the trial's combined.png gains a row of two panels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator
from torch import nn

EXPLODING_NORM = 1e3  # a global gradient norm this large means the steps are out of control
VANISHING_RATIO = 1e-4  # first group's gradient norm / last group's, in the last epoch
DEAD_NORM = 1e-10  # a group whose gradient norm stays below this in every epoch learns nothing
GROUP_NORM, GROUP_RATIO = "grad_norm/", "update_ratio/"
GLOBAL_COLUMNS = ("grad_norm", "grad_norm_max", "grad_nonfinite_steps", "update_ratio")

Row = Mapping[str, float]


def layer_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters grouped by the model's top-level child ("root": its own)."""
    groups: dict[str, list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            groups.setdefault(name.split(".")[0] if "." in name else "root", []).append(param)
    return groups


def gradient_columns(groups: Sequence[str]) -> tuple[str, ...]:
    """The monitor's column names, in order, for the given layer groups."""
    per_group = [GROUP_NORM + g for g in groups] + [GROUP_RATIO + g for g in groups]
    return (*GLOBAL_COLUMNS, *per_group)


class GradientMonitor:
    """Per-epoch gradient statistics of one model, accumulated on its device."""

    def __init__(self, model: nn.Module) -> None:
        groups = layer_groups(model)
        self.names = list(groups)
        self.params = [p for ps in groups.values() for p in ps]
        device = self.params[0].device
        sizes = [len(ps) for ps in groups.values()]
        self.group_of = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
        self.group_of = self.group_of.to(device)
        self.start = [p.detach().clone() for p in self.params]
        self.group_sq = torch.zeros(len(sizes), device=device)
        self.norm_sum = torch.zeros((), device=device)
        self.norm_max = torch.zeros((), device=device)
        self.nonfinite = torch.zeros((), device=device)
        self.steps = 0

    @torch.no_grad()
    def observe(self) -> None:
        """Record this step's gradients (parameters without one count as zero)."""
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        norms = torch.stack(torch._foreach_norm(grads)).float()
        group_sq = torch.zeros_like(self.group_sq).index_add_(0, self.group_of, norms.square())
        total = group_sq.sum().sqrt()
        finite = torch.isfinite(total)
        self.group_sq += torch.where(finite, group_sq, 0.0)
        self.norm_sum += torch.where(finite, total, 0.0)
        self.norm_max = torch.maximum(self.norm_max, torch.where(finite, total, 0.0))
        self.nonfinite += ~finite
        self.steps += 1

    @torch.no_grad()
    def epoch_columns(self) -> dict[str, float]:
        """The epoch's columns (see the module docstring); one host sync."""
        moved = torch.stack(torch._foreach_norm(torch._foreach_sub(self.params, self.start)))
        sizes = torch.stack(torch._foreach_norm(self.start)).clamp_min(1e-12)
        group_moved = torch.zeros_like(self.group_sq).index_add_(0, self.group_of, moved.square())
        group_size = torch.zeros_like(self.group_sq).index_add_(0, self.group_of, sizes.square())
        finite_steps = (self.steps - self.nonfinite).clamp_min(1)
        values = torch.cat(
            [
                torch.stack([self.norm_sum / finite_steps, self.norm_max, self.nonfinite]),
                (group_moved.sum() / group_size.sum()).sqrt().view(1),
                (self.group_sq / finite_steps).sqrt(),
                (group_moved / group_size).sqrt(),
            ]
        ).tolist()
        return dict(zip(gradient_columns(self.names), values, strict=True))


def gradient_flags(rows: Sequence[Row]) -> dict[str, dict[str, float]]:
    """flag -> its evidence, read from epoch rows that hold the monitor's columns."""
    if not has_gradient_columns(rows):
        return {}
    groups = [c.removeprefix(GROUP_NORM) for c in rows[0] if c.startswith(GROUP_NORM)]
    flags: dict[str, dict[str, float]] = {}
    peak = max(row["grad_norm_max"] for row in rows)
    nonfinite = sum(row["grad_nonfinite_steps"] for row in rows)
    if peak > EXPLODING_NORM or nonfinite > 0:
        flags["exploding_gradients"] = {"grad_norm_max": peak, "grad_nonfinite_steps": nonfinite}
    last = rows[-1]
    first_norm, last_norm = last[GROUP_NORM + groups[0]], last[GROUP_NORM + groups[-1]]
    ratio = first_norm / last_norm if last_norm > 0 else 0.0
    if len(groups) > 1 and 0 < ratio < VANISHING_RATIO:
        flags["vanishing_gradients"] = {"grad_norm_first_over_last": ratio}
    dead = [g for g in groups if all(row[GROUP_NORM + g] < DEAD_NORM for row in rows)]
    if dead:
        flags["dead_layers"] = {GROUP_NORM + g: max(r[GROUP_NORM + g] for r in rows) for g in dead}
    return flags


def has_gradient_columns(rows: Sequence[Row]) -> bool:
    return bool(rows) and "grad_norm" in rows[0]


def draw_gradients(axes: Sequence[Axes], rows: Sequence[Row]) -> None:
    """Two panels: per-group gradient norm and update ratio per epoch (log scale)."""
    epochs = [row["epoch"] for row in rows]
    panels = ((GROUP_NORM, "gradient norm"), (GROUP_RATIO, "update / weight"))
    for ax, (prefix, label) in zip(axes, panels, strict=True):
        for column in (c for c in rows[0] if c.startswith(prefix)):
            values = [max(row[column], 1e-12) for row in rows]
            ax.plot(epochs, values, marker="o", markersize=3, label=column.removeprefix(prefix))
        ax.set_title(f"{label} per layer group")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
