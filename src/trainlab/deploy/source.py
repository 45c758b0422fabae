"""The model to deploy: a run folder's chosen trial, its best weights and the run's data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from trainlab.config import DataSettings, TrainSettings
from trainlab.reporting.run_report import best_index
from trainlab.runstore import read_json
from trainlab.space import HParams
from trainlab.state import TrialSummary
from trainlab.training.artifacts import SUMMARY
from trainlab.training.checkpoint import CHECKPOINT_BEST
from trainlab.training.data import ImageSplits, load_splits
from trainlab.training.models import ResNet9


class DeployInputError(ValueError):
    """A run folder or trial that cannot be deployed; one line for the user."""


@dataclass(frozen=True)
class Source:
    """The trial being deployed: where it is, how it was trained, its best weights."""

    trial_dir: Path
    hparams: HParams
    train: TrainSettings
    data_settings: DataSettings
    checkpoint: dict[str, Any]

    def teacher(self) -> ResNet9:
        ckpt = self.checkpoint
        model = ResNet9(ckpt["num_classes"], ckpt["in_channels"], width=ckpt["model_width"])
        model.load_state_dict(ckpt["model"])
        return model.eval()

    def data(self) -> ImageSplits:
        return load_splits(self.data_settings, self.train.seed)


def locate(run_dir: Path, trial: int | None) -> Source:
    """Check the run folder and pick the trial (default: the best completed one)."""
    if not run_dir.is_dir():
        raise DeployInputError(f"RUN_DIR: {run_dir} is not a folder")
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise DeployInputError(f"RUN_DIR: no config.json in {run_dir} (not a run folder)")
    trial_dir = run_dir / f"trial_{trial}" if trial is not None else _best_trial(run_dir)
    checkpoint_path = trial_dir / CHECKPOINT_BEST
    if not checkpoint_path.is_file():
        raise DeployInputError(
            f"--trial: no {CHECKPOINT_BEST} in {trial_dir} (train with --save-checkpoints)"
        )
    try:
        config = read_json(config_path)
        train = TrainSettings.model_validate(config["train"])
        data_settings = DataSettings.model_validate(config["data"])
    except (KeyError, ValueError, ValidationError) as exc:
        raise DeployInputError(f"RUN_DIR: unreadable config.json in {run_dir} ({exc})") from exc
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    hparams = HParams.model_validate(checkpoint["hparams"])
    return Source(trial_dir, hparams, train, data_settings, checkpoint)


def _best_trial(run_dir: Path) -> Path:
    folders = sorted(
        (p for p in run_dir.glob("trial_[0-9]*") if (p / SUMMARY).is_file()),
        key=lambda p: int(p.name.removeprefix("trial_")),
    )
    trials = [TrialSummary.model_validate(read_json(p / SUMMARY)) for p in folders]
    index = best_index(trials)
    if index is None:
        raise DeployInputError(f"RUN_DIR: no completed trial in {run_dir}; pass --trial K")
    return folders[index]
