"""The offline policies: determinism by seed, no re-runs, remedies applied, real decisions."""

from __future__ import annotations

import pytest
from lab_records import trial_summary

from trainlab.agents.base import RoundView, Trial
from trainlab.agents.offline import (
    LITERATURE_PRIOR,
    ExpertConsultant,
    HeuristicAnalyst,
    KnowledgeBaseResearcher,
    TPEConsultant,
    TrackRecordSupervisor,
    offline_advisors,
)
from trainlab.space import HParams
from trainlab.state import FinalConfig


def make_trial(round_: int, hp: HParams, acc: float, source: str, status="complete") -> Trial:
    final = FinalConfig(round=round_, hparams=hp, source=source, justification="", policy="t")
    summary = trial_summary(hp, status, best_val_acc=acc, epochs_run=3)
    return Trial(final, summary)


def view_after(trials: list[Trial], research=None, analysis=None) -> RoundView:
    return RoundView(len(trials) + 1, tuple(trials), analysis, research)


HP1 = HParams(
    optimizer="adam",
    learning_rate=1e-3,
    train_batch_size=64,
    weight_decay=1e-4,
    label_smoothing=0.0,
)
HP2 = LITERATURE_PRIOR


def test_tpe_is_deterministic_by_seed_and_differs_across_seeds():
    view = view_after([make_trial(1, HP1, 0.8, "consultant_a"), make_trial(2, HP2, 0.9, "b")])
    first = [TPEConsultant(seed=7).propose(view, None).hparams for _ in range(2)]
    assert first[0] == first[1]
    others = {TPEConsultant(seed=s).propose(view, None).hparams for s in range(8, 12)}
    assert len(others | {first[0]}) > 1


def test_tpe_never_repeats_a_trained_configuration():
    history = [make_trial(i + 1, HP1 if i % 2 else HP2, 0.5, "a") for i in range(4)]
    view = view_after(history)
    proposal = TPEConsultant(seed=1).propose(view, None)
    assert proposal.hparams.key() not in view.tried()


def test_expert_starts_from_literature_prior():
    proposal = ExpertConsultant(seed=0).propose(view_after([]), None)
    assert proposal.hparams == LITERATURE_PRIOR
    assert "literature prior" in proposal.rationale


def test_expert_applies_remedies_to_the_last_run():
    trial = make_trial(1, HP2, 0.9, "consultant_b")
    analysis = HeuristicAnalyst().analyze(1, trial.summary, overfitting_rows())
    note = KnowledgeBaseResearcher().research(analysis)
    proposal = ExpertConsultant(seed=0).propose(view_after([trial], note, analysis), None)
    assert "overfitting" in analysis.flags
    assert proposal.hparams.weight_decay == pytest.approx(HP2.weight_decay * 3)
    assert proposal.hparams.label_smoothing == HP2.label_smoothing  # one alternative per flag


def test_expert_skips_a_remedy_that_the_bounds_make_a_no_op():
    at_ceiling = HP2.model_copy(update={"learning_rate": 0.1})
    trial = make_trial(1, at_ceiling, 0.5, "consultant_b")
    slow = [{"train_loss": 2.3, "val_loss": 2.3, "train_acc": a, "val_acc": a} for a in (0.1, 0.2)]
    analysis = HeuristicAnalyst().analyze(1, trial.summary, slow)
    note = KnowledgeBaseResearcher().research(analysis)
    proposal = ExpertConsultant(seed=0).propose(view_after([trial], note, analysis), None)
    assert analysis.flags[0] == "lr_too_low"
    assert proposal.hparams.learning_rate == 0.1
    assert proposal.hparams.train_batch_size == 64  # the next alternative: halve the batch
    assert "no effect at the bounds" in " ".join(proposal.warnings)


def overfitting_rows() -> list[dict]:
    val_loss = [1.0, 0.8, 0.7, 0.75, 0.9, 1.1]
    return [
        {
            "epoch": i + 1,
            "train_loss": 1.0 / (i + 1),
            "val_loss": v,
            "train_acc": 0.7 + 0.05 * i,
            "val_acc": 0.7,
            "lr": 0.1,
        }
        for i, v in enumerate(val_loss)
    ]


def test_supervisor_mostly_trusts_the_better_track_record_but_still_explores():
    history = [
        make_trial(1, HP2, 0.90, "consultant_b"),
        make_trial(2, HP1, 0.50, "consultant_a"),
        make_trial(3, HP2.model_copy(update={"learning_rate": 0.03}), 0.95, "consultant_b"),
    ]
    view = view_after(history)
    advisors = offline_advisors(seed=0)
    proposals = [
        advisors.consultant_a.propose(view, None),
        advisors.consultant_b.propose(view, None),
    ]
    sources = [TrackRecordSupervisor(seed).finalize(view, proposals).source for seed in range(60)]
    assert 0.6 < sources.count("consultant_b") / len(sources) < 0.95
    final = TrackRecordSupervisor(seed=3).finalize(view, proposals)
    assert "consultant_b: 2 new bests in 2 picks" in final.justification
    assert final.hparams.key() not in view.tried()


def test_supervisor_round_one_takes_the_literature_prior():
    advisors = offline_advisors(seed=0)
    view = view_after([])
    proposals = [
        advisors.consultant_a.propose(view, None),
        advisors.consultant_b.propose(view, None),
    ]
    final = advisors.supervisor.finalize(view, proposals)
    assert final.hparams == LITERATURE_PRIOR and final.source == "consultant_b"


def test_supervisor_never_reruns_when_both_proposals_were_trained():
    history = [make_trial(1, HP1, 0.8, "consultant_a"), make_trial(2, HP2, 0.9, "consultant_b")]
    view = view_after(history)
    advisors = offline_advisors(seed=5)
    same = [
        p.model_copy(update={"hparams": HP2})
        for p in (
            advisors.consultant_a.propose(view, None),
            advisors.consultant_b.propose(view, None),
        )
    ]
    final = TrackRecordSupervisor(seed=5).finalize(view, same)
    assert final.hparams.key() not in view.tried()
    assert "already trained" in final.justification


def test_supervisor_rejects_an_empty_round():
    with pytest.raises(ValueError, match="at least one proposal"):
        TrackRecordSupervisor(seed=0).finalize(view_after([]), [])
