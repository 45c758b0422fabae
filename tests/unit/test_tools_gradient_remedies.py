"""Gradient flags reach the analyst with their evidence, and the knowledge base answers them."""

from __future__ import annotations

from lab_records import trial_summary

from trainlab.agents.offline import HeuristicAnalyst, KnowledgeBaseResearcher
from trainlab.analysis.curves import FLAG_KEYWORDS, diagnose
from trainlab.research.knowledge import remedies_for
from trainlab.space import HParams, apply_changes

HP = HParams(
    optimizer="sgd",
    learning_rate=0.05,
    train_batch_size=128,
    weight_decay=5e-4,
    label_smoothing=0.1,
)
GRADIENT_FLAGS = ("exploding_gradients", "vanishing_gradients", "dead_layers")


def row(epoch: int, first: float, last: float, peak: float) -> dict[str, float]:
    curve = {"train_loss": 2.0 - 0.3 * epoch, "val_loss": 2.0 - 0.3 * epoch}
    curve |= {"train_acc": 0.5 + 0.1 * epoch, "val_acc": 0.5 + 0.1 * epoch, "epoch": epoch}
    gradients = {"grad_norm": peak / 2, "grad_norm_max": peak, "grad_nonfinite_steps": 0.0}
    gradients |= {"update_ratio": 0.1, "grad_norm/prep": first, "grad_norm/linear": last}
    return curve | gradients


def test_exploding_and_dead_gradients_are_flagged_with_evidence():
    rows = [row(1, 0.0, 1.0, 5e4), row(2, 0.0, 1.0, 2e4)]
    flags, features = diagnose(trial_summary(HP), rows)
    assert {"exploding_gradients", "dead_layers"} <= set(flags) and "healthy" not in flags
    assert features["grad_norm_max"] == 5e4 and features["grad_norm/prep"] == 0.0


def test_gradient_flags_follow_a_divergence():
    flags, _ = diagnose(trial_summary(HP, "diverged"), [row(1, 1e-9, 1.0, 1.0)])
    assert flags == ["diverged", "lr_too_high", "vanishing_gradients"]


def test_healthy_gradients_add_no_flag():
    rows = [row(1, 0.5, 1.0, 3.0), row(2, 0.4, 1.0, 2.0)]
    assert not set(GRADIENT_FLAGS) & set(diagnose(trial_summary(HP), rows)[0])


def test_each_gradient_flag_has_keywords_and_applicable_referenced_remedies():
    analysis = HeuristicAnalyst().analyze(1, trial_summary(HP), [row(1, 0.0, 1.0, 5e4)])
    note = KnowledgeBaseResearcher().research(analysis)
    assert {"exploding_gradients", "dead_layers"} <= {r.flag for r in note.remedies}
    for flag in GRADIENT_FLAGS:
        assert FLAG_KEYWORDS[flag]
        for remedy in remedies_for([flag]):
            assert remedy.reference and apply_changes(HP, remedy.changes)[0] != HP
