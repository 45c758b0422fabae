"""run_trial and its parts: metrics, model, augmentation, schedule, OOM, divergence, resume."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from torch import nn

from trainlab.config import DataSettings, TrainSettings
from trainlab.space import HParams
from trainlab.training.artifacts import METRIC_COLUMNS, epoch_row
from trainlab.training.augment import colour_jitter, random_crop, random_flip
from trainlab.training.checkpoint import CHECKPOINT_BEST, CHECKPOINT_LAST
from trainlab.training.data import load_splits
from trainlab.training.device import SIMULATE_OOM_ENV
from trainlab.training.metrics import (
    accuracy,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
)
from trainlab.training.models import ResNet9
from trainlab.training.optim import lr_multiplier
from trainlab.training.trainer import TrialComponents, run_trial

HP = HParams(
    optimizer="sgd",
    learning_rate=0.05,
    train_batch_size=64,
    weight_decay=5e-4,
    label_smoothing=0.1,
)
TIMING = ("epoch_seconds", "images_per_sec")


def settings(**overrides) -> TrainSettings:
    base = {"epochs": 3, "model_width": 8, "save_checkpoints": False, "device": "cpu"}
    return TrainSettings(**(base | overrides))


def rows(trial_dir: Path) -> list[dict[str, float]]:
    with (trial_dir / "metrics_epoch.csv").open(newline="") as handle:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(handle)]


def curves(trial_dir: Path) -> list[dict[str, float]]:
    """The metrics that must reproduce exactly (everything but timings)."""
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows(trial_dir)]


class Linear(nn.Module):
    """A BatchNorm-free model: with lr 0 its validation accuracy cannot change."""

    def __init__(self, num_classes: int, in_channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels * 64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


# --- metrics, model, augmentation, schedule -------------------------------------------------


def test_metrics_match_sklearn_and_a_hand_computed_ece() -> None:
    targets = torch.tensor([0, 0, 1, 1, 2, 2, 3])
    preds = torch.tensor([0, 1, 1, 1, 0, 2, 0])  # class 3 never predicted
    cm = confusion_matrix(preds, targets, num_classes=5)  # class 4 absent everywhere
    assert cm.shape == (5, 5) and cm.sum() == 7
    assert accuracy(cm) == pytest.approx(4 / 7)
    assert macro_f1(cm) == pytest.approx(f1_score(targets, preds, average="macro"))
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    # bins: 0.9 right; 0.6 right; 0.7 wrong (target 0); 0.8 right -> |1-.9|+|1-.6|+|0-.7|+|1-.8|
    ece = expected_calibration_error(probs, torch.tensor([0, 0, 0, 1]))
    assert ece == pytest.approx((0.1 + 0.4 + 0.7 + 0.2) / 4)


def test_resnet9_is_pages_network_and_takes_8x8_and_32x32() -> None:
    assert sum(p.numel() for p in ResNet9(10, 3, width=64).parameters()) == 6_573_120
    assert ResNet9(10, 3, width=8)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert ResNet9(10, 1, width=8)(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_batched_augmentation_is_seeded_and_shape_preserving() -> None:
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.int64).remainder(256).to(torch.uint8)
    images = images.view(2, 3, 8, 8)
    crop = random_crop(images, 2, torch.Generator().manual_seed(0))
    again = random_crop(images, 2, torch.Generator().manual_seed(0))
    assert crop.shape == images.shape and crop.dtype == torch.uint8 and torch.equal(crop, again)
    padded = F.pad(images, (2, 2, 2, 2))
    for n in range(2):  # each output is one window of the zero-padded image
        windows = [padded[n, :, y : y + 8, x : x + 8] for y in range(5) for x in range(5)]
        assert any(torch.equal(crop[n], w) for w in windows)
    flipped = random_flip(images.repeat(16, 1, 1, 1), torch.Generator().manual_seed(0))
    mirrored = [torch.equal(f, images[i % 2].flip(2)) for i, f in enumerate(flipped)]
    assert 0 < sum(mirrored) < 32
    jittered = colour_jitter(images.float() / 255, torch.Generator().manual_seed(0))
    assert jittered.min() >= 0 and jittered.max() <= 1
    assert not torch.equal(jittered, images.float() / 255)


def test_cosine_schedule_warms_up_then_decays_to_zero() -> None:
    cosine = lr_multiplier("cosine", 100)
    assert cosine(0) == pytest.approx(0.2)  # 5 warmup steps
    assert cosine(4) == pytest.approx(1.0)
    assert cosine(50) < 1.0 and cosine(99) < 0.01
    assert lr_multiplier("none", 100)(0) == lr_multiplier("none", 100)(99) == 1.0


# --- run_trial ------------------------------------------------------------------------------


def test_trial_learns_and_writes_every_artifact(tiny_splits, tmp_path: Path) -> None:
    seen = []
    summary = run_trial(
        HP, settings(save_checkpoints=True), tiny_splits, tmp_path, on_epoch=seen.append
    )
    assert summary.status == "complete" and summary.epochs_run == 3
    assert summary.best_val_acc > 0.9  # chance is 0.25
    assert summary.test_acc == summary.best_val_acc  # test split doubles as validation
    assert summary.val_and_test_same_dataset and not summary.oom_adjusted
    assert 0 <= summary.test_ece <= 1 and summary.images_per_sec > 0
    assert summary.peak_memory_mb > 0 and summary.device == "cpu" and summary.seconds > 0
    assert [a.outcome for a in summary.attempts] == ["ok"]
    assert [r["epoch"] for r in seen] == [1, 2, 3] and seen[0]["epochs"] == 3
    with (tmp_path / "metrics_epoch.csv").open() as handle:
        assert tuple(next(csv.reader(handle))) == METRIC_COLUMNS
    assert len(rows(tmp_path)) == 3
    for name in ("loss", "val_loss", "acc", "f1", "combined"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["status"] == "complete"
    assert written["effective_hparams"]["train_batch_size"] == 64
    best = torch.load(tmp_path / CHECKPOINT_BEST, weights_only=True)
    assert best["epoch"] == summary.best_epoch
    assert not (tmp_path / CHECKPOINT_LAST).exists()  # the summary supersedes it


def test_same_seed_same_metrics_other_seed_other_metrics(tiny_splits, tmp_path: Path) -> None:
    s = settings(augment="strong")
    run_trial(HP, s, tiny_splits, tmp_path / "a")
    run_trial(HP, s, tiny_splits, tmp_path / "b")
    run_trial(HP, settings(augment="strong", seed=7), tiny_splits, tmp_path / "c")
    assert curves(tmp_path / "a") == curves(tmp_path / "b")
    assert curves(tmp_path / "a") != curves(tmp_path / "c")


def test_finished_trial_is_returned_not_retrained(tiny_splits, tmp_path: Path) -> None:
    first = run_trial(HP, settings(epochs=1), tiny_splits, tmp_path)
    csv_mtime = (tmp_path / "metrics_epoch.csv").stat().st_mtime_ns
    calls = []
    again = run_trial(HP, settings(epochs=1), tiny_splits, tmp_path, on_epoch=calls.append)
    assert again == first and calls == []
    assert (tmp_path / "metrics_epoch.csv").stat().st_mtime_ns == csv_mtime


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("val_split", [0.0, 0.25])
def test_resume_from_checkpoint_last_gives_the_uninterrupted_result(
    tmp_path: Path, val_split: float
) -> None:
    data = load_splits(DataSettings(dataset="synthetic", val_split=val_split), seed=0)
    s = settings(epochs=4, scheduler="cosine", augment="strong", save_checkpoints=True)
    straight = run_trial(HP, s, data, tmp_path / "straight")

    def crash_after_epoch_2(row: dict) -> None:
        if row["epoch"] == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_trial(HP, s, data, tmp_path / "resumed", on_epoch=crash_after_epoch_2)
    assert (tmp_path / "resumed" / CHECKPOINT_LAST).is_file()
    assert not (tmp_path / "resumed" / "summary.json").exists()
    epochs = []
    resumed = run_trial(HP, s, data, tmp_path / "resumed", on_epoch=epochs.append)
    assert [r["epoch"] for r in epochs] == [3, 4]  # continued, not restarted
    assert curves(tmp_path / "resumed") == curves(tmp_path / "straight")
    same = ("best_val_acc", "best_val_loss", "best_epoch", "test_acc", "test_f1", "test_ece")
    assert {k: getattr(resumed, k) for k in same} == {k: getattr(straight, k) for k in same}
    assert resumed.val_and_test_same_dataset == (val_split == 0)


def test_checkpoint_of_another_configuration_is_refused(tiny_splits, tmp_path: Path) -> None:
    def stop(row: dict) -> None:
        raise Interrupt

    with pytest.raises(Interrupt):
        run_trial(HP, settings(), tiny_splits, tmp_path, on_epoch=stop)
    other = HP.model_copy(update={"learning_rate": 0.01})
    with pytest.raises(ValueError, match="another configuration"):
        run_trial(other, settings(), tiny_splits, tmp_path)


def test_oom_steps_the_batch_down_and_records_every_attempt(
    tiny_splits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SIMULATE_OOM_ENV, "32")
    hp = HP.model_copy(update={"train_batch_size": 128})
    summary = run_trial(hp, settings(epochs=1), tiny_splits, tmp_path)
    assert summary.status == "complete" and summary.oom_adjusted
    assert summary.effective_hparams.train_batch_size == 32
    assert summary.requested_hparams.train_batch_size == 128
    assert [(a.batch_size, a.outcome) for a in summary.attempts] == [
        (128, "oom"),
        (64, "oom"),
        (32, "ok"),
    ]
    assert "simulated" in summary.attempts[0].detail


def test_oom_below_the_smallest_batch_fails_the_trial_without_raising(
    tiny_splits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SIMULATE_OOM_ENV, "16")
    summary = run_trial(HP, settings(epochs=1), tiny_splits, tmp_path)
    assert summary.status == "failed" and "out of memory" in summary.reason
    assert [a.batch_size for a in summary.attempts] == [64, 32]
    assert summary.best_val_acc is None and summary.epochs_run == 0
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "failed"


def test_cuda_style_out_of_memory_runtime_error_also_steps_down(
    tiny_splits, tmp_path: Path
) -> None:
    class Hungry(Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.training and len(x) > 32:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return super().forward(x)

    components = TrialComponents(build_model=Hungry)
    summary = run_trial(HP, settings(epochs=1), tiny_splits, tmp_path, components=components)
    assert summary.status == "complete" and summary.effective_hparams.train_batch_size == 32


def test_non_finite_loss_is_recorded_as_diverged(tiny_splits, tmp_path: Path) -> None:
    done = []

    def blows_up_after_epoch_1(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets) * (math.inf if done else 1.0)

    summary = run_trial(
        HP,
        settings(epochs=3),
        tiny_splits,
        tmp_path,
        on_epoch=done.append,
        components=TrialComponents(loss_fn=blows_up_after_epoch_1),
    )
    assert summary.status == "diverged" and "non-finite" in summary.reason
    assert "epoch 2" in summary.reason
    assert summary.epochs_run == 1 and summary.best_epoch == 1 and summary.test_acc is not None
    assert summary.attempts[-1].outcome == "diverged"
    assert len(rows(tmp_path)) == 1 and (tmp_path / "summary.json").is_file()


def test_nan_from_the_first_step_diverges_without_scores(tiny_splits, tmp_path: Path) -> None:
    def nan_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets) * math.nan

    components = TrialComponents(loss_fn=nan_loss)
    summary = run_trial(HP, settings(), tiny_splits, tmp_path, components=components)
    assert summary.status == "diverged" and summary.best_val_acc is None
    assert summary.epochs_run == 0


def test_early_stopping_on_validation_accuracy(tiny_splits, tmp_path: Path) -> None:
    def frozen(params: list[nn.Parameter], hparams: HParams) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=0.0)

    components = TrialComponents(build_model=Linear, build_optimizer=frozen)
    summary = run_trial(
        HP, settings(epochs=6, patience=2), tiny_splits, tmp_path, components=components
    )
    assert summary.status == "complete" and summary.best_epoch == 1
    assert summary.epochs_run == 3  # epochs 2 and 3 did not improve


def test_errors_other_than_oom_propagate(tiny_splits, tmp_path: Path) -> None:
    def broken(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_trial(HP, settings(), tiny_splits, tmp_path, components=TrialComponents(loss_fn=broken))


def test_an_epoch_row_has_exactly_the_csv_columns() -> None:
    gradients = dict.fromkeys(METRIC_COLUMNS[METRIC_COLUMNS.index("grad_norm") :], 0.0)
    scores = {"loss": 1.0, "acc": 0.5, "f1": 0.4, "lr": 0.1, "images_per_sec": 10.0}
    scores["gradients"] = gradients  # the training epoch's monitor columns (ResNet-9's groups)
    assert tuple(epoch_row(1, scores, scores, 2.0)) == METRIC_COLUMNS


def test_precise_batchnorm_scores_what_a_short_trial_has_learnt(tmp_path: Path) -> None:
    """8 steps on 288 digits: the running averages still carry the first weights (near chance);
    statistics re-estimated on the training images score the same weights much higher."""
    data = load_splits(DataSettings(dataset="digits", val_split=0.2, train_fraction=0.25), 4)
    hp = HP.model_copy(update={"train_batch_size": 128})
    scored = {
        n: run_trial(hp, settings(epochs=4, precise_bn_images=n), data, tmp_path / str(n))
        for n in (0, 4096)
    }
    assert scored[0].best_val_acc < 0.25
    assert scored[4096].best_val_acc > scored[0].best_val_acc + 0.15
    assert rows(tmp_path / "0")[-1]["train_acc"] == rows(tmp_path / "4096")[-1]["train_acc"]
