"""The evaluation phase of a trial: loss, accuracy, F1 and calibration, in batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

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
