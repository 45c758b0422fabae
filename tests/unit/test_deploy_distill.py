"""The distillation loss's limits, and the trainer hook that lets a loss see the batch inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainlab.config import TrainSettings
from trainlab.deploy.distill import distillation_loss, teacher_loss
from trainlab.space import HParams
from trainlab.training.models import ResNet9
from trainlab.training.trainer import TrialComponents, run_trial

HP = HParams(
    optimizer="adam",
    learning_rate=0.01,
    train_batch_size=64,
    weight_decay=5e-4,
    label_smoothing=0.0,
)


def logits(seed: int, n: int = 16, classes: int = 5) -> torch.Tensor:
    return torch.randn(n, classes, generator=torch.Generator().manual_seed(seed))


def test_alpha_one_is_plain_cross_entropy():
    student, teacher, y = logits(0), logits(1), torch.arange(16) % 5
    loss = distillation_loss(student, teacher, y, temperature=4.0, alpha=1.0)
    assert torch.equal(loss, F.cross_entropy(student, y))


@pytest.mark.parametrize("temperature", [1.0, 4.0, 20.0])
def test_alpha_zero_with_the_teachers_own_logits_costs_nothing(temperature):
    teacher, y = logits(1), torch.arange(16) % 5
    loss = distillation_loss(teacher.clone(), teacher, y, temperature, alpha=0.0)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_alpha_mixes_the_hard_and_soft_terms_linearly():
    student, teacher, y = logits(0), logits(1), torch.arange(16) % 5
    hard = distillation_loss(student, teacher, y, 3.0, alpha=1.0)
    soft = distillation_loss(student, teacher, y, 3.0, alpha=0.0)
    mixed = distillation_loss(student, teacher, y, 3.0, alpha=0.25)
    assert mixed.item() == pytest.approx(0.25 * hard.item() + 0.75 * soft.item(), rel=1e-5)


def test_at_high_temperature_the_soft_term_becomes_logit_matching():
    """Hinton et al.: T²·KL → (1 / 2C) · Σ (z_s − z_t − mean)² per example as T grows."""
    student, teacher, y = logits(0), logits(1), torch.arange(16) % 5
    diff = student - teacher
    diff = diff - diff.mean(1, keepdim=True)
    matching = (diff**2).sum(1).mean() / (2 * diff.shape[1])
    soft = distillation_loss(student, teacher, y, temperature=200.0, alpha=0.0)
    assert soft.item() == pytest.approx(matching.item(), rel=0.01)


def test_a_higher_temperature_softens_a_confident_teacher():
    """At T = 1 a near-one-hot teacher adds little beyond the label; at T = 5 much more."""
    teacher = torch.tensor([[8.0, 2.0, 0.0]])
    student = torch.tensor([[8.0, 0.0, 2.0]])  # same top class, other runner-up
    y = torch.tensor([0])
    cold = distillation_loss(student, teacher, y, 1.0, alpha=0.0)
    warm = distillation_loss(student, teacher, y, 5.0, alpha=0.0)
    assert warm.item() > 10 * cold.item()


def test_the_trainer_hands_the_batch_inputs_to_train_loss_fn(tiny_splits, tmp_path):
    seen = []
    teacher = ResNet9(tiny_splits.num_classes, tiny_splits.in_channels, width=4)
    distill = teacher_loss(teacher, torch.device("cpu"), temperature=2.0, alpha=0.5)

    def recording(logits: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(x.shape))
        return distill(logits, y, x)

    settings = TrainSettings(epochs=1, model_width=4, device="cpu", augment="none")
    summary = run_trial(
        HP, settings, tiny_splits, tmp_path, components=TrialComponents(train_loss_fn=recording)
    )
    assert summary.status == "complete"
    assert seen and all(shape == (64, 3, 8, 8) for shape in seen)
    assert not any(p.requires_grad for p in teacher.parameters())  # the teacher stays frozen
