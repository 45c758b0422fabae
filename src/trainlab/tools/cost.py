"""What a trained model costs: inference latency, trainable parameters, and the training
memory at a batch (the batch finder's probe) with the batch the executor starts at.

Latency is the median of `repeats` timed forward passes of one image (batch 1, eval mode, no
autograd, fp32, channels_last) after `warmup` untimed ones, on the trial's device (CUDA is
synchronized around each pass; on CPU with one intra-op thread: on a shared 2-core machine,
torch's default threads made the same model's latency vary up to 100-fold between calls,
one thread about 2-fold). It depends on the architecture and width, not on the
weights, so the lab measures a freshly built model of the trial's width after training.
"""

from __future__ import annotations

import functools
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from trainlab.space import BATCH_SIZES
from trainlab.tools.batch_finder import BatchChoice, largest_fitting_batch, model_probe
from trainlab.training.data import ImageSplits
from trainlab.training.models import ResNet9

WARMUP, REPEATS = 10, 50


@dataclass(frozen=True)
class ModelCost:
    latency_ms: float
    param_count: int


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def latency_ms(
    model: nn.Module,
    image_shape: tuple[int, ...],
    device: torch.device,
    warmup: int = WARMUP,
    repeats: int = REPEATS,
) -> float:
    """Median ms of one forward pass of a single image (see module doc)."""
    model = model.to(device, memory_format=torch.channels_last).eval()
    x = torch.randn(1, *image_shape, device=device).contiguous(memory_format=torch.channels_last)
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        times = []
        for i in range(warmup + repeats):
            _sync(device)
            started = time.perf_counter()
            model(x)
            _sync(device)
            if i >= warmup:
                times.append((time.perf_counter() - started) * 1000)
    finally:
        torch.set_num_threads(threads)
    return statistics.median(times)


def model_cost(
    data: ImageSplits, width: int, device: torch.device, latency: float | None = None
) -> ModelCost:
    """Latency (measured unless given) and parameters of ResNet9(width) on `data`'s images."""
    model = ResNet9(data.num_classes, data.in_channels, width=width)
    if latency is None:
        latency = latency_ms(model, tuple(data.train_x.shape[1:]), device)
    return ModelCost(latency, trainable_parameters(model))


def fitting_batch(
    data: ImageSplits, width: int, device: torch.device, budget_mb: float, requested: int
) -> BatchChoice:
    """The largest batch up to `requested` whose training step fits `budget_mb`."""
    build = functools.partial(ResNet9, data.num_classes, data.in_channels, width=width)
    probe = model_probe(build, tuple(data.train_x.shape[1:]), data.num_classes, device)
    return largest_fitting_batch(probe, budget_mb, [b for b in BATCH_SIZES if b <= requested])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
