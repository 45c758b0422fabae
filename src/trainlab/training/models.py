"""ResNet-9 after David Page's DAWNBench CIFAR-10 network, with a width knob.

    prep   conv-bn-relu(w)
    layer1 conv-bn-relu(2w), maxpool 2, residual(2 × conv-bn-relu(2w))
    layer2 conv-bn-relu(4w), maxpool 2
    layer3 conv-bn-relu(8w), maxpool 2, residual(2 × conv-bn-relu(8w))
    head   global max pool, linear(8w → classes, no bias), × 0.125

width=64 is Page's network. The global pool makes any input of at least 8×8 work: 32×32
CIFAR images end at 4×4 before it (Page's MaxPool(4)), 8×8 digits at 1×1.
"""

from __future__ import annotations

import torch
from torch import nn

LOGIT_SCALE = 0.125


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class Residual(nn.Module):
    """x + two conv-bn-relu blocks of the same width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet9(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        w = width
        self.prep = conv_bn(in_channels, w)
        self.layer1 = nn.Sequential(conv_bn(w, 2 * w), nn.MaxPool2d(2), Residual(2 * w))
        self.layer2 = nn.Sequential(conv_bn(2 * w, 4 * w), nn.MaxPool2d(2))
        self.layer3 = nn.Sequential(conv_bn(4 * w, 8 * w), nn.MaxPool2d(2), Residual(8 * w))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.linear = nn.Linear(8 * w, num_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        return self.linear(self.pool(x).flatten(1)) * LOGIT_SCALE
