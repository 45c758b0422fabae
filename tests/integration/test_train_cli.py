"""`python main.py train ...`: artifacts of a real run, and bad input failing cleanly."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
import torchvision.datasets.cifar as tv_cifar

from trainlab.cli import main
from trainlab.training.device import SIMULATE_OOM_ENV

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = {
    "metrics_epoch.csv",
    "summary.json",
    "loss.png",
    "val_loss.png",
    "acc.png",
    "f1.png",
    "combined.png",
    "checkpoint_best.pt",
}
ISSUE_COMMAND = [
    "train",
    "--dataset",
    "digits",
    "--epochs",
    "3",
    "--optimizer",
    "sgd",
    "--lr",
    "0.05",
    "--batch-size",
    "128",
    "--weight-decay",
    "5e-4",
    "--label-smoothing",
    "0.1",
]


def only_trial_dir(output_dir: Path) -> Path:
    (run_dir,) = output_dir.iterdir()
    return run_dir / "trial_0"


def test_the_issue_command_writes_every_artifact(tmp_path: Path, capsys) -> None:
    argv = [*ISSUE_COMMAND, "--width", "8", "--output-dir", str(tmp_path)]
    assert main(argv) == 0
    trial = only_trial_dir(tmp_path)
    assert {p.name for p in trial.iterdir()} == ARTIFACTS
    summary = json.loads((trial / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["epochs_run"] == 3
    assert summary["val_and_test_same_dataset"] is True and summary["seed"] == 1337
    assert summary["effective_hparams"]["train_batch_size"] == 128
    assert summary["best_val_acc"] > 0.2  # ten classes: well above chance after 3 epochs
    with (trial / "metrics_epoch.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 3
    config = json.loads((trial.parent / "config.json").read_text())
    assert config["hparams"]["learning_rate"] == 0.05 and config["data"]["dataset"] == "digits"
    out = capsys.readouterr().out
    assert str(trial) in out and "complete" in out


def test_cifar10_format_trains_end_to_end(fake_cifar10, tmp_path: Path) -> None:
    argv = ["train", "--dataset", "cifar10", "--data-dir", str(fake_cifar10.data_dir)]
    argv += ["--epochs", "1", "--width", "4", "--batch-size", "32", "--val-split", "0.2"]
    assert main([*argv, "--output-dir", str(tmp_path / "runs")]) == 0
    summary = json.loads((only_trial_dir(tmp_path / "runs") / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["val_and_test_same_dataset"] is False
    assert summary["test_acc"] is not None


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--optimizer", "rmsprop"], "--optimizer"),
        (["--lr", "0"], "--lr: learning_rate=0.0 is outside"),
        (["--lr", "-0.1"], "--lr: learning_rate=-0.1 is outside"),
        (["--batch-size", "100"], "--batch-size"),
        (["--label-smoothing", "0.5"], "--label-smoothing"),
        (["--device", "tpu9"], "device"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    flags: list[str], expected: str, tmp_path: Path, capsys
) -> None:
    assert main(["train", "--dataset", "digits", "--output-dir", str(tmp_path), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and expected in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []  # nothing trained, no run folder


def test_missing_cifar10_offline_exits_2_and_names_the_alternatives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", offline)
    argv = ["train", "--dataset", "cifar10", "--data-dir", str(tmp_path / "none")]
    assert main([*argv, "--output-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "--data-dir" in err and "--dataset digits" in err


def test_oom_below_the_smallest_batch_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv(SIMULATE_OOM_ENV, "16")
    argv = ["train", "--dataset", "synthetic", "--epochs", "1", "--width", "4"]
    assert main([*argv, "--output-dir", str(tmp_path)]) == 1
    assert "out of memory" in capsys.readouterr().out
    summary = json.loads((only_trial_dir(tmp_path) / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["oom_adjusted"] is True


def test_main_py_entry_point_fails_cleanly_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "train", "--optimizer", "lion"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert "error: --optimizer" in result.stderr and "Traceback" not in result.stderr
