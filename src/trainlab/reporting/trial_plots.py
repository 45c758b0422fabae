"""Learning-curve plots of one trial (loss, val_loss, acc, f1, combined), Agg backend.

combined.png gains a row with the gradient panels when the rows hold the monitor's columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from trainlab.tools.gradients import draw_gradients, has_gradient_columns

Row = Mapping[str, float]

# file stem -> (panel title, y label, [(legend, column)])
PANELS: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "loss": ("Loss", "loss", [("train", "train_loss"), ("validation", "val_loss")]),
    "val_loss": ("Validation loss", "loss", [("validation", "val_loss")]),
    "acc": ("Accuracy", "accuracy", [("train", "train_acc"), ("validation", "val_acc")]),
    "f1": ("Macro F1", "macro F1", [("train", "train_f1"), ("validation", "val_f1")]),
}


def plot_trial(rows: Sequence[Row], out_dir: Path, title: str = "") -> list[Path]:
    """Write loss.png, val_loss.png, acc.png, f1.png and combined.png; return their paths."""
    paths = []
    for stem, panel in PANELS.items():
        fig = Figure(figsize=(6, 4), layout="constrained")
        _draw(fig.subplots(), rows, *panel, title=title)
        paths.append(_save(fig, out_dir / f"{stem}.png"))
    gradients = has_gradient_columns(rows)  # a third row: tools/gradients.py's two panels
    fig = Figure(figsize=(11, 12 if gradients else 8), layout="constrained")
    axes = fig.subplots(3 if gradients else 2, 2)
    for ax, panel in zip(axes[:2].flat, PANELS.values(), strict=True):
        _draw(ax, rows, *panel)
    if gradients:
        draw_gradients(axes[2], rows)
    fig.suptitle(title or "Learning curves")
    paths.append(_save(fig, out_dir / "combined.png"))
    return paths


def _draw(
    ax: Axes,
    rows: Sequence[Row],
    name: str,
    ylabel: str,
    lines: list[tuple[str, str]],
    title: str = "",
) -> None:
    epochs = [row["epoch"] for row in rows]
    for legend, column in lines:
        ax.plot(epochs, [row[column] for row in rows], marker="o", markersize=3, label=legend)
    ax.set_title(f"{name} — {title}" if title else name)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)
    return path
