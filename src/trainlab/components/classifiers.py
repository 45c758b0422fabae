"""Small image classifiers that put each architecture block to work, and their plain rivals.

Every classifier first average-pools the image to 8×8 (digits are 8×8 already), so they
take any image size. `matched_plain_mlp` builds the plain two-hidden-layer MLP whose
parameter count is closest to a given one: the baseline an architecture is measured against.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from trainlab.components.architectures import (
    AdaptiveComputationTime,
    DynamicDepthNetwork,
    FeedForward,
    HyperNetwork,
    MixtureOfExpertsLayer,
    MultiScaleAttention,
)

GRID = 8  # images are pooled to GRID × GRID
PATCH = 2  # token classifiers embed PATCH × PATCH patches: (GRID / PATCH)² tokens


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def pixels(in_channels: int) -> tuple[nn.Module, int]:
    """Pool to GRID × GRID and flatten; returns the module and its output width."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(GRID), nn.Flatten()), in_channels * GRID * GRID


class Residual(nn.Module):
    """x + f(x)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def vector_classifier(body: nn.Module, dim: int, num_classes: int, in_channels: int) -> nn.Module:
    """pixels → Linear(dim) → body → LayerNorm → Linear(num_classes)."""
    flatten, features = pixels(in_channels)
    return nn.Sequential(
        flatten,
        nn.Linear(features, dim),
        body,
        nn.LayerNorm(dim),
        nn.Linear(dim, num_classes),
    )


class TokenClassifier(nn.Module):
    """Patch tokens + position embeddings → x + attention(LN x) → x + FFN(x) → mean → head."""

    def __init__(self, attention: nn.Module, dim: int, num_classes: int, in_channels: int) -> None:
        super().__init__()
        tokens = (GRID // PATCH) ** 2
        self.pool = nn.AdaptiveAvgPool2d(GRID)
        self.embed = nn.Conv2d(in_channels, dim, kernel_size=PATCH, stride=PATCH)
        self.position = nn.Parameter(0.02 * torch.randn(tokens, dim))
        self.norm = nn.LayerNorm(dim)
        self.attention = attention
        self.mlp = Residual(FeedForward(dim, 2 * dim))
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.embed(self.pool(x)).flatten(2).transpose(1, 2) + self.position
        x = x + self.attention(self.norm(x))
        return self.head(self.mlp(x).mean(1))


def dynamic_depth_classifier(
    num_classes: int, in_channels: int, dim: int, total_steps: int, max_depth: int = 4
) -> nn.Module:
    """Starts with one block and grows one more at each quarter of training."""
    body = DynamicDepthNetwork(dim, max_depth, 1, grow_every=max(1, total_steps // max_depth))
    return vector_classifier(body, dim, num_classes, in_channels)


def moe_classifier(num_classes: int, in_channels: int, dim: int) -> nn.Module:
    body = Residual(MixtureOfExpertsLayer(dim, num_experts=4, top_k=2))
    return vector_classifier(body, dim, num_classes, in_channels)


def act_classifier(num_classes: int, in_channels: int, dim: int) -> nn.Module:
    return vector_classifier(
        AdaptiveComputationTime(dim, max_steps=6), dim, num_classes, in_channels
    )


def hypernetwork_classifier(num_classes: int, in_channels: int, dim: int) -> nn.Module:
    """A residual MLP block whose two layers are generated (single task: digits has one)."""
    body = Residual(
        nn.Sequential(
            nn.LayerNorm(dim), HyperNetwork(dim, 2 * dim), nn.GELU(), HyperNetwork(2 * dim, dim)
        )
    )
    return vector_classifier(body, dim, num_classes, in_channels)


def multiscale_classifier(num_classes: int, in_channels: int, dim: int) -> nn.Module:
    return TokenClassifier(MultiScaleAttention(dim, num_heads=4), dim, num_classes, in_channels)


def plain_mlp(num_classes: int, in_channels: int, hidden: int) -> nn.Module:
    """pixels → Linear(h) → ReLU → Linear(h) → ReLU → Linear(num_classes)."""
    flatten, features = pixels(in_channels)
    return nn.Sequential(
        flatten,
        nn.Linear(features, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


def plain_mlp_parameters(num_classes: int, in_channels: int, hidden: int) -> int:
    features = in_channels * GRID * GRID
    return (features + 1) * hidden + (hidden + 1) * hidden + (hidden + 1) * num_classes


def matched_plain_mlp(num_classes: int, in_channels: int, target: int) -> nn.Module:
    """The plain MLP whose parameter count is closest to `target` (hidden² ≤ count)."""
    hidden = min(
        range(1, math.isqrt(max(target, 1)) + 2),
        key=lambda h: abs(plain_mlp_parameters(num_classes, in_channels, h) - target),
    )
    return plain_mlp(num_classes, in_channels, hidden)
