"""Pruners, the trainer's should_stop callback and the pruned status end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest

from trainlab.config import TrainSettings
from trainlab.search.pruning import PRUNERS, PredictivePruner, epoch_callback, make_pruner
from trainlab.search.study import SearchStudy
from trainlab.space import HParams
from trainlab.training.artifacts import METRICS_CSV, SUMMARY
from trainlab.training.checkpoint import CHECKPOINT_LAST
from trainlab.training.data import ImageSplits
from trainlab.training.trainer import run_trial

HP = HParams(
    optimizer="adam",
    learning_rate=3e-3,
    train_batch_size=64,
    weight_decay=1e-4,
    label_smoothing=0.0,
)


def settings(epochs: int = 3) -> TrainSettings:
    return TrainSettings(
        epochs=epochs, patience=epochs, model_width=4, save_checkpoints=False, device="cpu"
    )


def told(study: optuna.Study, curve: list[float], value: float | None = None) -> None:
    trial = study.ask()
    for epoch, acc in enumerate(curve, start=1):
        trial.report(acc, epoch)
    study.tell(trial, value if value is not None else curve[-1])


@pytest.mark.parametrize("name", PRUNERS)
def test_every_named_pruner_is_built(name: str) -> None:
    assert isinstance(make_pruner(name, 6), optuna.pruners.BasePruner)


def test_unknown_pruner_is_refused() -> None:
    with pytest.raises(ValueError, match="--pruner must be one of none, asha"):
        make_pruner("sha", 6)


def test_predictive_pruner_stops_a_hopeless_curve_only() -> None:
    study = optuna.create_study(direction="maximize", pruner=PredictivePruner(max_epochs=10))
    told(study, [0.7, 0.85, 0.9, 0.92], value=0.95)
    hopeless = study.ask()
    for epoch, acc in enumerate([0.10, 0.12, 0.13], start=1):
        hopeless.report(acc, epoch)
    assert hopeless.should_prune()
    promising = study.ask()
    for epoch, acc in enumerate([0.5, 0.8, 0.9], start=1):
        promising.report(acc, epoch)
    assert not promising.should_prune()
    early = study.ask()
    early.report(0.1, 1)
    assert not early.should_prune()  # too few epochs to predict


def test_callback_reports_each_epoch_and_asks_the_pruner() -> None:
    study = optuna.create_study(direction="maximize", pruner=make_pruner("median", 4))
    told(study, [0.9, 0.95])
    told(study, [0.8, 0.9])
    trial = study.ask()
    should_stop = epoch_callback(trial)
    assert should_stop(1, 0.1)
    assert study.trials[-1].intermediate_values == {1: 0.1}


def test_pruned_trial_keeps_its_curve_and_is_never_resumed(
    tiny_splits: ImageSplits, tmp_path: Path
) -> None:
    seen: list[tuple[int, float]] = []

    def stop_after_first(epoch: int, val_acc: float) -> bool:
        seen.append((epoch, val_acc))
        return True

    summary = run_trial(HP, settings(), tiny_splits, tmp_path / "t", should_stop=stop_after_first)
    assert summary.status == "pruned" and summary.epochs_run == 1
    assert summary.reason.startswith("pruned after epoch 1")
    assert summary.best_val_acc == seen[0][1] and summary.test_acc is not None
    with (tmp_path / "t" / METRICS_CSV).open() as handle:
        assert len(list(csv.DictReader(handle))) == 1
    assert json.loads((tmp_path / "t" / SUMMARY).read_text())["status"] == "pruned"
    assert not (tmp_path / "t" / CHECKPOINT_LAST).exists()
    again = run_trial(HP, settings(), tiny_splits, tmp_path / "t", should_stop=lambda *_: False)
    assert again == summary


def test_a_stop_at_the_last_epoch_is_a_complete_trial(
    tiny_splits: ImageSplits, tmp_path: Path
) -> None:
    calls: list[int] = []

    def stop_at_two(epoch: int, _: float) -> bool:
        calls.append(epoch)
        return epoch == 2

    summary = run_trial(HP, settings(2), tiny_splits, tmp_path / "t", should_stop=stop_at_two)
    assert summary.status == "complete" and calls == [1, 2]


def test_asha_prunes_through_the_study_and_records_pruned(
    tiny_splits: ImageSplits, tmp_path: Path
) -> None:
    search = SearchStudy.open("tpe", 0, run_dir=tmp_path, pruner=make_pruner("asha", 3))
    for round_ in (1, 2, 3):  # three strong trials fill ASHA's first rung
        good = search.start(round_, HP.model_copy(update={"weight_decay": round_ * 1e-4}), "x")
        report = epoch_callback(good, search.report)  # ASHA records rungs when asked
        assert not any(report(epoch, acc) for epoch, acc in enumerate([0.9, 0.95, 0.97], 1))
        search.study.tell(good, 0.97)
    bad = HP.model_copy(update={"learning_rate": 1e-4, "optimizer": "sgd"})
    trial = search.start(4, bad, "optimizer")
    stop = epoch_callback(trial, search.report)
    summary = run_trial(bad, settings(), tiny_splits, tmp_path / "t4", should_stop=stop)
    frozen = search.record(4, summary, [summary.best_val_acc], "optimizer")
    assert summary.status == "pruned"
    assert frozen.state == optuna.trial.TrialState.PRUNED and frozen.user_attrs["round"] == 4


def test_a_resumed_trial_asks_the_pruner_before_training_more(
    tiny_splits: ImageSplits, tmp_path: Path
) -> None:
    def crash_after_first_epoch(row: dict) -> None:
        raise KeyboardInterrupt  # the process dies after epoch 1's checkpoint

    with pytest.raises(KeyboardInterrupt):
        run_trial(HP, settings(), tiny_splits, tmp_path / "t", on_epoch=crash_after_first_epoch)
    asked: list[int] = []
    summary = run_trial(
        HP,
        settings(),
        tiny_splits,
        tmp_path / "t",
        should_stop=lambda e, _: asked.append(e) or True,
    )
    assert summary.status == "pruned" and summary.epochs_run == 1 and asked == [1]
