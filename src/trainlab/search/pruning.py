"""Stop bad trials early: Optuna's pruners, a predictive pruner, and the trainer's callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from trainlab.search.predictor import ConvergencePredictor

PRUNERS: tuple[str, ...] = ("none", "asha", "hyperband", "median", "predictive")


class PredictivePruner(optuna.pruners.BasePruner):
    """Prune a trial whose optimistic predicted final accuracy is below the best so far."""

    def __init__(self, max_epochs: int, predictor: ConvergencePredictor | None = None) -> None:
        self.max_epochs = max_epochs
        self.predictor = predictor or ConvergencePredictor()

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not done:
            return False
        curve = [trial.intermediate_values[e] for e in sorted(trial.intermediate_values)]
        prediction = self.predictor.predict(curve, self.max_epochs)
        if prediction is None:
            return False
        return prediction.optimistic() < max(t.value for t in done)


def make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    """The pruner called `name`; epochs are the resource (1 … max_epochs)."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max_epochs, reduction_factor=3
        )
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "predictive":
        return PredictivePruner(max_epochs)
    raise ValueError(f"--pruner must be one of {', '.join(PRUNERS)}, got {name!r}")


def epoch_callback(
    trial: optuna.Trial, report: Callable[[optuna.Trial, int, float], None] | None = None
) -> Callable[[int, float], bool]:
    """The trainer's `should_stop(epoch, val_acc)`: report the epoch, then ask the pruner."""

    def on_epoch(epoch: int, val_acc: float) -> bool:
        if report is not None:
            report(trial, epoch, val_acc)
        else:
            trial.report(val_acc, epoch)
        return trial.should_prune()

    return on_epoch


@dataclass(frozen=True)
class RemotePruning:
    """The pruning callback of a trial trained in another process (a Ray worker): it opens the
    run's study there, reports each epoch to trial `number` and asks the study's pruner.
    `db` (persistence.urls.DatabaseUrl) holds the password in memory only: never log it."""

    db: Any
    study_name: str
    number: int
    pruner: str
    max_epochs: int

    def callback(self) -> Callable[[int, float], bool]:
        from trainlab.persistence.stores import optuna_storage

        study = optuna.load_study(
            study_name=self.study_name,
            storage=optuna_storage(self.db),
            pruner=make_pruner(self.pruner, self.max_epochs),
        )
        trial = optuna.trial.Trial(study, study.get_trials(deepcopy=False)[self.number]._trial_id)

        def report(trial: optuna.Trial, epoch: int, val_acc: float) -> None:
            if epoch not in study.get_trials(deepcopy=False)[self.number].intermediate_values:
                trial.report(val_acc, epoch)

        return epoch_callback(trial, report)
