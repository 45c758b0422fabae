"""Magnitude pruning reaches its sparsity; channel pruning really narrows the network."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from trainlab.deploy.prune import (
    conv_channels,
    magnitude_masks,
    make_permanent,
    parameter_count,
    prunable_weights,
    prune_channels,
    weight_sparsity,
)
from trainlab.training.models import ResNet9


def model() -> ResNet9:
    torch.manual_seed(0)
    return ResNet9(num_classes=4, in_channels=3, width=8).eval()


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.8])
def test_global_magnitude_pruning_zeroes_the_requested_fraction(sparsity):
    pruned = magnitude_masks(model(), sparsity)
    assert weight_sparsity(pruned) == pytest.approx(sparsity, abs=1e-3)


def test_magnitude_pruning_leaves_the_original_untouched_and_masks_become_permanent():
    original = model()
    pruned = make_permanent(magnitude_masks(original, 0.5))
    assert weight_sparsity(original) == 0.0
    assert not any(torch_prune.is_pruned(m) for m, _ in prunable_weights(pruned))
    assert weight_sparsity(pruned) == pytest.approx(0.5, abs=1e-3)


def test_channel_pruning_removes_the_fraction_of_every_conv_and_shrinks_parameters():
    original = model()
    narrow = prune_channels(original, 0.5)
    assert conv_channels(narrow) == conv_channels(original) // 2
    widths = [m.out_channels for m in narrow.modules() if isinstance(m, nn.Conv2d)]
    assert widths == [4, 8, 8, 8, 16, 32, 32, 32]
    assert parameter_count(narrow) < 0.3 * parameter_count(original)
    assert narrow(torch.rand(2, 3, 8, 8)).shape == (2, 4)


def test_channel_pruning_keeps_the_strongest_filters():
    original = model()
    with torch.no_grad():
        original.prep[0].weight[5].mul_(100)  # channel 5 of the first conv is the strongest
    narrow = prune_channels(original, 0.875)  # 8 channels -> 1
    assert narrow.prep[0].out_channels == 1
    assert torch.equal(narrow.prep[0].weight[0], original.prep[0].weight[5])


def test_zero_channel_sparsity_is_the_same_function():
    original = model()
    x = torch.rand(3, 3, 8, 8)
    assert torch.allclose(prune_channels(original, 0.0)(x), original(x))
