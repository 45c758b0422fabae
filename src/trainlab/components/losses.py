"""Losses beyond plain cross-entropy: calibration, hard examples, contrast, curricula, NCE, wing.

Classification losses take (logits [N, C], targets [N]) like `F.cross_entropy` and return the
batch mean, so any of them can be a trainer's `loss_fn`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of softmax(logits) per row, in nats."""
    logp = logits.log_softmax(-1)
    return -(logp.exp() * logp).sum(-1)


class ConfidencePenalizedCrossEntropy(nn.Module):
    """Cross-entropy minus beta times the entropy of the prediction: CE − β·H(p).

    Idea: rewarding entropy stops the network from pushing its outputs to one-hot, which
    regularizes like label smoothing but adapts to the prediction, and tends to improve
    calibration.
    Reference: Pereyra, Tucker, Chorowski, Kaiser, Hinton, "Regularizing Neural Networks by
    Penalizing Confident Output Distributions", ICLR workshop 2017 (arXiv:1701.06548).
    Costs: memory none; time one extra softmax-entropy per batch.
    """

    def __init__(self, beta: float = 0.1) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets) - self.beta * entropy(logits).mean()


class FocalLoss(nn.Module):
    """Focal loss −(1 − p_t)^γ · log p_t, with a fixed or a sample-adaptive γ.

    Idea: down-weight examples the model already gets right so training focuses on hard
    ones. With `adaptive=True`, γ depends on each sample's p_t (γ = 5 for p_t < 0.2, else 3:
    the FLSD-53 schedule), which Mukhoti et al. found to calibrate better than any fixed γ.
    γ = 0 is cross-entropy.
    References: Lin, Goyal, Girshick, He, Dollár, "Focal Loss for Dense Object Detection",
    ICCV 2017 (arXiv:1708.02002); Mukhoti et al., "Calibrating Deep Neural Networks using
    Focal Loss", NeurIPS 2020 (arXiv:2002.09437).
    Costs: memory none; time a few element-wise ops over CE.
    """

    HARD_PT, HARD_GAMMA, EASY_GAMMA = 0.2, 5.0, 3.0

    def __init__(self, gamma: float = 2.0, adaptive: bool = False) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError("gamma must be non-negative")
        self.gamma, self.adaptive = gamma, adaptive

    def sample_gamma(self, p_t: torch.Tensor) -> torch.Tensor:
        """γ for each sample (p_t is treated as a constant here)."""
        if not self.adaptive:
            return torch.full_like(p_t, self.gamma)
        return torch.where(p_t.detach() < self.HARD_PT, self.HARD_GAMMA, self.EASY_GAMMA)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logp_t = logits.log_softmax(-1).gather(1, targets[:, None]).squeeze(1)
        p_t = logp_t.exp()
        return -((1 - p_t).pow(self.sample_gamma(p_t)) * logp_t).mean()


