"""The largest batch of the space that fits a memory budget, found by probing, not by OOM.

Each candidate of `space.BATCH_SIZES` (smallest first) gets one forward + backward + optimizer
step through a probe that returns the peak memory in MB; the search stops at the first
candidate over the budget or out of memory, so a batch that failed is never returned.

Probes:
- CUDA: `torch.cuda.max_memory_allocated` after `reset_peak_memory_stats`, measured.
- CPU: torch's CPU allocator is invisible to tracemalloc (it tracks Python's allocator only),
  so the CPU probe is a measured estimate: the bytes of every tensor autograd saves for
  backward during the real forward pass (`saved_tensors_hooks`), plus the input, plus
  parameters × 4 (weights, gradients, two Adam moments). It undercounts transient buffers
  (convolution workspaces), hence the budget's margin.
Both probe in fp32 with AdamW, so under AMP the trainer needs less than they measure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.space import BATCH_SIZES

Probe = Callable[[int], float]  # batch size -> peak MB; raises on out of memory
FREE_MEMORY_MARGIN = 0.8  # use at most this share of the free memory by default
PARAMETER_COPIES = 4  # weights, gradients, Adam's two moments
MB = 2**20


@dataclass(frozen=True)
class BatchChoice:
    """The chosen batch (None: not even the smallest fits) and what every probe measured."""

    batch_size: int | None
    budget_mb: float | None
    measured_mb: dict[int, float] = field(default_factory=dict)
    reason: str = ""


def largest_fitting_batch(
    probe: Probe, budget_mb: float | None, candidates: Sequence[int] = BATCH_SIZES
) -> BatchChoice:
    """Probe candidates smallest first; the largest whose peak stays within `budget_mb`."""
    measured: dict[int, float] = {}
    chosen = None
    for batch in sorted(candidates):
        try:
            peak = probe(batch)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            reason = f"batch {batch} ran out of memory"
            return BatchChoice(chosen, budget_mb, measured, _reason(chosen, reason))
        measured[batch] = peak
        if budget_mb is not None and peak > budget_mb:
            reason = f"batch {batch} needs {peak:.0f} MB > budget {budget_mb:.0f} MB"
            return BatchChoice(chosen, budget_mb, measured, _reason(chosen, reason))
        chosen = batch
    return BatchChoice(chosen, budget_mb, measured, f"every batch up to {chosen} fits")


def _reason(chosen: int | None, stop: str) -> str:
    return f"{stop}; largest that fits: {chosen}" if chosen else f"{stop}; none fits"


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc)
    )


def default_budget_mb(device: torch.device) -> float | None:
    """The device's free memory × FREE_MEMORY_MARGIN (None where it cannot be read)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free * FREE_MEMORY_MARGIN / MB
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not on every platform (macOS, Windows)
        return None
    return free * FREE_MEMORY_MARGIN / MB


def model_probe(
    build_model: Callable[[], nn.Module],
    sample_shape: tuple[int, ...],
    classes: int,
    device: torch.device,
) -> Probe:
    """A probe that trains one step of a fresh model on random inputs of `sample_shape`."""

    def probe(batch: int) -> float:
        model = build_model().to(device, memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(model.parameters())
        x = torch.randn(batch, *sample_shape, device=device)
        y = torch.randint(0, classes, (batch,), device=device)
        if device.type == "cuda":
            return _cuda_peak_mb(model, optimizer, x, y, device)
        return _cpu_estimate_mb(model, optimizer, x, y)

    return probe


def _train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x, y) -> None:
    F.cross_entropy(model(x.contiguous(memory_format=torch.channels_last)), y).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _cuda_peak_mb(model, optimizer, x, y, device: torch.device) -> float:
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    _train_step(model, optimizer, x, y)
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / MB


def _cpu_estimate_mb(model, optimizer, x, y) -> float:
    weights = {p.data_ptr() for p in model.parameters()}  # counted below, with their copies
    saved: dict[tuple[int, int], int] = {}  # a tensor saved by several ops counts once

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.data_ptr() not in weights:
            saved[tensor.data_ptr(), tensor.numel()] = tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        _train_step(model, optimizer, x, y)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    activations = sum(saved.values()) + x.numel() * x.element_size()
    return (activations + PARAMETER_COPIES * params) / MB
