"""What a trial leaves in its folder: metrics_epoch.csv, the plots and summary.json."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from trainlab.reporting.trial_plots import plot_trial
from trainlab.runstore import atomic_write_bytes, read_json, write_json
from trainlab.state import TrialSummary

SUMMARY = "summary.json"
METRICS_CSV = "metrics_epoch.csv"
METRIC_COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "train_acc",
    "val_acc",
    "train_f1",
    "val_f1",
    "lr",
    "epoch_seconds",
    "images_per_sec",
)

Row = dict[str, float]


def finished_summary(trial_dir: Path) -> TrialSummary | None:
    """The summary of a finished trial (a finished trial is never retrained), else None."""
    path = trial_dir / SUMMARY
    return TrialSummary.model_validate(read_json(path)) if path.is_file() else None


def epoch_row(epoch: int, train: Row, val: Row, seconds: float) -> Row:
    """One line of metrics_epoch.csv from an epoch's training and validation scores."""
    return {
        "epoch": epoch,
        "train_loss": train["loss"],
        "val_loss": val["loss"],
        "train_acc": train["acc"],
        "val_acc": val["acc"],
        "train_f1": train["f1"],
        "val_f1": val["f1"],
        "lr": train["lr"],
        "epoch_seconds": seconds,
        "images_per_sec": train["images_per_sec"],
    }


def write_metrics_csv(trial_dir: Path, history: list[Row]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_bytes(trial_dir / METRICS_CSV, text.getvalue().encode())


def write_trial_artifacts(trial_dir: Path, summary: TrialSummary, history: list[Row]) -> None:
    """The final curves CSV, the learning-curve plots and summary.json (written last)."""
    write_metrics_csv(trial_dir, history)
    if history:
        title = f"{trial_dir.name}: {summary.effective_hparams.brief()}"
        plot_trial(history, trial_dir, title=title)
    write_json(trial_dir / SUMMARY, summary.model_dump(mode="json"))
