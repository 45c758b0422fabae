"""The trainer's new parts: the one-cycle schedule and the gradient columns and plot."""

from __future__ import annotations

import csv

import pytest
import torch
from PIL import Image

from trainlab.config import DataSettings, TrainSettings
from trainlab.space import HParams
from trainlab.training.data import load_splits
from trainlab.training.optim import lr_multiplier
from trainlab.training.trainer import run_trial


@pytest.mark.parametrize("total", [10, 97])
def test_one_cycle_factor_matches_torch_one_cycle_lr(total):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    reference = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.1, total_steps=total, cycle_momentum=False
    )
    factor = lr_multiplier("onecycle", total)
    for step in range(total):
        assert factor(step) * 0.1 == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9)
        optimizer.step()
        reference.step()


def test_trial_writes_gradient_columns_and_plots_them_in_combined(tmp_path):
    data = load_splits(DataSettings(dataset="synthetic"), seed=0)
    hp = HParams(
        optimizer="adam",
        learning_rate=3e-3,
        train_batch_size=64,
        weight_decay=1e-4,
        label_smoothing=0.0,
    )
    settings = TrainSettings(
        epochs=2, scheduler="onecycle", device="cpu", model_width=4, save_checkpoints=False
    )
    summary = run_trial(hp, settings, data, tmp_path)
    assert summary.status == "complete"
    with (tmp_path / "metrics_epoch.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[-1]["grad_norm"]) > 0 and float(rows[-1]["update_ratio/linear"]) > 0
    with Image.open(tmp_path / "combined.png") as combined, Image.open(tmp_path / "acc.png") as one:
        assert combined.height > 2.5 * one.height  # three rows of panels: the third, gradients
