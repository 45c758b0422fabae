"""Epoch budget accounting, the remedy record and the optimizer-suited learning rate."""

from __future__ import annotations

import pytest
from lab_records import trial_summary

from trainlab.agents.base import RoundView, Trial
from trainlab.agents.offline import ExpertConsultant
from trainlab.research.knowledge import KNOWLEDGE_BASE
from trainlab.search.advice_record import (
    DEFAULT_LEARNING_RATE,
    AdviceBook,
    apply_remedy,
    suited_learning_rate,
)
from trainlab.search.budget import EpochBudget
from trainlab.search.consultant import Outcome, RemedyConsultant
from trainlab.space import HParams
from trainlab.state import FinalConfig, Remedy, ResearchNote

ADAM = HParams(
    optimizer="adam",
    learning_rate=3.9e-3,
    train_batch_size=64,
    weight_decay=1e-4,
    label_smoothing=0.0,
)
TRY_SGD = KNOWLEDGE_BASE["healthy"][0]
LR_UP, HALVE_BATCH, TO_ADAM = KNOWLEDGE_BASE["lr_too_low"]
HEALTHY_ROWS = [
    {"epoch": e, "train_loss": 1 / e, "val_loss": 1 / e, "train_acc": a, "val_acc": a}
    for e, a in enumerate([0.8, 0.93, 0.95], start=1)  # flattening out
]


def test_budget_counts_each_round_once_and_caps_the_last_trial() -> None:
    budget = EpochBudget(7)
    assert budget.next_epochs(3) == 3
    budget.spend(1, 3)
    budget.spend(2, 1)  # pruned after one epoch
    budget.spend(2, 1)  # recorded again after a resume: not added twice
    assert (budget.spent, budget.remaining, budget.next_epochs(6)) == (4, 3, 3)
    budget.spend(3, 3)
    assert budget.exhausted and budget.as_dict()["per_trial"] == {"1": 3, "2": 1, "3": 3}


@pytest.mark.parametrize("total", [0, -5])
def test_budget_must_be_positive(total: int) -> None:
    with pytest.raises(ValueError, match="--budget-epochs must be a positive"):
        EpochBudget(total)


def test_remedies_that_did_worse_are_dropped_and_helpful_ones_lead() -> None:
    book = AdviceBook()
    book.record(LR_UP, parent_score=0.90, score=0.60)
    book.record(HALVE_BATCH, parent_score=0.90, score=0.93)
    assert book.ranked([LR_UP, HALVE_BATCH, TO_ADAM]) == [HALVE_BATCH, TO_ADAM]
    assert book.mean_gain(LR_UP) == pytest.approx(-0.30)
    text = book.describe()
    assert "lr_too_low: learning_rate*3: tried 1×, mean gain -0.3000" in text
    assert book.as_dict()[0]["tried"] == 1


def test_a_change_of_optimizer_brings_a_learning_rate_suited_to_it() -> None:
    fresh, notes = apply_remedy(ADAM, TRY_SGD.changes, [])
    assert fresh.optimizer == "sgd" and fresh.learning_rate == DEFAULT_LEARNING_RATE["sgd"]
    assert "suited to sgd" in notes[-1]
    sgd_runs = [(fresh.model_copy(update={"learning_rate": 0.02}), 0.9), (fresh, 0.7)]
    assert suited_learning_rate("sgd", sgd_runs) == 0.02
    same, notes = apply_remedy(ADAM, LR_UP.changes, sgd_runs)
    assert same.learning_rate == pytest.approx(3 * 3.9e-3) and notes == []


def test_consultant_does_not_repeat_a_remedy_that_did_worse() -> None:
    best = Outcome(1, trial_summary(ADAM, best_val_acc=0.95), HEALTHY_ROWS, "prior")
    consultant, book = RemedyConsultant(0), AdviceBook()
    first = consultant.propose(2, [best], book)
    assert first.remedy == TRY_SGD and first.hparams.learning_rate == 0.05
    book.record(TRY_SGD, parent_score=0.95, score=0.36)
    second = consultant.propose(3, [best], book)
    assert second.remedy is None and second.hparams.optimizer == "adam"
    assert "local step" in second.rationale
    assert consultant.propose(2, [], book) is None


def test_offline_expert_switching_optimizer_takes_an_lr_suited_to_it() -> None:
    healthy = Remedy(flag="healthy", action="try SGD", changes=TRY_SGD.changes, reference="r")
    final = FinalConfig(round=1, hparams=ADAM, source="b", justification="", policy="t")
    trial = Trial(final, trial_summary(ADAM, best_val_acc=0.9, epochs_run=3))
    note = ResearchNote(round=1, query="healthy", remedies=[healthy], policy="t")
    proposal = ExpertConsultant(seed=0).propose(RoundView(2, (trial,), None, note), None)
    assert proposal.hparams.optimizer == "sgd"
    assert proposal.hparams.learning_rate == DEFAULT_LEARNING_RATE["sgd"]  # not adam's 0.0039
    assert any("suited to sgd" in w for w in proposal.warnings)


def test_a_remedy_is_scored_against_the_trial_it_changed() -> None:
    on_best = LR_UP.model_copy(update={"applied_to": 1})
    book = AdviceBook.measured([(1, [], 0.70), (2, [], 0.20), (3, [on_best], 0.90)])
    assert book.mean_gain(LR_UP) == pytest.approx(0.20)  # against round 1, not round 2's 0.20
    book = AdviceBook.measured([(1, [], 0.70), (2, [HALVE_BATCH], 0.80)])
    assert book.mean_gain(HALVE_BATCH) == pytest.approx(0.10)  # no round named: the one before


def test_offline_expert_remedies_the_best_trial_when_the_last_one_fell_behind() -> None:
    """After a pruned trial the expert applies the best trial's untried remedy (the seed-2
    collapse of the lab-graph benchmark came from local steps around the prior instead)."""
    trials, notes = [], []
    for round_, status, acc in ((1, "complete", 0.70), (2, "pruned", 0.20)):
        final = FinalConfig(round=round_, hparams=ADAM, source="b", justification="", policy="t")
        summary = trial_summary(ADAM, best_val_acc=acc, status=status, epochs_run=1)
        trials.append(Trial(final, summary))
        notes.append(ResearchNote(round=round_, query="q", remedies=[LR_UP], policy="t"))
    view = RoundView(3, tuple(trials), None, notes[-1], notes=tuple(notes))
    proposal = ExpertConsultant(seed=0).propose(view, None)
    assert proposal.hparams.learning_rate == pytest.approx(3 * ADAM.learning_rate)
    assert [r.applied_to for r in proposal.remedies] == [1]
    assert "best so far (0.7000, round 1)" in proposal.rationale
