"""Experiment trackers: each trial's hyperparameters, per-epoch metrics and final summary.

`--tracker tensorboard` writes `RUN_DIR/tb/<trial>/` (torch.utils.tensorboard), `--tracker
mlflow` a local MLflow store, `RUN_DIR/mlflow.db` (SQLite: MLflow 3 refuses its old `./mlruns`
file store by default) with artifacts in `RUN_DIR/mlruns/`, one MLflow run per trial; `none`
writes nothing. `viewer_commands` names the command that opens each of them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from trainlab.config import TrackerName

if TYPE_CHECKING:  # only stdlib at import: LabSettings checks the package while parsing
    from trainlab.state import TrialSummary

TENSORBOARD_DIR = "tb"
MLFLOW_DB = "mlflow.db"
MLFLOW_ARTIFACTS = "mlruns"
OPTUNA_DB = "optuna.db"  # the study storage of the search engine, where a run has one
MLFLOW_EXPERIMENT = "trainlab"
REQUIRED_PACKAGE = {"tensorboard": "tensorboard", "mlflow": "mlflow"}
MLFLOW_STATUS = {"complete": "FINISHED", "pruned": "KILLED"}  # any other status: FAILED
SUMMARY_METRICS = ("best_val_acc", "best_val_loss", "test_acc", "test_f1", "epochs_run")


class TrackerUnavailableError(ValueError):
    """The chosen tracker's package is not installed."""


class Tracker(Protocol):
    """Where one trial's progress is logged, besides the run folder's own files."""

    def start_trial(self, name: str, hparams: Mapping[str, Any]) -> None: ...

    def log_epoch(self, row: Mapping[str, Any]) -> None: ...

    def end_trial(self, summary: TrialSummary) -> None: ...


def require_tracker(name: str) -> None:
    """Raise a one-line TrackerUnavailableError when `name`'s package is missing."""
    package = REQUIRED_PACKAGE.get(name)
    if package and importlib.util.find_spec(package) is None:
        raise TrackerUnavailableError(
            f"--tracker {name}: the {package} package is not installed; "
            f"pip install 'trainlab[trackers]' (or use --tracker none)"
        )


def open_tracker(name: TrackerName, run_dir: Path) -> Tracker:
    """The tracker `name`, writing under `run_dir`."""
    require_tracker(name)
    if name == "tensorboard":
        return TensorBoardTracker(run_dir / TENSORBOARD_DIR)
    if name == "mlflow":
        return MlflowTracker(run_dir)
    return NullTracker()


def also_track(tracker: Tracker, on_epoch: Callable[[dict], None]) -> Callable[[dict], None]:
    """An on_epoch callback that calls `on_epoch`, then logs the row to `tracker`."""

    def both(row: dict) -> None:
        on_epoch(row)
        tracker.log_epoch(row)

    return both


def epoch_metrics(row: Mapping[str, Any]) -> dict[str, float]:
    """The numeric metrics of an epoch row, without its step counters."""
    return {
        key: float(value)
        for key, value in row.items()
        if key not in ("epoch", "epochs") and isinstance(value, int | float)
    }


def summary_metrics(summary: TrialSummary) -> dict[str, float]:
    values = {key: getattr(summary, key) for key in SUMMARY_METRICS}
    return {f"final/{key}": float(value) for key, value in values.items() if value is not None}


class NullTracker:
    def start_trial(self, name: str, hparams: Mapping[str, Any]) -> None:
        pass

    def log_epoch(self, row: Mapping[str, Any]) -> None:
        pass

    def end_trial(self, summary: TrialSummary) -> None:
        pass


class TensorBoardTracker:
    """Scalars per epoch (step = epoch), the hyperparameters as text and in the HParams tab."""

    def __init__(self, root: Path) -> None:
        self.root, self.writer, self.hparams = root, None, {}

    def start_trial(self, name: str, hparams: Mapping[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer, self.hparams = SummaryWriter(log_dir=str(self.root / name)), dict(hparams)
        self.writer.add_text("hparams", ", ".join(f"{k}={v}" for k, v in hparams.items()))

    def log_epoch(self, row: Mapping[str, Any]) -> None:
        for key, value in epoch_metrics(row).items():
            self.writer.add_scalar(key, value, global_step=int(row["epoch"]))

    def end_trial(self, summary: TrialSummary) -> None:
        self.writer.add_text("status", f"{summary.status}: {summary.reason or ''}")
        self.writer.add_hparams(self.hparams, summary_metrics(summary), run_name=".")
        self.writer.close()


class MlflowTracker:
    """One MLflow run per trial (named after it, reopened on resume) in the run's local store."""

    def __init__(self, run_dir: Path) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=mlflow_uri(run_dir.resolve()))
        experiment = self.client.get_experiment_by_name(MLFLOW_EXPERIMENT)
        self.experiment_id = (
            experiment.experiment_id
            if experiment
            else self.client.create_experiment(
                MLFLOW_EXPERIMENT, artifact_location=(run_dir / MLFLOW_ARTIFACTS).resolve().as_uri()
            )
        )
        self.run_id = ""

    def start_trial(self, name: str, hparams: Mapping[str, Any]) -> None:
        found = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.mlflow.runName = '{name}'"
        )
        if found:  # a resumed trial goes on logging into the run it started
            self.run_id = found[0].info.run_id
            return
        self.run_id = self.client.create_run(self.experiment_id, run_name=name).info.run_id
        for key, value in hparams.items():
            self.client.log_param(self.run_id, key, value)

    def log_epoch(self, row: Mapping[str, Any]) -> None:
        for key, value in epoch_metrics(row).items():
            self.client.log_metric(self.run_id, key, value, step=int(row["epoch"]))

    def end_trial(self, summary: TrialSummary) -> None:
        for key, value in summary_metrics(summary).items():
            self.client.log_metric(self.run_id, key, value)
        self.client.set_tag(self.run_id, "status", summary.status)
        status = MLFLOW_STATUS.get(summary.status, "FAILED")
        self.client.set_terminated(self.run_id, status=status)


def mlflow_uri(run_dir: Path) -> str:
    return f"sqlite:///{run_dir / MLFLOW_DB}"


def viewer_commands(run_dir: Path) -> list[str]:
    """The commands that open what this run folder holds for outside viewers."""
    commands = []
    if (run_dir / OPTUNA_DB).is_file():
        commands.append(f"optuna-dashboard sqlite:///{run_dir / OPTUNA_DB}")
    if (run_dir / TENSORBOARD_DIR).is_dir():
        commands.append(f"tensorboard --logdir {run_dir / TENSORBOARD_DIR}")
    if (run_dir / MLFLOW_DB).is_file():
        commands.append(f"mlflow ui --backend-store-uri {mlflow_uri(run_dir)}")
    return commands