class ContrastivePredictiveLoss(nn.Module):
    """InfoNCE: pick each query's positive key out of the batch by cosine similarity.

    Idea: score every (query, key) pair by cosine similarity / temperature and train a
    softmax classifier to find the positives among in-batch negatives; minimising it
    maximises a lower bound on the mutual information of the two views
    (I ≥ log N − loss). Positives are the matching rows (`labels=None`) or, supervised,
    every key with the query's label. With `keys=None` the queries are contrasted with each
    other and a row is never its own positive or negative.
    References: van den Oord, Li, Vinyals, "Representation Learning with Contrastive
    Predictive Coding", arXiv:1807.03748 (2018); Khosla et al., "Supervised Contrastive
    Learning", NeurIPS 2020 (arXiv:2004.11362).
    Costs: memory O(N²) similarities per batch; time O(N²·D).
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        self.temperature = temperature

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        self_contrast = keys is None
        if self_contrast and labels is None:
            raise ValueError("contrasting queries with themselves needs labels")
        q = F.normalize(queries, dim=-1)
        k = q if keys is None else F.normalize(keys, dim=-1)
        logits = q @ k.T / self.temperature
        n = len(q)
        positives = torch.eye(n, dtype=torch.bool, device=q.device)
        if labels is not None:
            positives = labels[:, None] == labels[None, :]
        if self_contrast:
            own = torch.eye(n, dtype=torch.bool, device=q.device)
            logits = logits.masked_fill(own, float("-inf"))
            positives = positives & ~own
        logp = logits.log_softmax(-1).masked_fill(~positives, 0.0)
        count = positives.sum(-1)
        has_positive = count > 0
        per_query = -logp.sum(-1)[has_positive] / count[has_positive]
        return per_query.mean() if len(per_query) else logits.new_zeros(())


class CurriculumLoss(nn.Module):
    """Self-paced cross-entropy: train only on samples easier than a growing loss threshold.

    Idea: early in training, samples whose loss is above their class's threshold are left out
    (weight 0). Each class's threshold is a running average (`momentum`) of that class's
    batch-loss quantile at the current pace, which rises linearly from `start_fraction` to
    all samples over `pace_steps` training steps, after which this is plain cross-entropy.
    Thresholds per class keep every class in the curriculum (self-paced learning with
    diversity): one global threshold admits only the easiest classes and starves the rest.
    Only calls with gradients enabled count as training steps; evaluation gets plain
    cross-entropy.
    References: Kumar, Packer, Koller, "Self-Paced Learning for Latent Variable Models",
    NeurIPS 2010; Jiang et al., "Self-Paced Learning with Diversity", NeurIPS 2014.
    Costs: memory one threshold per class; time one quantile per class in the batch.
    """

    def __init__(self, pace_steps: int, start_fraction: float = 0.5, momentum: float = 0.9) -> None:
        super().__init__()
        if pace_steps < 1 or not 0.0 < start_fraction <= 1.0 or not 0.0 <= momentum < 1.0:
            raise ValueError("need pace_steps >= 1, 0 < start_fraction <= 1, 0 <= momentum < 1")
        self.pace_steps, self.start_fraction, self.momentum = pace_steps, start_fraction, momentum
        self.steps = 0
        self.thresholds: dict[int, float] = {}  # class -> running loss threshold

    def fraction(self) -> float:
        """Share of each class admitted at the current step."""
        progress = min(1.0, self.steps / self.pace_steps)
        return self.start_fraction + (1.0 - self.start_fraction) * progress

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        losses = F.cross_entropy(logits, targets, reduction="none")
        if not torch.is_grad_enabled():
            return losses.mean()
        self.steps += 1
        fraction = self.fraction()
        if fraction >= 1.0:
            return losses.mean()
        detached = losses.detach().float()
        limits = torch.empty_like(detached)
        for cls in targets.unique().tolist():
            members = targets == cls
            quantile = torch.quantile(detached[members], fraction).item()
            previous = self.thresholds.get(cls, quantile)
            self.thresholds[cls] = self.momentum * previous + (1 - self.momentum) * quantile
            limits[members] = self.thresholds[cls]
        weights = (detached <= limits).to(losses.dtype)
        return (weights * losses).sum() / weights.sum().clamp(min=1.0)


class NoiseContrastiveEstimation(nn.Module):
    """NCE: tell the true class from k classes drawn from a noise distribution q.

    Idea: instead of normalising over all V classes, train a logistic classifier on
    score(y) − log(k·q(y)) for the target against k noise samples; at the optimum the scores
    are self-normalised log-probabilities, and each step costs O(k·D) instead of O(V·D).
    `sampled()` gathers only the k + 1 needed output rows (the large-vocabulary path);
    `forward()` takes full logits (for small output spaces and comparison).
    References: Gutmann, Hyvärinen, "Noise-contrastive estimation", AISTATS 2010;
    Mnih, Teh, "A fast and simple algorithm for training neural probabilistic language
    models", ICML 2012.
    Costs: memory O(k·D) per example via `sampled()`; time O(k·D) vs O(V·D) for softmax.
    """

    def __init__(
        self, num_classes: int, num_noise: int = 20, noise_probs: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        if num_noise < 1:
            raise ValueError("num_noise must be at least 1")
        probs = (
            torch.full((num_classes,), 1.0 / num_classes) if noise_probs is None else noise_probs
        )
        if probs.shape != (num_classes,) or (probs <= 0).any():
            raise ValueError("noise_probs must be a positive vector of length num_classes")
        self.num_noise = num_noise
        self.register_buffer("noise_probs", probs / probs.sum())
        self.register_buffer("log_kq", math.log(num_noise) + self.noise_probs.log())

    def sample_noise(self, n: int) -> torch.Tensor:
        """[n, k] class ids drawn from q (with replacement)."""
        flat = torch.multinomial(self.noise_probs, n * self.num_noise, replacement=True)
        return flat.view(n, self.num_noise)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        noise = self.sample_noise(len(targets)).to(logits.device)
        return self.nce(
            logits.gather(1, targets[:, None]).squeeze(1), logits.gather(1, noise), targets, noise
        )

    def sampled(
        self,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        targets: torch.Tensor,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """NCE for an output layer (weight [V, D], bias [V]) without computing all V scores."""
        noise = self.sample_noise(len(targets)).to(hidden.device) if noise is None else noise
        ids = torch.cat([targets[:, None], noise], dim=1)
        scores = torch.einsum("nd,nkd->nk", hidden, weight[ids]) + bias[ids]
        return self.nce(scores[:, 0], scores[:, 1:], targets, noise)

    def nce(
        self,
        target_scores: torch.Tensor,
        noise_scores: torch.Tensor,
        targets: torch.Tensor,
        noise: torch.Tensor,
    ) -> torch.Tensor:
        """Mean of −log σ(s_y − log kq_y) − Σ_j log σ(−(s_j − log kq_j))."""
        positive = F.logsigmoid(target_scores - self.log_kq[targets])
        negative = F.logsigmoid(-(noise_scores - self.log_kq[noise])).sum(-1)
        return -(positive + negative).mean()


class AdaptiveWingLoss(nn.Module):
    """Adaptive Wing loss for regression targets in [0, 1] (e.g. heatmaps, one-hot maps).

    Idea: logarithmic (large gradient) for small errors and linear (bounded gradient) past
    θ, so outliers do not dominate; the exponent α − y makes the curve adapt to the target,
    sharp near foreground (y ≈ 1) and MSE-like near background (y ≈ 0). A and C make the two
    pieces meet with equal value and slope at θ.
    Reference: Wang, Bo, Fuxin, "Adaptive Wing Loss for Robust Face Alignment via Heatmap
    Regression", ICCV 2019 (arXiv:1904.07399).
    Costs: memory none; time a few element-wise ops.
    """

    def __init__(
        self, omega: float = 14.0, theta: float = 0.5, epsilon: float = 1.0, alpha: float = 2.1
    ) -> None:
        super().__init__()
        self.omega, self.theta, self.epsilon, self.alpha = omega, theta, epsilon, alpha

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = (target - prediction).abs()
        power = self.alpha - target
        ratio = self.theta / self.epsilon
        a = self.omega / (1 + ratio**power) * power * ratio ** (power - 1) / self.epsilon
        c = self.theta * a - self.omega * torch.log1p(ratio**power)
        small = self.omega * torch.log1p((error / self.epsilon) ** power)
        return torch.where(error < self.theta, small, a * error - c).mean()


class ContrastiveCrossEntropy(nn.Module):
    """Classification with a supervised InfoNCE term: CE + weight · InfoNCE(logits, labels).

    Adapts ContrastivePredictiveLoss to a (logits, targets) training loop: samples of the
    same class are each other's positives, the rest of the batch the negatives.
    """

    def __init__(self, weight: float = 0.5, temperature: float = 0.1) -> None:
        super().__init__()
        self.weight = weight
        self.contrastive = ContrastivePredictiveLoss(temperature)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        aux = self.contrastive(logits, labels=targets)
        return F.cross_entropy(logits, targets) + self.weight * aux


class OneHotRegression(nn.Module):
    """Classification as regression: `loss(softmax(logits), one_hot(targets))`."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        return self.loss(logits.softmax(-1), one_hot)
