"""Curve heuristics, the remedy knowledge base and remedy application to the space."""

from __future__ import annotations

import pytest
from lab_records import trial_summary

from trainlab.analysis.curves import diagnose
from trainlab.research.knowledge import KNOWLEDGE_BASE, remedies_for
from trainlab.space import HParams, SpaceError, apply_changes
from trainlab.state import TrialSummary

HP = HParams(
    optimizer="sgd",
    learning_rate=0.05,
    train_batch_size=128,
    weight_decay=5e-4,
    label_smoothing=0.1,
)


def summary(status: str = "complete") -> TrialSummary:
    return trial_summary(HP, status)


def rows(train_loss, val_loss, train_acc, val_acc) -> list[dict]:
    return [
        {"train_loss": a, "val_loss": b, "train_acc": c, "val_acc": d}
        for a, b, c, d in zip(train_loss, val_loss, train_acc, val_acc, strict=True)
    ]


def test_diverged_and_failed_trials_are_flagged_by_status():
    assert diagnose(summary("diverged"), [])[0] == ["diverged", "lr_too_high"]
    assert diagnose(summary("failed"), [])[0] == ["failed"]


def test_healthy_curve_has_no_problem_flags():
    curve = rows(
        [2.0, 1.0, 0.6, 0.4], [1.9, 1.1, 0.7, 0.5], [0.4, 0.7, 0.85, 0.9], [0.45, 0.7, 0.85, 0.87]
    )
    assert diagnose(summary(), curve)[0] == ["healthy"]


def test_a_curve_still_climbing_when_the_epochs_ran_out_asks_for_more_updates():
    curve = rows([2.1, 1.7, 1.5], [2.3, 2.2, 2.0], [0.49, 0.81, 0.86], [0.56, 0.77, 0.85])
    flags, features = diagnose(summary(), curve)
    assert flags == ["still_improving"] and features["val_acc_gain_last"] == pytest.approx(0.08)
    changes = [r.changes for r in remedies_for(flags)]
    assert {"train_batch_size": "*0.5"} in changes


def test_overfitting_plateau_and_slow_learning_are_recognised():
    overfit = rows(
        [1.0, 0.5, 0.2, 0.1], [1.0, 0.8, 0.95, 1.2], [0.7, 0.85, 0.95, 0.99], [0.7, 0.8, 0.8, 0.8]
    )
    flags, features = diagnose(summary(), overfit)
    assert "overfitting" in flags and "plateau" in flags
    assert features["generalization_gap"] == pytest.approx(0.19)
    slow = rows([2.3, 2.25, 2.2], [2.3, 2.25, 2.2], [0.1, 0.12, 0.15], [0.1, 0.12, 0.15])
    assert {"lr_too_low", "underfitting"} <= set(diagnose(summary(), slow)[0])


def test_every_flag_has_a_referenced_remedy():
    for flag, remedies in KNOWLEDGE_BASE.items():
        assert remedies, flag
        assert all(r.reference and r.changes for r in remedies)


def test_remedies_list_every_alternative_most_severe_flag_first():
    chosen = remedies_for(["diverged", "overfitting", "no_such_flag"])
    assert [r.flag for r in chosen] == ["diverged"] * 2 + ["overfitting"] * 3
    assert chosen[0].changes == {"learning_rate": "*0.1"}


def test_apply_changes_multiplies_adds_sets_and_clamps():
    hp, warnings = apply_changes(
        HP, {"learning_rate": "*10", "label_smoothing": "+0.05", "optimizer": "=adam"}
    )
    assert hp.learning_rate == 0.1 and hp.optimizer == "adam"
    assert hp.label_smoothing == pytest.approx(0.15)
    assert warnings == ["learning_rate=0.5 clamped to 0.1 (bounds [0.0001, 0.1])"]
    assert apply_changes(HP, {"train_batch_size": "*0.5"})[0].train_batch_size == 64


@pytest.mark.parametrize("changes", [{"momentum": "*2"}, {"learning_rate": "^2"}])
def test_apply_changes_rejects_unknown_edits(changes):
    with pytest.raises(SpaceError):
        apply_changes(HP, changes)
