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


def _params_with_grad(optimizer: Optimizer) -> Iterable[torch.Tensor]:
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                yield p


class OptimizerWrapper(Optimizer):
    """An optimizer that delegates the update to `base` and adds behaviour around it."""

    def __init__(self, base: Optimizer, defaults: dict[str, Any]) -> None:
        self.base = base
        super().__init__(base.param_groups, defaults)  # shares the group dicts with `base`

    @torch.no_grad()
    def step(self, closure: Closure = None) -> Any:
        self.before_step()
        loss = self.base.step(closure)
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


class SecondOrderMomentum(Optimizer):
    """Diagonal quasi-Newton momentum: step = momentum / |diagonal curvature estimate|.

    Idea: keep a diagonal Hessian estimate B that satisfies the weak secant condition
    dᵀB d = −dᵀy along the last update direction d, where y is this step's change of the
    gradient momentum m; the step m / max(|B|, ‖g − m‖∞) is then roughly a Newton step, long
    along flat directions and short along sharp ones. The floor ‖g − m‖∞ ("belief" rebound)
    keeps early steps, before B has been learned, no larger than a sign-like step. No
    Hessian-vector products are needed, so it runs in any ordinary training loop; a linear
    warm-up of `warmup` steps lets B settle before full steps.
    Reference: Ma, "Apollo: An Adaptive Parameter-wise Diagonal Quasi-Newton Method for
    Nonconvex Stochastic Optimization", arXiv:2009.13586 (2020).
    Costs: memory 3P (momentum, curvature, last direction) vs AdamW's 2P; time about AdamW's
    (a few extra element-wise ops and three reductions per tensor).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        beta: float = 0.9,
        warmup: int = 100,
        weight_decay: float = 0.0,
        eps: float = 1e-4,
    ) -> None:
        if lr <= 0 or not 0.0 <= beta < 1.0 or warmup < 0:
            raise ValueError("need lr > 0, 0 <= beta < 1 and warmup >= 0")
        defaults = {
            "lr": lr,
            "beta": beta,
            "warmup": warmup,
            "weight_decay": weight_decay,
            "eps": eps,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Closure = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)
        return loss

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["momentum"] = torch.zeros_like(p)
            state["curvature"] = torch.zeros_like(p)
            state["direction"] = torch.zeros_like(p)
        state["step"] += 1
        m, curvature, d = state["momentum"], state["curvature"], state["direction"]
        beta, step, eps = group["beta"], state["step"], group["eps"]
        surprise = p.grad - m
        floor = surprise.abs().max().clamp(min=eps)
        y = surprise.mul_((1 - beta) / (1 - beta**step))  # bias-corrected change of m
        m.add_(y)
        secant_update(curvature, d, y, eps)
        d.copy_(m / torch.maximum(curvature.abs(), floor))
        if group["weight_decay"]:
            d.add_(p, alpha=group["weight_decay"])
        warm = min(1.0, step / group["warmup"]) if group["warmup"] else 1.0
        p.add_(d, alpha=-group["lr"] * warm)


def secant_update(curvature: torch.Tensor, d: torch.Tensor, y: torch.Tensor, eps: float) -> None:
    """Smallest diagonal change B += c·d² (Frobenius, scaled by ‖d‖₄) with dᵀBd = −dᵀy."""
    d_norm = d.norm(p=4).add_(eps)
    v = (d / d_norm).square_()
    c = -(y * d).sum() / d_norm.square() - (curvature * v).sum()
    curvature.add_(v * c)


class LAMB(Optimizer):
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

    @torch.no_grad()
    def step(self, closure: Closure = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)
        return loss

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        state = self.state[p]
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
        p.add_(r, alpha=-group["lr"] * trust_ratio(p, r))


def trust_ratio(weight: torch.Tensor, update: torch.Tensor) -> float:
    """LAMB's ‖w‖ / ‖r‖, or 1 when either norm is zero (fresh zero-initialised tensors)."""
    w_norm, r_norm = weight.norm().item(), update.norm().item()
    return w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0


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

    def before_step(self) -> None:
        for p in _params_with_grad(self):
            p.grad.copy_(self.transform(p.grad, p))

    def transform(self, grad: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def unitwise_norm(x: torch.Tensor) -> torch.Tensor:
    """Norm per output unit (all dims but the first); a vector or scalar counts as one unit."""
    if x.ndim <= 1:
        return x.norm().reshape([1] * x.ndim)
    return x.norm(dim=tuple(range(1, x.ndim)), keepdim=True)


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
    `swap_in()` copies the average into the live parameters, and happens by itself after
    step `swap_at` when that is given (the last step of a run). Batch-norm statistics are
    not recomputed here: call `torch.optim.swa_utils.update_bn` when the data loop is at hand.
    Reference: Izmailov, Podoprikhin, Garipov, Vetrov, Wilson, "Averaging Weights Leads to
    Wider Optima and Better Generalization", UAI 2018 (arXiv:1803.05407).
    Costs: memory +P (the average); time one axpy per parameter per averaging step.
    """

    def __init__(
        self, base: Optimizer, start: int, every: int = 1, swap_at: int | None = None
    ) -> None:
        if start < 0 or every < 1:
            raise ValueError("need start >= 0 and every >= 1")
        super().__init__(base, {})
        self.start, self.every, self.swap_at, self.steps = start, every, swap_at, 0
        live = [p for group in self.param_groups for p in group["params"]]
        self._live = nn.ParameterList(live)  # the same tensors, not copies
        self.average = AveragedModel(self._live)

    def after_step(self) -> None:
        self.steps += 1
        if self.steps >= self.start and (self.steps - self.start) % self.every == 0:
            self.average.update_parameters(self._live)
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
        """Copy the averaged weights into the live parameters; False if nothing was averaged."""
        if self.averaged == 0:
            return False
        for live, avg in zip(self._live, self.average.module, strict=True):
            live.copy_(avg)
        return True


__all__ = [
    "LAMB",
    "AdaptiveGradientClipping",
    "GradientCentralization",
    "LookAhead",
    "OptimizerWrapper",
    "SecondOrderMomentum",
    "StochasticWeightAveraging",
]
