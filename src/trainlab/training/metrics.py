"""Classification metrics in torch, computed on the device that holds the predictions."""

from __future__ import annotations

import torch


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts [true, predicted] as a num_classes × num_classes int64 tensor.

    scatter_add rather than bincount: bincount reads its input's max back to the host on CUDA,
    and the training loop calls this every step.
    """
    flat = targets.long() * num_classes + preds.long()
    cm = torch.zeros(num_classes * num_classes, dtype=torch.long, device=flat.device)
    return cm.scatter_add_(0, flat, torch.ones_like(flat)).view(num_classes, num_classes)


def accuracy(cm: torch.Tensor) -> float:
    """Fraction of correct predictions (0.0 for an empty matrix)."""
    total = cm.sum().item()
    return cm.diagonal().sum().item() / total if total else 0.0


def macro_f1(cm: torch.Tensor) -> float:
    """Unweighted mean F1 over the classes that occur as a target or a prediction.

    Matches scikit-learn's `f1_score(average="macro")`: a class never predicted scores 0.
    """
    cm = cm.double()
    tp = cm.diagonal()
    denom = cm.sum(0) + cm.sum(1)  # 2·tp + fp + fn
    present = denom > 0
    if not present.any():
        return 0.0
    return (2 * tp[present] / denom[present]).mean().item()


def expected_calibration_error(
    probs: torch.Tensor, targets: torch.Tensor, n_bins: int = 15
) -> float:
    """ECE: |accuracy − confidence| per equal-width confidence bin, weighted by bin size."""
    if len(targets) == 0:
        return 0.0
    confidence, preds = probs.float().max(dim=1)
    correct = (preds == targets).float()
    bins = (confidence * n_bins).ceil().long().clamp(1, n_bins) - 1
    conf_sum = torch.bincount(bins, weights=confidence, minlength=n_bins)
    correct_sum = torch.bincount(bins, weights=correct, minlength=n_bins)
    return ((correct_sum - conf_sum).abs().sum() / len(targets)).item()
