"""Each loss's defining property, checked against formulas computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from trainlab.components.losses import (
    AdaptiveWingLoss,
    ConfidencePenalizedCrossEntropy,
    ContrastiveCrossEntropy,
    ContrastivePredictiveLoss,
    CurriculumLoss,
    FocalLoss,
    NoiseContrastiveEstimation,
    OneHotRegression,
    entropy,
)


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(16, 5, generator=gen), torch.randint(0, 5, (16,), generator=gen)


def test_confidence_penalty_is_ce_minus_beta_entropy(batch) -> None:
    logits, y = batch
    ce = F.cross_entropy(logits, y)
    assert ConfidencePenalizedCrossEntropy(0.0)(logits, y) == pytest.approx(ce.item())
    expected = ce - 0.3 * entropy(logits).mean()
    assert ConfidencePenalizedCrossEntropy(0.3)(logits, y).item() == pytest.approx(expected.item())


def test_entropy_of_uniform_logits_is_log_classes() -> None:
    assert entropy(torch.zeros(2, 7)).tolist() == pytest.approx([math.log(7)] * 2)


def test_focal_loss_at_gamma_zero_is_cross_entropy(batch) -> None:
    logits, y = batch
    assert FocalLoss(gamma=0.0)(logits, y).item() == pytest.approx(
        F.cross_entropy(logits, y).item()
    )


def test_focal_loss_down_weights_easy_examples(batch) -> None:
    logits, y = batch
    per_ce = F.cross_entropy(logits, y, reduction="none")
    p_t = torch.exp(-per_ce)
    expected = ((1 - p_t) ** 2 * per_ce).mean()
    assert FocalLoss(gamma=2.0)(logits, y).item() == pytest.approx(expected.item(), rel=1e-5)


def test_adaptive_focal_gamma_is_5_for_hard_and_3_for_easy_samples() -> None:
    gammas = FocalLoss(adaptive=True).sample_gamma(torch.tensor([0.1, 0.19, 0.2, 0.9]))
    assert gammas.tolist() == [5.0, 5.0, 3.0, 3.0]


def test_infonce_with_paired_views_is_softmax_ce_over_cosine_similarities() -> None:
    gen = torch.Generator().manual_seed(1)
    q, k = torch.randn(8, 4, generator=gen), torch.randn(8, 4, generator=gen)
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.5
    expected = F.cross_entropy(logits, torch.arange(8))
    assert ContrastivePredictiveLoss(0.5)(q, k).item() == pytest.approx(expected.item(), rel=1e-5)


def test_infonce_is_log_n_when_nothing_can_be_told_apart() -> None:
    same = torch.ones(6, 3)
    assert ContrastivePredictiveLoss()(same, same).item() == pytest.approx(math.log(6))
    labels = torch.tensor([0, 0, 1, 1, 2, 2])  # self excluded: 5 candidates per query
    assert ContrastivePredictiveLoss()(same, labels=labels).item() == pytest.approx(math.log(5))


def test_infonce_is_near_zero_when_positives_align_and_negatives_are_orthogonal() -> None:
    views = torch.eye(4)
    assert ContrastivePredictiveLoss(0.05)(views, views.clone()).item() < 1e-6


def test_supervised_infonce_needs_labels_without_keys() -> None:
    with pytest.raises(ValueError, match="labels"):
        ContrastivePredictiveLoss()(torch.ones(2, 2))


def test_contrastive_cross_entropy_adds_the_weighted_supervised_term(batch) -> None:
    logits, y = batch
    loss = ContrastiveCrossEntropy(weight=0.5, temperature=0.2)
    expected = F.cross_entropy(logits, y) + 0.5 * ContrastivePredictiveLoss(0.2)(logits, labels=y)
    assert loss(logits, y).item() == pytest.approx(expected.item())


def test_curriculum_skips_hard_samples_early_and_is_ce_after_the_pace() -> None:
    logits = torch.tensor([[4.0, 0.0], [0.0, 4.0], [0.0, 0.0], [0.0, 0.0]], requires_grad=True)
    y = torch.tensor([0, 0, 0, 1])  # sample 1 is hard (loss ≈ 4)
    curriculum = CurriculumLoss(pace_steps=4, start_fraction=0.5)
    curriculum(logits, y).backward()
    assert logits.grad[1].abs().sum() == 0  # excluded: no gradient
    assert logits.grad[0].abs().sum() > 0
    for _ in range(4):
        loss = curriculum(logits, y)
    assert curriculum.fraction() == 1.0
    assert loss.item() == pytest.approx(F.cross_entropy(logits, y).item())


def test_curriculum_keeps_the_easiest_samples_of_every_class() -> None:
    """A class that is hard throughout still trains on its easier half (diversity)."""
    logits = torch.tensor([[5.0, 0.0], [4.0, 0.0], [2.0, 0.0], [1.0, 0.0]], requires_grad=True)
    y = torch.tensor([0, 0, 1, 1])  # class 1's losses (≈2.1, 1.3) exceed all of class 0's
    CurriculumLoss(pace_steps=100, start_fraction=0.5)(logits, y).backward()
    used = logits.grad.abs().sum(1) > 0
    assert used.tolist() == [True, False, False, True]


def test_curriculum_evaluation_is_plain_ce_and_does_not_advance_the_pace(batch) -> None:
    logits, y = batch
    curriculum = CurriculumLoss(pace_steps=10)
    with torch.no_grad():
        assert curriculum(logits, y).item() == pytest.approx(F.cross_entropy(logits, y).item())
    assert curriculum.steps == 0


def test_nce_sampled_path_equals_the_full_logits_path() -> None:
    gen = torch.Generator().manual_seed(2)
    hidden, weight, bias = (
        torch.randn(4, 3, generator=gen),
        torch.randn(9, 3, generator=gen),
        torch.randn(9, generator=gen),
    )
    y = torch.tensor([0, 3, 8, 3])
    nce = NoiseContrastiveEstimation(9, num_noise=5)
    noise = nce.sample_noise(4)
    logits = hidden @ weight.T + bias
    full = nce.nce(logits.gather(1, y[:, None]).squeeze(1), logits.gather(1, noise), y, noise)
    assert nce.sampled(hidden, weight, bias, y, noise=noise).item() == pytest.approx(
        full.item(), rel=1e-5
    )


def test_nce_gradient_approaches_softmax_ce_for_self_normalised_scores(batch) -> None:
    """With log Z = 0 and many noise samples, E[∇NCE] = p − onehot = ∇CE."""
    torch.manual_seed(0)
    logits, y = batch
    scores = logits.log_softmax(1)
    nce_scores = scores.clone().requires_grad_()
    NoiseContrastiveEstimation(5, num_noise=2000)(nce_scores, y).backward()
    ce_scores = scores.clone().requires_grad_()
    F.cross_entropy(ce_scores, y, reduction="sum").backward()
    cosine = F.cosine_similarity(nce_scores.grad.flatten(), ce_scores.grad.flatten(), dim=0)
    assert cosine.item() > 0.95


def test_nce_rejects_a_bad_noise_distribution() -> None:
    with pytest.raises(ValueError):
        NoiseContrastiveEstimation(3, noise_probs=torch.tensor([0.5, 0.5]))


def test_adaptive_wing_is_zero_at_target_and_continuous_at_theta() -> None:
    wing = AdaptiveWingLoss()
    target = torch.tensor([0.0, 0.3, 1.0])
    assert wing(target, target).item() == 0.0
    below, above = wing(target + 0.5 - 1e-4, target), wing(target + 0.5 + 1e-4, target)
    assert below.item() == pytest.approx(above.item(), abs=1e-2)


def test_adaptive_wing_gradient_is_bounded_for_outliers() -> None:
    """Linear past theta: a huge error gets the same gradient as one just past theta."""
    wing = AdaptiveWingLoss()
    grads = []
    for error in (0.6, 50.0):
        pred = torch.tensor([error], requires_grad=True)
        wing(pred, torch.tensor([0.0])).backward()
        grads.append(pred.grad.item())
    assert grads[0] == pytest.approx(grads[1])


def test_one_hot_regression_feeds_probabilities_and_one_hot_targets() -> None:
    logits = torch.tensor([[0.0, 0.0]])
    mse = OneHotRegression(torch.nn.MSELoss())(logits, torch.tensor([1]))
    assert mse.item() == pytest.approx(0.25)  # (0.5 − 0)² and (0.5 − 1)², averaged
