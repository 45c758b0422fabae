"""A trial's checkpoints: checkpoint_last.pt (resume an attempt) and checkpoint_best.pt.

checkpoint_last.pt holds everything an attempt needs to continue bit for bit (model,
optimizer, schedule, scaler, every RNG, history, best weights) and a fingerprint of what it
was trained for; a checkpoint with another fingerprint is refused, never silently continued.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from trainlab.config import TrainSettings
from trainlab.space import HParams
from trainlab.state import Attempt
from trainlab.training.data import ImageSplits
from trainlab.training.device import atomic_torch_save

CHECKPOINT_LAST = "checkpoint_last.pt"
CHECKPOINT_BEST = "checkpoint_best.pt"
RESUME_SETTINGS = {"epochs", "patience", "scheduler", "augment", "seed", "model_width"}

Row = dict[str, float]


class Resumable(Protocol):
    """The live objects of one attempt that checkpoint_last.pt stores."""

    batch_size: int
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    gen: torch.Generator


def fingerprint(hparams: HParams, settings: TrainSettings, data: ImageSplits) -> dict[str, Any]:
    """What must match for checkpoint_last.pt to be continued."""
    return {
        "hparams": hparams.model_dump(),
        "settings": settings.model_dump(include=RESUME_SETTINGS),
        "data": [data.name, len(data.train_y), len(data.val_y), data.val_and_test_same_dataset],
    }


def load_last(trial_dir: Path, expected: dict[str, Any]) -> dict[str, Any] | None:
    """checkpoint_last.pt if there is one; a ValueError when it was written for another run."""
    path = trial_dir / CHECKPOINT_LAST
    if not path.is_file():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if saved["fingerprint"] != expected:
        raise ValueError(
            f"{path} was written for another configuration; remove it or use another folder"
        )
    return saved


@dataclass
class Progress:
    """What an attempt has so far: per-epoch rows, the best epoch and its weights."""

    history: list[Row] = field(default_factory=list)
    best: Row | None = None  # epoch, val_acc, val_loss, val_f1, val_ece
    best_model: dict[str, torch.Tensor] | None = None  # kept when test must be scored apart


def save_last(
    trial_dir: Path,
    expected: dict[str, Any],
    loop: Resumable,
    progress: Progress,
    attempts: list[Attempt],
    seconds: float,
) -> None:
    state = {
        "fingerprint": expected,
        "epoch": len(progress.history),
        "batch_size": loop.batch_size,
        "model": loop.model.state_dict(),
        "optimizer": loop.optimizer.state_dict(),
        "scheduler": loop.scheduler.state_dict(),
        "scaler": loop.scaler.state_dict(),
        "rng": rng_state(loop.gen),
        "history": progress.history,
        "best": progress.best,
        "best_model": progress.best_model,
        "attempts": [a.model_dump() for a in attempts],
        "seconds": seconds,
    }
    atomic_torch_save(state, trial_dir / CHECKPOINT_LAST)


def restore(loop: Resumable, saved: dict[str, Any]) -> Progress:
    """Load a saved attempt into `loop`; return its progress."""
    loop.model.load_state_dict(saved["model"])
    loop.optimizer.load_state_dict(saved["optimizer"])
    loop.scheduler.load_state_dict(saved["scheduler"])
    loop.scaler.load_state_dict(saved["scaler"])
    set_rng_state(loop.gen, saved["rng"])
    return Progress(saved["history"], saved["best"], saved["best_model"])


def drop_last(trial_dir: Path) -> None:
    (trial_dir / CHECKPOINT_LAST).unlink(missing_ok=True)


def save_best(
    trial_dir: Path,
    model: nn.Module,
    best: Row,
    hparams: HParams,
    model_width: int,
    data: ImageSplits,
) -> None:
    """The best epoch's weights with what is needed to rebuild and feed the model."""
    payload = {
        "model": model.state_dict(),
        "epoch": best["epoch"],
        "val_acc": best["val_acc"],
        "hparams": hparams.model_dump(),
        "model_width": model_width,
        "num_classes": data.num_classes,
        "in_channels": data.in_channels,
        "mean": list(data.mean),
        "std": list(data.std),
    }
    atomic_torch_save(payload, trial_dir / CHECKPOINT_BEST)


def rng_state(gen: torch.Generator) -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generator": gen.get_state(),
        "python": random.getstate(),
        "numpy": (name, keys.tolist(), int(pos), int(has_gauss), float(cached)),
    }


def set_rng_state(gen: torch.Generator, state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    gen.set_state(state["generator"])
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
