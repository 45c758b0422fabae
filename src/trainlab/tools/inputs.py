"""What the tools feed a model: seeded, normalised batches of an ImageSplits' training tensors."""

from __future__ import annotations

from collections.abc import Callable

import torch

from trainlab.training.data import ImageSplits

Batch = tuple[torch.Tensor, torch.Tensor]  # (float inputs [N, C, H, W], int64 labels [N])


def normalised(data: ImageSplits, images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, C, H, W] -> float inputs normalised by the split's per-channel mean and std."""
    shape = (1, -1, 1, 1)
    mean = torch.tensor(data.mean, device=images.device).view(shape)
    std = torch.tensor(data.std, device=images.device).view(shape)
    return ((images.float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)


def batch_sampler(
    data: ImageSplits, batch_size: int, device: torch.device, seed: int
) -> Callable[[int], Batch]:
    """step -> a random training batch (without augmentation), drawn on `device`, seeded."""
    x, y = data.train_x.to(device), data.train_y.to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    size = min(batch_size, len(y))

    def draw(_step: int) -> Batch:
        idx = torch.randint(0, len(y), (size,), device=device, generator=gen)
        return normalised(data, x[idx]), y[idx]

    return draw
