"""The evaluation phase of a trial: BatchNorm statistics of the current weights, then loss,
accuracy, F1 and calibration, in batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from trainlab.training import checkpoint
from trainlab.training.metrics import (
    accuracy,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
)

if TYPE_CHECKING:
    from trainlab.training.trainer import _Context

Row = dict[str, float]


@torch.no_grad()
def evaluate(
    ctx: _Context, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int
) -> Row:
    """loss, acc, f1 and ece of `model` on (x, y), in batches, no augmentation."""
    model.eval()
    loss_sum = torch.zeros((), device=ctx.device)
    probs = []
    for start in range(0, len(y), batch_size):
        yb = y[start : start + batch_size]
        with ctx.autocast():
            logits = model(ctx.inputs(x[start : start + batch_size], "none", None)).float()
        loss_sum += ctx.loss(logits, yb) * len(yb)
        probs.append(logits.softmax(1))
    probs = torch.cat(probs)
    cm = confusion_matrix(probs.argmax(1), y, ctx.data.num_classes)
    return {
        "loss": loss_sum.item() / len(y),
        "acc": accuracy(cm),
        "f1": macro_f1(cm),
        "ece": expected_calibration_error(probs, y),
    }


def recalibrate_batchnorm(ctx: _Context, model: nn.Module, batch_size: int) -> None:
    """Precise BN (Wu & Johnson 2021): BatchNorm statistics of the current weights, from up to
    `precise_bn_images` evenly spaced training images in full batches. With momentum 0.1 the
    running averages of a trial of a few dozen steps still carry its first weights, and its
    validation accuracy reads near chance while the model has learnt (digits, 8 steps: 0.17
    against 0.68)."""
    limit = min(ctx.settings.precise_bn_images, len(ctx.data.train_y))
    b = min(batch_size, limit)  # full batches: a batch of one has no variance
    if b < 2:
        return
    x = ctx.data.train_x[:: len(ctx.data.train_y) // limit][:limit]
    batches = (ctx.inputs(x[i : i + b], "none", None) for i in range(0, len(x) - b + 1, b))
    with ctx.autocast():
        update_bn(batches, model)


def score_test(
    ctx: _Context, model: nn.Module, progress: checkpoint.Progress, batch_size: int
) -> Row | None:
    """Test scores: the best epoch's when val is test, else test scored once on the best weights."""
    best = progress.best
    if best is None:
        return None
    if ctx.data.val_and_test_same_dataset:
        return {"acc": best["val_acc"], "f1": best["val_f1"], "ece": best["val_ece"]}
    model.load_state_dict(progress.best_model)
    return evaluate(ctx, model, ctx.data.test_x, ctx.data.test_y, batch_size)
