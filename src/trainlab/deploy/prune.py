"""Pruning: global magnitude (masks, torch.nn.utils.prune) and conv channels (a narrower net).

Channel pruning removes the lowest-L2 filters of each ResNet-9 conv and rebuilds the conv,
its BatchNorm and every consumer with fewer channels, so parameters and the ONNX file shrink.
Channels joined by a residual add are pruned together (one group, summed filter norms).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune

from trainlab.training.models import ResNet9


@dataclass(frozen=True)
class ChannelGroup:
    """Channels shared by `producers` (conv paths, each followed by its BatchNorm at .1)."""

    producers: tuple[str, ...]
    consumers: tuple[str, ...]  # convs / linear reading these channels (input dim 1)


# ResNet-9's conv_bn blocks are Sequential(conv, bn, relu): "<path>.0" conv, "<path>.1" bn
RESNET9_GROUPS = (
    ChannelGroup(("prep",), ("layer1.0.0",)),
    ChannelGroup(("layer1.0", "layer1.2.body.1"), ("layer1.2.body.0.0", "layer2.0.0")),
    ChannelGroup(("layer1.2.body.0",), ("layer1.2.body.1.0",)),
    ChannelGroup(("layer2.0",), ("layer3.0.0",)),
    ChannelGroup(("layer3.0", "layer3.2.body.1"), ("layer3.2.body.0.0", "linear")),
    ChannelGroup(("layer3.2.body.0",), ("layer3.2.body.1.0",)),
)


def prunable_weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    return [(m, "weight") for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def magnitude_masks(model: nn.Module, sparsity: float) -> nn.Module:
    """A copy with the smallest |w| of all conv/linear weights masked to zero (global L1)."""
    pruned = copy.deepcopy(model)
    prune.global_unstructured(
        prunable_weights(pruned), pruning_method=prune.L1Unstructured, amount=sparsity
    )
    return pruned


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold the masks into the weights (plain parameters again, zeros stay zeros)."""
    for module, name in prunable_weights(model):
        if prune.is_pruned(module):
            prune.remove(module, name)
    return model


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of zeros over all conv/linear weights (masks applied)."""
    weights = [getattr(m, name) for m, name in prunable_weights(model)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / sum(w.numel() for w in weights)


def conv_channels(model: nn.Module) -> int:
    return sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))


def parameter_count(model: nn.Module, nonzero: bool = False) -> int:
    if nonzero:
        return sum(int((p != 0).sum()) for p in model.parameters())
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def prune_channels(model: ResNet9, fraction: float) -> ResNet9:
    """A narrower copy: `fraction` of every group's channels removed (at least one kept)."""
    narrow = copy.deepcopy(model)
    out_keep: dict[str, torch.Tensor] = {}
    in_keep: dict[str, torch.Tensor] = {}
    for group in RESNET9_GROUPS:
        keep = _strongest_channels(narrow, group.producers, fraction)
        for path in group.producers:
            out_keep[f"{path}.0"] = out_keep[f"{path}.1"] = keep
        for path in group.consumers:
            in_keep[path] = keep
    for path in sorted(set(out_keep) | set(in_keep)):
        module = narrow.get_submodule(path)
        _replace(narrow, path, _sliced(module, out_keep.get(path), in_keep.get(path)))
    return narrow


def _strongest_channels(model: nn.Module, producers: tuple[str, ...], fraction: float):
    norms = sum(
        torch.linalg.vector_norm(model.get_submodule(f"{p}.0").weight.flatten(1), dim=1)
        for p in producers
    )
    keep = max(1, round((1 - fraction) * len(norms)))
    return norms.topk(keep).indices.sort().values


def _sliced(module: nn.Module, out_idx, in_idx) -> nn.Module:
    """A new conv / batch norm / linear holding only the kept output and input channels."""
    weight = module.weight
    if out_idx is not None:
        weight = weight[out_idx]
    if in_idx is not None and weight.dim() > 1:
        weight = weight[:, in_idx]
    if isinstance(module, nn.BatchNorm2d):
        new = nn.BatchNorm2d(len(out_idx), eps=module.eps, momentum=module.momentum)
        new.bias.copy_(module.bias[out_idx])
        new.running_mean.copy_(module.running_mean[out_idx])
        new.running_var.copy_(module.running_var[out_idx])
        new.num_batches_tracked.copy_(module.num_batches_tracked)
    elif isinstance(module, nn.Conv2d):
        new = nn.Conv2d(
            weight.shape[1],
            weight.shape[0],
            module.kernel_size,
            stride=module.stride,
            padding=module.padding,
            bias=False,
        )
    else:
        new = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    new.weight.copy_(weight)
    return new.train(module.training)


def _replace(model: nn.Module, path: str, new: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent), name, new)
