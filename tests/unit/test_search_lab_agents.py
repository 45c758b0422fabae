"""The offline agents on the lab's search engine: consultant A is the run's study, the
supervisor applies the allocation rule, remedies carry their measured record, pruned trials
are never the best."""

from __future__ import annotations

from dataclasses import replace

from lab_records import trial_summary

from trainlab.agents import prompts
from trainlab.agents.base import OptimizerState, RoundView, Trial
from trainlab.agents.offline import (
    LITERATURE_PRIOR,
    AllocationSupervisor,
    ExpertConsultant,
    TPEConsultant,
)
from trainlab.space import HParams
from trainlab.state import FinalConfig, Remedy, ResearchNote

SUGGESTION = HParams(
    optimizer="adam", learning_rate=3e-3, train_batch_size=64, weight_decay=1e-4,
    label_smoothing=0.0,
)  # fmt: skip
TO_SGD = Remedy(flag="healthy", action="try SGD", changes={"optimizer": "=sgd"}, reference="r")
HALVE = Remedy(flag="healthy", action="halve lr", changes={"learning_rate": "*0.5"}, reference="r")


def trial(round_, hp, acc, source="consultant_b", status="complete", remedies=()) -> Trial:
    final = FinalConfig(
        round=round_, hparams=hp, source=source, justification="", policy="t",
        remedies=list(remedies),
    )  # fmt: skip
    return Trial(final, trial_summary(hp, status, best_val_acc=acc, epochs_run=3))


def view(history, research=None, optimizer=SUGGESTION) -> RoundView:
    state = OptimizerState("cmaes", optimizer, "CMA-ES generation 1: mean …", "record")
    return RoundView(len(history) + 1, tuple(history), None, research, state)


def test_a_pruned_trial_is_never_the_best_but_keeps_what_it_reached():
    pruned = trial(2, SUGGESTION, 0.95, status="pruned")
    history = (trial(1, LITERATURE_PRIOR, 0.9), pruned)
    assert pruned.score == 0.0 and pruned.reached == 0.95
    assert view(history).best.final.round == 1


def test_consultant_a_proposes_the_run_study_suggestion():
    proposal = TPEConsultant(seed=0).propose(view([trial(1, LITERATURE_PRIOR, 0.9)]), None)
    assert proposal.hparams == SUGGESTION and proposal.policy == "offline:cmaes"


def test_supervisor_gives_the_consultants_their_share_and_says_why():
    supervisor = AllocationSupervisor(seed=0, share=0.5)
    history: list[Trial] = [trial(1, LITERATURE_PRIOR, 0.9)]
    sources = []
    for round_ in range(2, 12):
        other = LITERATURE_PRIOR.model_copy(update={"learning_rate": 0.01 + round_ / 1000})
        proposals = [
            TPEConsultant(0).propose(view(history), None),
            ExpertConsultant(0).propose(view(history), None).model_copy(update={"hparams": other}),
        ]
        final = supervisor.finalize(view(history, optimizer=SUGGESTION), proposals)
        assert "turn" in final.justification and final.policy == "offline:allocation"
        sources.append(final.source)
        history.append(trial(round_, final.hparams, 0.5, final.source))
    assert sources.count("consultant_b") == 5  # half of the ten allocated trials


def test_supervisor_round_one_is_the_literature_prior():
    proposals = [ExpertConsultant(0).propose(view([]), None)]
    final = AllocationSupervisor(seed=0).finalize(view([]), proposals)
    assert final.hparams == LITERATURE_PRIOR


def test_a_remedy_that_did_worse_is_not_repeated_and_its_record_reaches_the_prompt():
    adam = SUGGESTION
    sgd = adam.model_copy(update={"optimizer": "sgd"})
    history = [trial(1, adam, 0.84), trial(2, sgd, 0.36, remedies=[TO_SGD]), trial(3, adam, 0.85)]
    note = ResearchNote(round=3, query="", remedies=[TO_SGD, HALVE], sources=[], policy="t")
    lab_view = view(history, research=note)
    proposal = ExpertConsultant(0).propose(lab_view, None)
    assert proposal.remedies == [HALVE] and proposal.hparams.optimizer == "adam"
    record = lab_view.advice().describe()
    assert "healthy: optimizer=sgd: tried 1×, mean gain -0.4800" in record
    with_record = replace(lab_view, optimizer=replace(lab_view.optimizer, advice=record))
    text = prompts.consultant("consultant_b", with_record, None, SUGGESTION)[1][1]
    assert record in text and "CMA-ES generation 1: mean" in text
