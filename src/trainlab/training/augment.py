"""Batched augmentation on the data's device: random crop, flip and colour jitter.

Images stay uint8 [N, C, H, W] until `model_inputs` turns them into normalised float inputs,
so a whole dataset fits on the GPU and is augmented there, one batch at a time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

JITTER = {"brightness": 0.2, "contrast": 0.2, "colour": 0.1}  # "strong" augmentation, ± factors


def model_inputs(
    images: torch.Tensor,
    augment: str,
    gen: torch.Generator | None,
    mean: torch.Tensor,
    std: torch.Tensor,
) -> torch.Tensor:
    """uint8 [N, C, H, W] -> augmented ("none" / "basic" / "strong"), normalised inputs."""
    if augment != "none":
        images = random_flip(random_crop(images, max(1, images.shape[-1] // 8), gen), gen)
    x = images.float().div_(255)
    if augment == "strong":
        x = colour_jitter(x, gen)
    x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last)


def random_crop(images: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Zero-pad by `pad` and crop back to size at a random offset per image."""
    n, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad))
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n, 1), device=images.device, generator=gen)
    rows = (dy + torch.arange(h, device=images.device))[:, None, :, None]
    cols = (dx + torch.arange(w, device=images.device))[:, None, None, :]
    padded = padded.gather(2, rows.expand(n, c, h, w + 2 * pad))
    return padded.gather(3, cols.expand(n, c, h, w))


def random_flip(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the images left-right."""
    flip = torch.rand(len(images), device=images.device, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def colour_jitter(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mild random brightness, contrast and per-channel colour scaling of [0, 1] images."""

    def factor(spread: float, channels: int = 1) -> torch.Tensor:
        u = torch.rand(len(x), channels, 1, 1, device=x.device, generator=gen)
        return 1 + spread * (2 * u - 1)

    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * factor(JITTER["contrast"]) + mean
    x = x * factor(JITTER["brightness"]) * factor(JITTER["colour"], x.shape[1])
    return x.clamp_(0, 1)
