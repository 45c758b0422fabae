"""Curve diagnosis: heuristics that turn a trial's epoch metrics into named flags."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from trainlab.state import TrialSummary
from trainlab.tools.gradients import gradient_flags

# Search keywords per flag: what a researcher would look up (never names data or model).
FLAG_KEYWORDS: dict[str, str] = {
    "diverged": "training loss NaN divergence learning rate",
    "failed": "out of memory batch size reduction",
    "overfitting": "overfitting regularization weight decay label smoothing",
    "underfitting": "underfitting increase learning rate reduce regularization",
    "plateau": "validation accuracy plateau learning rate schedule",
    "lr_too_high": "learning rate too high oscillating loss",
    "lr_too_low": "learning rate too low slow convergence",
    "unstable": "unstable validation accuracy batch size noise",
    "still_improving": "undertrained model more updates per epoch smaller batch",
    "healthy": "fine tuning hyperparameters small improvements",
    "exploding_gradients": "exploding gradients clipping warmup lower learning rate",
    "vanishing_gradients": "vanishing gradients normalization residual learning rate",
    "dead_layers": "dead ReLU layers zero gradients learning rate",
}
UNSTABLE_DROP = 0.03  # a fall in validation accuracy this large counts as a setback
STILL_IMPROVING = 0.03  # a last-epoch gain this large: the epochs ran out, not the learning


def _col(rows: Sequence[dict[str, Any]], name: str) -> list[float]:
    return [float(row[name]) for row in rows]


def curve_features(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Trend features of one trial's curves (None where too few epochs to tell)."""
    if not rows:
        return {"epochs": 0.0}
    train_loss, val_loss = _col(rows, "train_loss"), _col(rows, "val_loss")
    train_acc, val_acc = _col(rows, "train_acc"), _col(rows, "val_acc")
    tail = val_acc[-3:]
    return {
        "epochs": float(len(rows)),
        "final_train_acc": train_acc[-1],
        "final_val_acc": val_acc[-1],
        "best_val_acc": max(val_acc),
        "generalization_gap": train_acc[-1] - val_acc[-1],
        "train_loss_drop": (train_loss[0] - train_loss[-1]) / max(train_loss[0], 1e-12),
        "val_loss_rise_from_min": (val_loss[-1] - min(val_loss)) / max(min(val_loss), 1e-12),
        "val_acc_gain_last3": (tail[-1] - tail[0]) if len(rows) >= 3 else None,
        "val_acc_gain_last": val_acc[-1] - val_acc[-2] if len(rows) >= 2 else None,
        "val_acc_drops": float(sum(d < -UNSTABLE_DROP for d in _diffs(val_acc))),
        "train_loss_increases": float(sum(d > 0 for d in _diffs(train_loss))),
    }


def _diffs(values: Sequence[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(values)]


def diagnose(summary: TrialSummary, rows: Sequence[dict[str, Any]]) -> tuple[list[str], dict]:
    """Flags (ordered by severity) and the features they were read from; gradient flags
    (tools/gradients.py) follow the curve flags, their evidence joins the features."""
    features = curve_features(rows)
    if summary.status == "failed":
        return ["failed"], features
    gradients = gradient_flags(rows)
    for evidence in gradients.values():
        features.update(evidence)
    if summary.status == "diverged":
        return ["diverged", "lr_too_high", *gradients], features
    flags = [flag for flag, test in _RULES if len(rows) >= 2 and test(features)]
    return flags + list(gradients) or ["healthy"], features


def _overfitting(f: dict) -> bool:
    return f["generalization_gap"] > 0.08 and f["val_loss_rise_from_min"] > 0.10


def _underfitting(f: dict) -> bool:
    return f["final_train_acc"] < 0.70 and f["generalization_gap"] < 0.05


def _plateau(f: dict) -> bool:
    gain = f["val_acc_gain_last3"]
    return gain is not None and f["epochs"] >= 4 and abs(gain) < 0.005


def _lr_too_high(f: dict) -> bool:
    return f["train_loss_increases"] >= max(2.0, f["epochs"] / 3)


def _lr_too_low(f: dict) -> bool:
    return f["train_loss_drop"] < 0.25 and f["final_train_acc"] < 0.9


def _unstable(f: dict) -> bool:
    return f["val_acc_drops"] >= 2


def _still_improving(f: dict) -> bool:
    """Still climbing at the last epoch: within the epochs it has, the model needs more (or
    larger) updates, not a different recipe."""
    return (f["val_acc_gain_last"] or 0.0) >= STILL_IMPROVING


_RULES = (
    ("overfitting", _overfitting),
    ("lr_too_high", _lr_too_high),
    ("unstable", _unstable),
    ("lr_too_low", _lr_too_low),
    ("underfitting", _underfitting),
    ("plateau", _plateau),
    ("still_improving", _still_improving),
)
