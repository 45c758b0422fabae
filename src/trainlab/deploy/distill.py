"""Knowledge distillation (Hinton et al. 2015) as a loss component of the lab's trainer.

    loss = α · CE(student, y) + (1 − α) · T² · KL(softmax(teacher / T) ‖ softmax(student / T))

T² keeps the soft term's gradients on the scale of the hard term's as T grows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.deploy.retrain import TrainLoss


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    hard = F.cross_entropy(student_logits, targets)
    if alpha == 1.0:
        return hard
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.log_softmax(teacher_logits / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return alpha * hard + (1 - alpha) * temperature**2 * soft


def teacher_loss(
    teacher: nn.Module, device: torch.device, temperature: float, alpha: float
) -> TrainLoss:
    """The trainer's `train_loss_fn`: the frozen teacher scores the same (augmented) batch."""
    teacher = teacher.to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)

    def loss(logits: torch.Tensor, targets: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            teacher_logits = teacher(x).float()
        return distillation_loss(logits, teacher_logits, targets, temperature, alpha)

    return loss
