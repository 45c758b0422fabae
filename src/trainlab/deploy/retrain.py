"""Fine-tunes and students train through the lab's own trainer (`run_trial`), nothing else."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.config import TrainSettings
from trainlab.space import LEARNING_RATE, HParams
from trainlab.training.checkpoint import CHECKPOINT_BEST
from trainlab.training.data import ImageSplits
from trainlab.training.trainer import TrialComponents, run_trial

TrainLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # logits, y, x
FINETUNE_LR_FACTOR = 0.1  # a fine-tune starts from trained weights: a tenth of the trial's lr


def finetune_hparams(hparams: HParams) -> HParams:
    lr = max(LEARNING_RATE[0], hparams.learning_rate * FINETUNE_LR_FACTOR)
    return hparams.model_copy(update={"learning_rate": lr})


def retrain_settings(run: TrainSettings, epochs: int, device: str, width: int) -> TrainSettings:
    """The run's training settings for a short retrain: no early stop, checkpoints kept."""
    update = {"epochs": epochs, "patience": epochs, "device": device, "model_width": width}
    return run.model_copy(update={**update, "save_checkpoints": True})


def retrain(
    net: nn.Module,
    hparams: HParams,
    settings: TrainSettings,
    data: ImageSplits,
    trial_dir: Path,
    train_loss_fn: TrainLoss | None = None,
) -> nn.Module:
    """Train a copy of `net` into a fresh `trial_dir`; return the trained copy (CPU).

    Every epoch is scored (`score_last_epoch`): the final weights are returned, so no epoch
    is selected on the test split. Training steps use `train_loss_fn` when given, else plain
    cross entropy (hard labels, no smoothing), the same for every artifact.
    """
    shutil.rmtree(trial_dir, ignore_errors=True)  # a rerun retrains with today's settings
    components = TrialComponents(
        build_model=lambda _classes, _channels: copy.deepcopy(net),
        loss_fn=F.cross_entropy,
        train_loss_fn=train_loss_fn,
        score_last_epoch=True,
    )
    run_trial(hparams, settings, data, trial_dir, components=components)
    trained = copy.deepcopy(net)
    saved = torch.load(trial_dir / CHECKPOINT_BEST, map_location="cpu", weights_only=True)
    trained.load_state_dict(saved["model"])
    return trained.cpu().eval()
