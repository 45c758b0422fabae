"""Plots of one experiment: learning curves per arm and per-seed paired outcomes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from trainlab.experiments.results import ArmResult, ExperimentResult

CURVES = "curves.png"
PAIRED = "paired.png"
PAIRED_METRICS = (("test_acc", "test accuracy"), ("test_ece", "test ECE"), ("seconds", "seconds"))


def save_plots(result: ExperimentResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return [_curves(result, directory / CURVES), _paired(result, directory / PAIRED)]


def _band(ax: Axes, arm: ArmResult, field: str) -> None:
    curves = [getattr(r, field) for r in arm.records if getattr(r, field)]
    if not curves:
        return
    length = min(len(c) for c in curves)
    values = np.array([c[:length] for c in curves])
    epochs = np.arange(1, length + 1)
    mean, std = values.mean(0), values.std(0)
    ax.plot(epochs, mean, label=arm.label)
    ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)


def _curves(result: ExperimentResult, path: Path) -> Path:
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for field, ax, title in (
        ("val_acc_curve", axes[0], "validation accuracy (mean ± sd over seeds)"),
        ("train_loss_curve", axes[1], "training loss, own objective (mean ± sd)"),
    ):
        for arm in (result.baseline, result.candidate):
            _band(ax, arm, field)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.suptitle(result.name)
    return _save(fig, path)


def _paired(result: ExperimentResult, path: Path) -> Path:
    fig = Figure(figsize=(4 * len(PAIRED_METRICS), 3.6), layout="constrained")
    axes = fig.subplots(1, len(PAIRED_METRICS))
    for ax, (metric, title) in zip(axes, PAIRED_METRICS, strict=True):
        pairs = zip(result.baseline.values(metric), result.candidate.values(metric), strict=True)
        for b, c in pairs:
            if b is not None and c is not None:
                ax.plot([0, 1], [b, c], marker="o", color="tab:gray", alpha=0.7)
        comparison = result.comparison(metric)
        p = "–" if comparison.p_value is None else f"{comparison.p_value:.3g}"
        ax.set_title(f"{title}\np = {p}: {comparison.verdict}", fontsize=9)
        ax.set_xticks([0, 1], ["baseline", "candidate"])
        ax.set_xlim(-0.3, 1.3)
    fig.suptitle(f"{result.name}: paired by seed", fontsize=10)
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110)
    return path
