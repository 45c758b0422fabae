"""A headless driver of the search engine (no graph): study + allocation + consultant +
pruner + epoch budget. The benchmark runs it; the lab graph wires the same pieces."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from trainlab.config import TrainSettings
from trainlab.search.advice_record import AdviceBook
from trainlab.search.allocation import DEFAULT_AGENT_SHARE, Allocator, Decision
from trainlab.search.budget import EpochBudget
from trainlab.search.consultant import Advice, Outcome, RemedyConsultant
from trainlab.search.pruning import epoch_callback, make_pruner
from trainlab.search.study import SearchStudy
from trainlab.space import HParams
from trainlab.training.artifacts import METRICS_CSV
from trainlab.training.data import ImageSplits
from trainlab.training.trainer import run_trial

PRIOR_JUSTIFICATION = "Round 1: the literature prior (every method starts from it)."


@dataclass(frozen=True)
class HybridSettings:
    sampler: str = "tpe"
    pruner: str = "asha"
    agent_share: float = DEFAULT_AGENT_SHARE
    budget_epochs: int = 30
    max_rounds: int = 1000


@dataclass
class HybridRun:
    """What a run produced: one outcome and one decision per round, and its budget."""

    outcomes: list[Outcome] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    budget: EpochBudget | None = None
    book: AdviceBook = field(default_factory=AdviceBook)


def run_hybrid(
    settings: HybridSettings,
    train: TrainSettings,
    data: ImageSplits,
    folder: Path,
    prior: HParams,
    *,
    persistent: bool = True,
) -> HybridRun:
    """Spend the epoch budget on trials chosen by the optimizer and the consultants.

    Deterministic given the seed, so calling it again on the same folder (a resume) makes the
    same decisions, reuses every finished trial and continues the study from `optuna.db`."""
    search = SearchStudy.open(
        settings.sampler,
        train.seed,
        run_dir=folder if persistent else None,
        pruner=make_pruner(settings.pruner, train.epochs),
        prior=prior,
    )
    allocator = Allocator(settings.agent_share, train.seed)
    consultant = RemedyConsultant(train.seed)
    run = HybridRun(budget=EpochBudget(settings.budget_epochs))
    for round_ in range(1, settings.max_rounds + 1):
        if run.budget.exhausted:
            break
        decision, advice = _decide(round_, search, allocator, consultant, run, prior)
        epochs = run.budget.next_epochs(train.epochs)
        summary = run_trial(
            decision.hparams,
            train.model_copy(update={"epochs": epochs, "patience": epochs}),
            data,
            folder / f"trial_{round_:03d}",
            should_stop=_pruning_callback(search, round_, decision),
        )
        rows = _read_rows(Path(summary.trial_dir) / METRICS_CSV)
        search.record(round_, summary, [r["val_acc"] for r in rows], decision.source)
        run.budget.spend(round_, summary.epochs_run)
        used = advice if decision.source == "consultants" else None
        outcome = Outcome(
            round_,
            summary,
            rows,
            decision.source,
            used.remedy if used else None,
            used.parent_score if used else None,
        )
        if outcome.remedy is not None:  # a pruned trial counts with its partial accuracy
            run.book.record(outcome.remedy, used.parent_score, summary.best_val_acc or 0.0)
        run.outcomes.append(outcome)
        run.decisions.append(decision)
    return run


def _decide(
    round_: int,
    search: SearchStudy,
    allocator: Allocator,
    consultant: RemedyConsultant,
    run: HybridRun,
    prior: HParams,
) -> tuple[Decision, Advice | None]:
    """The round's decision and the consultant's advice (None in round 1)."""
    if round_ == 1:
        return Decision(prior, "prior", PRIOR_JUSTIFICATION), None
    advice = consultant.propose(round_, run.outcomes, run.book)
    taken = sum(d.source == "consultants" for d in run.decisions)
    decision = allocator.decide(
        round_ - 1, taken, search.peek(round_), advice.hparams if advice else None
    )
    if decision.source == "consultants":
        decision = Decision(
            decision.hparams, decision.source, f"{decision.justification} {advice.rationale}"
        )
    return decision, advice


def _pruning_callback(search: SearchStudy, round_: int, decision: Decision):
    """The trainer's callback for this round; None when a resumed run already recorded it
    (the trainer then returns the trial's summary.json without training)."""
    recorded = search.trial_of(round_)
    if recorded is not None and recorded.state.is_finished():
        return None
    return epoch_callback(search.start(round_, decision.hparams, decision.source), search.report)


def _read_rows(path: Path) -> list[dict[str, float]]:
    with path.open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
