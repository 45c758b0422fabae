"""One persistent Optuna study per run (`optuna.db` in the run folder), told every trial.

Every trial the lab runs, whoever proposed it, enters the study with fixed parameters
(`enqueue_trial` then `ask`), its per-epoch validation accuracy (`report`) and its outcome
(complete / pruned / fail). Trials are keyed by the lab's trial number (user attr "round";
with several trials per round, `--workers N`, also "trial" where it differs from the round),
so starting or recording a trial twice, e.g. after a crash and `--resume`, never duplicates it.
The optimizer's own suggestion comes from `peek()`: the sampler, seeded by (seed, round),
asked on an in-memory copy of the finished trials, so it is the same after a resume.

Optuna fixes a parameter's distribution inside a study, so a lab that adopts an optimizer
(`--adopt-components`) continues in a new study of the same file, `trainlab+<adopted>`
(e.g. `trainlab+lookahead`), seeded with the previous study's finished trials under the
extended optimizer choice; with nothing adopted the study is `trainlab`, as it always was.
A run with a `Goal` of several objectives (accuracy and latency or params) gets a
multi-objective study (one direction per objective) whose trials also carry the model width
(`space.ARCHITECTURE`); Optuna's pruners and `Trial.report` take one objective, so such trials
are never pruned and report no epochs. Constraints are set on each trial with
`Trial.set_constraint` before it is told (Optuna ≥ 5: the samplers read `trial.constraints`;
TPE and NSGA-II prefer feasible trials, CMA-ES ignores them, so the settings refuse it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.trial import FrozenTrial, TrialState

from trainlab import space
from trainlab.runstore import OPTUNA_DB
from trainlab.search.objectives import Goal
from trainlab.space import HParams
from trainlab.state import TrialSummary

SamplerName = Literal["tpe", "cmaes", "random"]
SAMPLERS: tuple[str, ...] = ("tpe", "cmaes", "random")
STUDY_FILE = OPTUNA_DB
STUDY_NAME = "trainlab"
ROUND_ATTR = "round"
TRIAL_ATTR = "trial"  # set only where the trial number differs from its round
SOURCE_ATTR = "source"
STATUS_ATTR = "status"
COST_ATTR = "cost"  # [width, device, latency ms] of a multi-objective trial
TPE_STARTUP_TRIALS = 3


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """Optuna's multivariate TPE, CMA-ES (categoricals sampled independently) or random."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            return optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=TPE_STARTUP_TRIALS, multivariate=True
            )
        if name == "cmaes":
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"--sampler must be one of {', '.join(SAMPLERS)}, got {name!r}")


def study_name(adopted: Sequence[str] = (), base: str = STUDY_NAME) -> str:
    """`base` (`trainlab`), or `trainlab+a+b` once optimizers a, b were adopted (in order)."""
    return "+".join((base, *adopted))


def storage_url(run_dir: Path) -> str:
    return f"sqlite:///{Path(run_dir).resolve() / STUDY_FILE}"


def tell_state(status: str) -> TrialState:
    """The Optuna state of a trainer status (diverged and failed trials are FAIL)."""
    return {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED}.get(
        status, TrialState.FAIL
    )


