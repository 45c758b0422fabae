"""Optimizers beyond Adam: curvature-aware, wrappers around any optimizer, layer-wise trust.

Wrappers (LookAhead, AdaptiveGradientClipping, GradientCentralization,
StochasticWeightAveraging) share `param_groups` with the optimizer they wrap, so learning-rate
schedulers and gradient scalers that act on the wrapper reach the inner optimizer too.
AdamW is PyTorch's own (`torch.optim.AdamW`) and is the default base and baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.swa_utils import AveragedModel

Closure = Callable[[], float] | None


def _params_with_grad(optimizer: Optimizer) -> Iterable[tuple[torch.Tensor, dict[str, Any]]]:
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                yield p, group


def _closure_loss(closure: Closure) -> Any:
    """Re-evaluate the model (with gradients) when a closure is given."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class PerParameterOptimizer(Optimizer):
    """Base for optimizers whose update of a tensor needs only that tensor's own state."""

    @torch.no_grad()
    def step(self, closure: Closure = None) -> Any:
        loss = _closure_loss(closure)
        for p, group in _params_with_grad(self):
            self.update(p, group, self.state[p])
        return loss

    def update(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        raise NotImplementedError


class OptimizerWrapper(Optimizer):
    """An optimizer that delegates the update to `base` and adds behaviour around it."""

    def __init__(self, base: Optimizer, defaults: dict[str, Any]) -> None:
        self.base = base
        super().__init__(base.param_groups, defaults)  # shares the group dicts with `base`

    @torch.no_grad()
    def step(self, closure: Closure = None) -> Any:
        loss = _closure_loss(closure)  # gradients first, so before_step sees the fresh ones
        self.before_step()
        self.base.step()
        self.after_step()
        return loss

    def before_step(self) -> None:
        """Hook run before the base update (e.g. transform gradients)."""

    def after_step(self) -> None:
        """Hook run after the base update (e.g. synchronize or average weights)."""

    def state_dict(self) -> dict[str, Any]:
        return {"base": self.base.state_dict(), "wrapper": super().state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.base.load_state_dict(state_dict["base"])
        super().load_state_dict(state_dict["wrapper"])
        self.param_groups = self.base.param_groups  # loading rebuilt the dicts: share again


class SecondOrderMomentum(PerParameterOptimizer):
    """Diagonal quasi-Newton momentum: a Newton step on the momentum, clipped to ±lr.

    Idea: keep a diagonal Hessian estimate B that satisfies the weak secant condition
    sᵀB s = sᵀy for the last step s and gradient change y, changing B as little as possible
    (along s², as Apollo does). The step is the Newton step m / |B| on the gradient momentum
    m, rectified for negative curvature and clipped per coordinate to [−lr, lr] (as Sophia
    clips): where curvature is unknown or tiny it is sign descent of size lr, where it is
    known it is Newton's, so lr acts as a per-coordinate trust-region radius. On a separable
    quadratic B converges to the exact Hessian diagonal. Decoupled weight decay as in AdamW.
    No Hessian-vector products are needed, so it runs in any ordinary training loop.
    References: Ma, "Apollo: An Adaptive Parameter-wise Diagonal Quasi-Newton Method for
    Nonconvex Stochastic Optimization", arXiv:2009.13586 (2020); Liu et al., "Sophia: A
    Scalable Stochastic Second-order Optimizer", ICLR 2024 (arXiv:2305.14342).
    Costs: memory 4P (momentum, curvature, last step, last gradient) vs AdamW's 2P; time
    about AdamW's (a few extra element-wise ops and two reductions per tensor).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        beta: float = 0.9,
        weight_decay: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        if lr <= 0 or not 0.0 <= beta < 1.0:
            raise ValueError("need lr > 0 and 0 <= beta < 1")
        defaults = {"lr": lr, "beta": beta, "weight_decay": weight_decay, "eps": eps}
        super().__init__(params, defaults)

    def update(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if not state:
            state["step"] = 0
            for name in ("momentum", "curvature", "last_step", "last_grad"):
                state[name] = torch.zeros_like(p)
        state["step"] += 1
        m, curvature, s = state["momentum"], state["curvature"], state["last_step"]
        secant_update(curvature, s, p.grad - state["last_grad"])  # s = 0 at step 1: no change
        state["last_grad"].copy_(p.grad)
        beta, lr = group["beta"], group["lr"]
        m.lerp_(p.grad, (1 - beta) / (1 - beta ** state["step"]))  # bias-corrected EMA
        newton = m / curvature.abs().clamp(min=group["eps"])
        s.copy_(newton.clamp_(-lr, lr).neg_())
        if group["weight_decay"]:
            s.add_(p, alpha=-lr * group["weight_decay"])
        p.add_(s)


def secant_update(curvature: torch.Tensor, s: torch.Tensor, y: torch.Tensor) -> None:
    """Change B by c·s²/‖s‖₄² with c chosen so that sᵀBs = sᵀy (no change when s = 0)."""
    norm_sq = s.norm(p=4).square().clamp(min=1e-24)
    v = s.square() / norm_sq
    c = (y * s).sum() / norm_sq - (curvature * v).sum()
    curvature.add_(v * c)


class LAMB(PerParameterOptimizer):
    """Layer-wise Adaptive Moments: Adam's direction rescaled per tensor by a trust ratio.

    Idea: r = Adam direction + decoupled weight decay; each tensor moves by
    lr · (‖w‖ / ‖r‖) · r, so every layer changes by the same fraction lr of its norm whatever
    its gradient scale, which keeps very large batches stable.
    Reference: You et al., "Large Batch Optimization for Deep Learning: Training BERT in
    76 minutes", ICLR 2020 (arXiv:1904.00962).
    Costs: memory 2P (as Adam); time Adam plus two norms per tensor.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
    ) -> None:
        if lr <= 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError("need lr > 0 and betas in [0, 1)")
        super().__init__(
            params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        )

    def update(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        (beta1, beta2), step = group["betas"], state["step"]
        state["exp_avg"].lerp_(p.grad, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
        m_hat = state["exp_avg"] / (1 - beta1**step)
        v_hat = state["exp_avg_sq"] / (1 - beta2**step)
        r = m_hat / v_hat.sqrt().add_(group["eps"])
        if group["weight_decay"]:
            r.add_(p, alpha=group["weight_decay"])
        p.sub_(r.mul_(group["lr"] * trust_ratio(p, r)))


def trust_ratio(weight: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
    """LAMB's ‖w‖ / ‖r‖, or 1 when either norm is zero (fresh zero-initialised tensors)."""
    w_norm, r_norm = weight.norm(), update.norm()
    return torch.where((w_norm > 0) & (r_norm > 0), w_norm / r_norm, torch.ones_like(w_norm))


class LookAhead(OptimizerWrapper):
    """k fast steps with any optimizer, then the slow weights move a fraction alpha toward them.

    Idea: slow ← slow + alpha·(fast − slow) every k steps and the fast weights restart from the
    slow ones, damping the oscillation of the inner optimizer.
    Reference: Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1 step back",
    NeurIPS 2019 (arXiv:1907.08610).
    Costs: memory +P (slow weights); time +1 axpy per parameter every k steps.
    """

    def __init__(self, base: Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        if k < 1 or not 0.0 < alpha <= 1.0:
            raise ValueError("need k >= 1 and 0 < alpha <= 1")
        super().__init__(base, {"lookahead_k": k, "lookahead_alpha": alpha, "lookahead_step": 0})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["slow"] = p.detach().clone()

    def after_step(self) -> None:
        for group in self.param_groups:
            group["lookahead_step"] += 1
            if group["lookahead_step"] % group["lookahead_k"]:
                continue
            for p in group["params"]:
                slow = self.state[p]["slow"]
                slow.lerp_(p.detach(), group["lookahead_alpha"])
                p.copy_(slow)


class GradientTransform(OptimizerWrapper):
    """A wrapper that rewrites every gradient in place before the base step."""

    def __init__(self, base: Optimizer, defaults: dict[str, Any] | None = None) -> None:
        super().__init__(base, defaults or {})

    @torch.no_grad()
    def before_step(self) -> None:
        for p, _ in _params_with_grad(self):
            p.grad.copy_(self.transform(p.grad, p))

    def transform(self, grad: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def unitwise_norm(x: torch.Tensor) -> torch.Tensor:
    """Norm per output unit (all dims but the first); a vector or scalar counts as one unit."""
    if x.ndim <= 1:
        return x.norm().reshape([1] * x.ndim)
    return torch.linalg.vector_norm(x, dim=tuple(range(1, x.ndim)), keepdim=True)


class AdaptiveGradientClipping(GradientTransform):
    """Clip each unit's gradient so that ‖G_i‖ ≤ clip · max(‖W_i‖, eps), then step any optimizer.

    Idea: a gradient step is harmful when it is large relative to the weights it changes, so
    the threshold is relative and per output unit (row of a linear layer, output channel of a
    convolution) rather than one global norm; the direction of each unit is kept.
    Reference: Brock, De, Smith, Simonyan, "High-Performance Large-Scale Image Recognition
    Without Normalization" (NFNets), ICML 2021 (arXiv:2102.06171). The paper leaves the final
    classifier layer unclipped; this wrapper sees only parameters, so pass it the ones to clip.
    Costs: memory none; time two norms per tensor per step.
    """

    def __init__(self, base: Optimizer, clip: float = 0.01, eps: float = 1e-3) -> None:
        if clip <= 0:
            raise ValueError("clip must be positive")
        super().__init__(base, {"agc_clip": clip, "agc_eps": eps})
        self.clip, self.eps = clip, eps

    def transform(self, grad: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
        max_norm = unitwise_norm(param).clamp(min=self.eps) * self.clip
        grad_norm = unitwise_norm(grad)
        scale = (max_norm / grad_norm.clamp(min=1e-6)).clamp(max=1.0)
        return grad * scale


class GradientCentralization(GradientTransform):
    """Subtract from each weight gradient its mean over every unit's fan-in, then step.

    Idea: centring constrains the update to a hyperplane (zero-mean weight change per output
    unit), which regularizes the weights and smooths the loss landscape; vectors (biases,
    norms) are left untouched.
    Reference: Yong, Huang, Hua, Zhang, "Gradient Centralization: A New Optimization
    Technique for Deep Neural Networks", ECCV 2020 (arXiv:2004.01461).
    Costs: memory none; time one mean per weight tensor per step.
    """

    def transform(self, grad: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
        if grad.ndim <= 1:
            return grad
        return grad - grad.mean(dim=tuple(range(1, grad.ndim)), keepdim=True)


class StochasticWeightAveraging(OptimizerWrapper):
    """Average the weights visited late in training; the average replaces them at the end.

    Idea: SGD with a high or annealed learning rate circles a wide basin; the running mean of
    the iterates sits nearer its centre, which generalizes better. From step `start` the
    weights are averaged every `every` steps with `torch.optim.swa_utils.AveragedModel`;
    `swap_in()` copies the average into the live weights, and happens by itself after step
    `swap_at` when that is given (the last step of a run). Given the `model`, its buffers
    (batch-norm statistics) are averaged with the weights (AveragedModel's `use_buffers`), a
    data-free stand-in for recomputing them with `torch.optim.swa_utils.update_bn`; without
    it only the optimizer's parameters are averaged.
    Reference: Izmailov, Podoprikhin, Garipov, Vetrov, Wilson, "Averaging Weights Leads to
    Wider Optima and Better Generalization", UAI 2018 (arXiv:1803.05407).
    Costs: memory +P (the average); time one axpy per parameter per averaging step.
    """

    def __init__(
        self,
        base: Optimizer,
        start: int,
        every: int = 1,
        swap_at: int | None = None,
        model: nn.Module | None = None,
    ) -> None:
        if start < 0 or every < 1:
            raise ValueError("need start >= 0 and every >= 1")
        super().__init__(base, {})
        self.start, self.every, self.swap_at, self.steps = start, every, swap_at, 0
        params = [p for group in self.param_groups for p in group["params"]]
        self._source = nn.ParameterList(params) if model is None else model  # not copies
        self.average = AveragedModel(self._source, use_buffers=model is not None)

    def after_step(self) -> None:
        self.steps += 1
        if self.steps >= self.start and (self.steps - self.start) % self.every == 0:
            self.average.update_parameters(self._source)
        if self.steps == self.swap_at:
            self.swap_in()

    def state_dict(self) -> dict[str, Any]:
        swa = {"steps": self.steps, "average": self.average.state_dict()}
        return {**super().state_dict(), "swa": swa}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.steps = state_dict["swa"]["steps"]
        self.average.load_state_dict(state_dict["swa"]["average"])

    @property
    def averaged(self) -> int:
        """How many iterates the average holds."""
        return int(self.average.n_averaged.item())

    @torch.no_grad()
    def swap_in(self) -> bool:
        """Copy the averaged weights (and buffers) in; False if nothing was averaged yet."""
        if self.averaged == 0:
            return False
        for live, avg in zip(_tensors(self._source), _tensors(self.average.module), strict=True):
            live.copy_(avg)
        return True


def _tensors(module: nn.Module) -> list[torch.Tensor]:
    return [*module.parameters(), *module.buffers()]
