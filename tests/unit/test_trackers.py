"""Trackers: what a trial logs to TensorBoard and MLflow can be read back by their own tools."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from lab_records import trial_summary

from trainlab.reporting import trackers
from trainlab.space import HParams

HP = HParams(
    optimizer="sgd",
    learning_rate=0.05,
    train_batch_size=64,
    weight_decay=5e-4,
    label_smoothing=0.1,
)
ROWS = [
    {"epoch": 1, "epochs": 2, "train_loss": 1.5, "val_acc": 0.5, "lr": 0.05},
    {"epoch": 2, "epochs": 2, "train_loss": 0.9, "val_acc": 0.75, "lr": 0.01},
]


def track_one_trial(tracker: trackers.Tracker) -> None:
    tracker.start_trial("trial_0", HP.model_dump())
    log = trackers.also_track(tracker, lambda row: None)
    for row in ROWS:
        log(row)
    tracker.end_trial(trial_summary(HP, best_val_acc=0.7, test_acc=0.68, epochs_run=2))


def test_tensorboard_event_files_hold_every_epoch_scalar(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    track_one_trial(trackers.open_tracker("tensorboard", tmp_path))
    events = EventAccumulator(str(tmp_path / "tb" / "trial_0"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("val_acc")] == [(1, 0.5), (2, 0.75)]
    assert {"train_loss", "lr", "final/best_val_acc", "final/test_acc"} <= set(
        events.Tags()["scalars"]
    )
    assert "epochs" not in events.Tags()["scalars"]


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow not installed")
def test_mlflow_local_store_holds_params_metrics_and_status(tmp_path):
    from mlflow.tracking import MlflowClient

    track_one_trial(trackers.open_tracker("mlflow", tmp_path))
    client = MlflowClient(tracking_uri=trackers.mlflow_uri(tmp_path))
    experiment = client.get_experiment_by_name("trainlab")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "trial_0" and run.info.status == "FINISHED"
    assert run.data.params["optimizer"] == "sgd" and run.data.tags["status"] == "complete"
    history = client.get_metric_history(run.info.run_id, "val_acc")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.75)]
    assert run.data.metrics["final/test_acc"] == pytest.approx(0.68)


def test_a_missing_tracker_package_is_one_line_naming_the_option(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(trackers.TrackerUnavailableError) as error:
        trackers.require_tracker("mlflow")
    assert str(error.value).startswith("--tracker mlflow:") and "\n" not in str(error.value)
    trackers.require_tracker("none")


def test_none_writes_nothing(tmp_path):
    track_one_trial(trackers.open_tracker("none", tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_viewer_commands_name_what_the_run_folder_holds(tmp_path):
    assert trackers.viewer_commands(tmp_path) == []
    (tmp_path / "tb").mkdir()
    for name in ("optuna.db", "mlflow.db"):
        (tmp_path / name).write_bytes(b"")
    assert trackers.viewer_commands(Path("runs") / tmp_path.name) == []  # relative: not there
    assert trackers.viewer_commands(tmp_path) == [
        f"optuna-dashboard sqlite:///{tmp_path / 'optuna.db'}",
        f"tensorboard --logdir {tmp_path / 'tb'}",
        f"mlflow ui --backend-store-uri sqlite:///{tmp_path / 'mlflow.db'}",
    ]


def test_lab_cli_refuses_a_missing_tracker_with_exit_2_before_any_run_folder(
    monkeypatch, tmp_path, capsys
):
    from trainlab.commands import lab

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    code = lab.main(["--tracker", "mlflow", "--output-dir", str(tmp_path / "runs")])
    assert code == 2 and not (tmp_path / "runs").exists()
    assert "--tracker: the mlflow package is not installed" in capsys.readouterr().out
