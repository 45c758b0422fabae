"""Suggest and the schedule tool: valid configurations, a reason per value, schedules by curve."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainlab.commands.suggest import main
from trainlab.config import DataSettings
from trainlab.space import HParams
from trainlab.tools.lr_range import LRRange, suggestions
from trainlab.tools.schedule import choose_schedule
from trainlab.tools.suggest import profile_data, profile_model, suggest
from trainlab.training.data import load_splits
from trainlab.training.models import ResNet9


@pytest.fixture(scope="module")
def synthetic():
    return load_splits(DataSettings(dataset="synthetic"), seed=0)


def curve(losses: np.ndarray) -> LRRange:
    lrs = np.logspace(-5, 0, len(losses)).tolist()
    return LRRange(lrs, losses.tolist(), *suggestions(lrs, losses.tolist()), stopped_early=False)


def test_schedule_follows_the_width_of_the_descent():
    x = np.linspace(-5, 0, 100)
    wide = 2.3 - 2 / (1 + np.exp(-1.5 * (x + 3))) + np.where(x > -0.5, 20 * (x + 0.5) ** 2, 0)
    narrow = 2.3 - 1 / (1 + np.exp(-20 * (x + 2))) + np.where(x > -1.8, 20 * (x + 1.8) ** 2, 0)
    assert choose_schedule(curve(wide)).scheduler == "onecycle"
    assert choose_schedule(curve(narrow)).scheduler == "cosine"
    assert choose_schedule(curve(2.3 + 0.5 * (x + 5))).scheduler == "none"


def test_profiles_count_parameters_flops_and_classes(synthetic):
    model = ResNet9(4, 3, width=4)
    profile = profile_model(model, (3, 8, 8))
    assert profile.parameters == sum(p.numel() for p in model.parameters())
    assert profile.flops_per_image > 2 * 9 * 3 * 4 * 64  # at least the first convolution
    data = profile_data(synthetic)
    assert data.classes == 4 and sum(data.class_counts) == data.train_images == 512
    assert data.imbalance == 1.0


def test_suggestion_passes_the_space_validator_and_respects_the_memory_cap(synthetic):
    probed = []

    def probe(batch: int) -> float:
        probed.append(batch)
        return 1.0 * batch

    result = suggest(
        synthetic,
        width=4,
        epochs=3,
        device=torch.device("cpu"),
        max_memory_mb=100,
        lr_steps=30,
        probe=probe,
    )
    assert HParams.model_validate(result.hparams.model_dump()) == result.hparams
    assert result.hparams.train_batch_size <= 64 and 128 in probed  # 128 MB > 100 MB cap
    assert result.scheduler in ("none", "cosine", "onecycle")
    assert set(result.reasons) == {*HParams.model_fields, "scheduler"}
    assert result.to_json()["hparams"] == result.hparams.model_dump()


def test_command_prints_a_configuration_and_writes_the_plot(tmp_path, capsys):
    argv = ["--dataset", "synthetic", "--width", "4", "--lr-steps", "30", "--epochs", "2"]
    assert main([*argv, "--device", "cpu", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "learning_rate" in out and "train it: python main.py train" in out
    (folder,) = tmp_path.iterdir()
    assert (folder / "lr_find.png").stat().st_size > 1000 and (folder / "suggestion.json").is_file()


@pytest.mark.parametrize(
    ("bad", "named"),
    [(["--max-memory-mb", "-5"], "--max-memory-mb"), (["--device", "cuda:7"], "cuda:7")],
)
def test_bad_input_exits_2_naming_the_option_before_any_folder(bad, named, tmp_path, capsys):
    assert main(["--dataset", "synthetic", "--output-dir", str(tmp_path), *bad]) == 2
    assert not list(tmp_path.iterdir())
    assert named in capsys.readouterr().err.strip().splitlines()[-1]