class SearchStudy:
    """The run's study: start a round's trial, report its epochs, record its outcome."""

    def __init__(
        self,
        study: optuna.Study,
        sampler: str,
        seed: int,
        adopted: Sequence[str] = (),
        goal: Goal | None = None,
    ) -> None:
        self.study, self.sampler, self.seed = study, sampler, seed
        self.adopted, self.goal = tuple(adopted), goal or Goal()
        optimizers = (*space.OPTIMIZERS, *self.adopted)
        self.distributions = space.optuna_distributions(optimizers, self.goal.multi)

    @classmethod
    def open(
        cls,
        sampler: str,
        seed: int,
        *,
        run_dir: Path | None = None,
        pruner: optuna.pruners.BasePruner | None = None,
        prior: HParams | None = None,
        storage: Any = None,
        base_name: str = STUDY_NAME,
        adopted: Sequence[str] = (),
        goal: Goal | None = None,
    ) -> SearchStudy:
        """Create or reopen the study (in `storage`, else `run_dir/optuna.db`, else in memory);
        a new study gets `prior` enqueued as its first trial; with `adopted` optimizers, the
        study `study_name(adopted, base_name)`, seeded from the one before the last adoption."""
        make_sampler(sampler, seed)  # validates the name before any file is written
        goal = goal or Goal()
        if storage is None and run_dir is not None:
            storage = storage_url(run_dir)
        study = optuna.create_study(
            storage=storage,
            study_name=study_name(adopted, base_name),
            sampler=make_sampler(sampler, seed),
            pruner=pruner or optuna.pruners.NopPruner(),
            load_if_exists=True,
            **_directions(goal),
        )
        opened = cls(study, sampler, seed, adopted, goal)
        if adopted and storage is not None:  # an in-memory study has no earlier one
            before = study_name(adopted[:-1], base_name)
            previous = optuna.load_study(study_name=before, storage=storage)
            opened.seed_from(previous)
        elif prior is not None and not study.get_trials(deepcopy=False):
            study.enqueue_trial(prior.model_dump(), user_attrs={SOURCE_ATTR: "prior"})
        return opened

    def seed_from(self, previous: optuna.Study) -> None:
        """Copy `previous`'s finished trials that this study lacks (by trial key), the optimizer
        under this study's choices: a crash halfway through copying leaves nothing twice."""
        have = {trial_key(t) for t in self.study.get_trials(deepcopy=False)}
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        for old in previous.get_trials(deepcopy=False, states=states):
            if trial_key(old) in have:
                continue
            distributions = {name: self.distributions[name] for name in old.params}
            self.study.add_trial(
                optuna.trial.create_trial(
                    state=old.state,
                    value=old.value,
                    params=old.params,
                    distributions=distributions,
                    user_attrs=old.user_attrs,
                    intermediate_values=old.intermediate_values,
                )
            )

    # --- the optimizer's view ---------------------------------------------------------------

    def finished(self) -> list[FrozenTrial]:
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        return self.study.get_trials(deepcopy=False, states=states)

    def peek(self, round_: int) -> HParams:
        """The sampler's next suggestion, without creating a trial in the run's study."""
        return hparams_of(self.peek_params(round_))

    def peek_params(self, round_: int) -> dict[str, object]:
        """`peek` with every searched dimension (the width too, in a multi-objective run)."""
        copy = optuna.create_study(
            sampler=make_sampler(self.sampler, self.seed * 7919 + round_), **_directions(self.goal)
        )
        copy.add_trials(self.finished())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return copy.ask(self.distributions).params

    def waiting(self) -> HParams | None:
        """The enqueued configuration the next trial will get (the prior of a new study)."""
        queued = self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        return hparams_of(queued[0].system_attrs["fixed_params"]) if queued else None

    def pareto(self) -> list[FrozenTrial]:
        """The feasible trials no other trial dominates (Optuna's `best_trials`)."""
        return self.study.best_trials if self.goal.multi else []

    # --- one round --------------------------------------------------------------------------

    def trial_of(self, key: int) -> FrozenTrial | None:
        """The study's trial of lab trial `key` (its round, when the round ran one trial)."""
        for trial in self.study.get_trials(deepcopy=False):
            if trial_key(trial) == key:
                return trial
        return None

    def start(
        self,
        key: int,
        hparams: HParams,
        source: str,
        round_: int | None = None,
        *,
        width: int | None = None,
    ) -> optuna.Trial:
        """The running trial `key` (of round `round_`, default `key`) with `hparams` (and
        `width`, when it is searched; the existing trial after a resume)."""
        existing = self.trial_of(key)
        if existing is not None and existing.state.is_finished():
            raise ValueError(f"trial {key} is already recorded as trial {existing.number}")
        if existing is not None and existing.state == TrialState.RUNNING:
            return optuna.trial.Trial(self.study, existing._trial_id)  # no public id getter
        queued = self.waiting()
        attrs = key_attrs(key, round_) | {SOURCE_ATTR: source}
        if queued is None:  # enqueued with its key: a crash before ask() leaves it waiting
            self.study.enqueue_trial(self._params(hparams, width), user_attrs=attrs)
        elif queued != hparams:  # ask() would hand out the queued configuration instead
            raise ValueError(f"trial {key}: the study's next trial is {queued.brief()}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = self.study.ask(self.distributions)
        for name, value in attrs.items():
            trial.set_user_attr(name, value)
        return trial

    def report(self, trial: optuna.Trial, epoch: int, val_acc: float) -> None:
        """Report one epoch once (a resumed trial re-reports nothing it already has; a
        multi-objective trial reports nothing: Optuna's `report` takes one objective)."""
        if self.goal.multi:
            return
        if epoch not in self.study.get_trials(deepcopy=False)[trial.number].intermediate_values:
            trial.report(val_acc, epoch)

    def record(
        self,
        key: int,
        summary: TrialSummary,
        val_accs: Sequence[float],
        source: str,
        round_: int | None = None,
        *,
        width: int | None = None,
    ) -> FrozenTrial:
        """Tell the outcome of trial `key` once; a second call returns the recorded trial."""
        existing = self.trial_of(key)
        if existing is not None and existing.state.is_finished():
            return existing
        trial = self.start(key, summary.requested_hparams, source, round_, width=width)
        for epoch, acc in enumerate(val_accs, start=1):
            self.report(trial, epoch, acc)
        trial.set_user_attr(STATUS_ATTR, summary.status)
        trial.set_user_attr("epochs_run", summary.epochs_run)
        if summary.latency_ms is not None:
            trial.set_user_attr(COST_ATTR, [width, summary.device, summary.latency_ms])
        state = tell_state(summary.status)
        values = self.goal.values(summary) if state == TrialState.COMPLETE else None
        if state == TrialState.COMPLETE and values is None:  # an objective was not measured
            state = TrialState.FAIL
        value = values[0] if values and not self.goal.multi else values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a resumed trial's constraints are already set
            for name, amount in self.goal.violations(summary).items():
                trial.set_constraint(name, amount)
            self.study.tell(trial, value, state=state)
        return self.study.get_trials(deepcopy=False)[trial.number]

    def running(self) -> list[HParams]:
        """The configurations of the trials in flight (started, not yet told)."""
        running = self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        return [hparams_of(t.params) for t in running if t.params]

    def latency_of(self, width: int, device: str) -> float | None:
        """The latency measured for `width` on `device` by an earlier trial of the run (the
        model's cost depends on its architecture only, so every trial of a width shares it)."""
        for trial in self.finished():
            if trial.user_attrs.get(COST_ATTR, [None, None])[:2] == [width, device]:
                return trial.user_attrs[COST_ATTR][2]
        return None

    def best_value(self) -> float | None:
        """The best accuracy of a complete trial (the first objective)."""
        done = [t.values[0] for t in self.finished() if t.state == TrialState.COMPLETE]
        return max(done) if done else None

    def _params(self, hparams: HParams, width: int | None) -> dict[str, object]:
        params: dict[str, object] = hparams.model_dump()
        if self.goal.multi:
            if width is None:
                raise ValueError("a multi-objective study's trial needs its model width")
            params["model_width"] = width
        return params


def _directions(goal: Goal) -> dict[str, object]:
    """create_study's keywords: one direction, or one per objective."""
    return {"directions": goal.directions} if goal.multi else {"direction": "maximize"}


def hparams_of(params: dict[str, object]) -> HParams:
    """The HParams of a trial's parameters (without the architecture's)."""
    return HParams(**{name: params[name] for name in space.FIELDS})


def trial_key(trial: FrozenTrial) -> int | None:
    """The lab trial number of a study trial (its round unless "trial" says otherwise)."""
    return trial.user_attrs.get(TRIAL_ATTR, trial.user_attrs.get(ROUND_ATTR))


def key_attrs(key: int, round_: int | None) -> dict[str, int]:
    """The user attrs naming trial `key` of round `round_` (default: `key`)."""
    if round_ is None or round_ == key:
        return {ROUND_ATTR: key}
    return {ROUND_ATTR: round_, TRIAL_ATTR: key}
