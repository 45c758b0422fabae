"""The search engine as the lab graph uses it: the run's study (`optuna.db`), what the agents
see of it, the trainer's pruning callback, the epoch budget and the predictor's reading.

Every decision is a function of the study's storage and the graph state, so a resumed run
sees the same view, continues the same study and spends the same budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from trainlab.agents.base import OptimizerState, RoundView
from trainlab.config import LabSettings
from trainlab.search.batch import batch_configs
from trainlab.search.optimizer_view import optimizer_view, render
from trainlab.search.predictor import ConvergencePredictor
from trainlab.search.pruning import RemotePruning, epoch_callback, make_pruner
from trainlab.search.study import STUDY_NAME, SearchStudy, hparams_of, study_name, trial_key
from trainlab.space import HParams
from trainlab.state import FinalConfig, TrialSummary


class LabSearch:
    """One run's search state: opened from (or created in) the run folder; `adopted`:
    the optimizers the lab adopted so far (`--adopt-components`), whose study it opens."""

    def __init__(
        self,
        settings: LabSettings,
        run_dir: Path,
        thread_id: str = "",
        adopted: Sequence[str] = (),
    ) -> None:
        from trainlab.persistence.stores import optuna_storage
        from trainlab.persistence.urls import parse_storage_url

        self.settings, self.thread_id, self.adopted = settings, thread_id, tuple(adopted)
        self.db = parse_storage_url(settings.storage, run_dir)
        # a run's own file keeps the name; a shared database holds a study per run
        base = f"{STUDY_NAME}-{thread_id}" if settings.storage else STUDY_NAME
        self.name = study_name(self.adopted, base)
        goal = settings.goal  # several objectives: never pruned (see search/study.py)
        pruner = "none" if goal.multi else settings.pruner
        self.study = SearchStudy.open(
            settings.sampler,
            settings.train.seed,
            run_dir=run_dir,
            pruner=make_pruner(pruner, settings.train.epochs),
            storage=optuna_storage(self.db) if settings.storage else None,
            base_name=base,
            adopted=self.adopted,
            goal=goal,
        )

    def width_for(self, round_: int, hparams: HParams) -> int | None:
        """The round's model width when it is searched (None: --width): the optimizer's
        suggestion when it proposed `hparams`, else --width (the prior's, the suggest tool's
        and the consultants' configurations are for the run's width)."""
        if not self.study.goal.multi:
            return None
        params = self.study.peek_params(round_)
        if hparams_of(params) == hparams:
            return int(params["model_width"])
        return self.settings.train.model_width

    def state(self, view: RoundView) -> OptimizerState:
        """The optimizer's view for this round's agents (its suggestion, state and record)."""
        data = optimizer_view(self.study, view.round)
        raw = data.get("next_suggestion")
        suggestion = HParams(**raw) if raw else self.study.peek(view.round)
        advice = view.advice().describe()
        return OptimizerState(self.settings.sampler, suggestion, render(data), advice)

    def epochs_for(self, key: int) -> int:
        """Trial `key`'s epochs: the per-trial cap, or what the other trials left of the budget."""
        return self.batch_epochs([key])[0]

    def batch_epochs(self, keys: Sequence[int]) -> list[int]:
        """The epochs of each trial of a batch: the per-trial cap, or what the finished trials
        outside the batch and the batch's earlier trials left of the budget (at least 1)."""
        left = self.settings.epoch_budget - sum(
            int(t.user_attrs.get("epochs_run", 0))
            for t in self.study.finished()
            if trial_key(t) not in keys
        )
        epochs = []
        for _ in keys:
            epochs.append(max(1, min(self.settings.train.epochs, left)))
            left -= epochs[-1]
        return epochs

    def slots(self) -> int:
        """Trials in the next batch: --workers, or fewer when the budget left funds fewer."""
        left = self.settings.epoch_budget - sum(
            int(t.user_attrs.get("epochs_run", 0)) for t in self.study.finished()
        )
        return max(1, min(self.settings.workers, -(-left // self.settings.train.epochs)))

    def batch(self, first: HParams, tried: set[tuple], round_: int, n: int) -> list[HParams]:
        """`first` and up to n-1 of the optimizer's asks, never a trained or in-flight one."""
        taken = tried | {hp.key() for hp in self.study.running()}
        return batch_configs(first, lambda i: self.study.peek(round_ * 1009 + i), taken, n)

    def should_stop(self, final: FinalConfig) -> Callable[[int, float], bool] | None:
        """The trainer's callback for the trial; None when the study already holds its
        outcome (a resumed run: the trainer returns the trial's summary.json)."""
        trial = self._start(final)
        return trial and epoch_callback(trial, self.study.report)

    def remote_pruning(self, final: FinalConfig) -> RemotePruning | None:
        """What a worker needs to report to the study and ask its pruner (None: recorded)."""
        trial = self._start(final)
        if trial is None:
            return None
        pruner, epochs = self.settings.pruner, self.settings.train.epochs
        return RemotePruning(self.db, self.name, trial.number, pruner, epochs)

    def _start(self, final: FinalConfig) -> Any:
        recorded = self.study.trial_of(final.number)
        if recorded is not None and recorded.state.is_finished():
            return None
        trial = self.study.start(
            final.number, final.hparams, final.source, final.round, width=final.model_width
        )
        return None if self.study.goal.multi else trial  # Optuna's pruners take one objective

    def record(self, final: FinalConfig, summary: TrialSummary, val_accs: Sequence[float]) -> None:
        """Tell the study the trial's outcome (once, whatever the number of calls)."""
        study, width = self.study, final.model_width
        study.record(final.number, summary, val_accs, final.source, final.round, width=width)


def spent_epochs(trials: Sequence[dict[str, Any]]) -> int:
    """Epochs the finished trials (state dicts) used."""
    return sum(int(t["epochs_run"]) for t in trials)


def budget_left(settings: LabSettings, trials: Sequence[dict[str, Any]]) -> int:
    return max(0, settings.epoch_budget - spent_epochs(trials))


def more_rounds(settings: LabSettings, state: Mapping[str, Any], rounds: int) -> bool:
    """Another round while `rounds` and the epoch budget both last (the state's count of
    epochs spent; a state from before that count: its full trial list)."""
    spent = state.get("epochs_spent", spent_epochs(state.get("trials", [])))
    return (
        state["round"] <= rounds
        and settings.epoch_budget - spent > 0
        and not time_spent(settings, state)
    )


def time_spent(settings: LabSettings, state: Mapping[str, Any]) -> bool:
    """Whether --time-budget minutes are used up (the state's count, kept across resumes)."""
    budget = settings.time_budget
    return budget is not None and state.get("seconds_spent", 0.0) >= 60 * budget


def predicted_final(val_accs: Sequence[float], epochs: int) -> dict[str, float | None]:
    """The convergence predictor's final accuracy (at `epochs`) and its uncertainty."""
    prediction = ConvergencePredictor().predict(val_accs, epochs)
    if prediction is None:
        return {"predicted_final_acc": None, "predicted_final_acc_std": None}
    return {"predicted_final_acc": prediction.mean, "predicted_final_acc_std": prediction.std}
