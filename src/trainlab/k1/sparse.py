"""Top-K sparse group updates with trust scores (the K-1 update rule).

Every `refresh_every` steps the updater computes all weight gradients, scores each group
      score_g = rms(grad_g) * trust_g * (1 + staleness_bonus * staleness_g)
(rms = gradient L2 norm / sqrt(numel), so big groups do not win by size) and selects the top
K = round(update_fraction * n_groups). Until the next refresh the other groups have
`requires_grad_(False)`: autograd skips their weight gradients (and the backward pass stops
at the earliest selected group). Each group has its own Adam; only selected groups call
`step()`, so unselected groups do not move at all, momentum included.

Trust: after each step the loss is compared with its running mean; every group updated in
the previous step gains `trust_lr` if the loss went down, loses it otherwise. Two mechanisms
keep one group from winning forever: trust decays back towards 1 each step (bounded to
[trust_min, trust_max]), and a group's staleness (refreshes since it was last selected)
raises its score without bound, so every group is eventually selected again.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from trainlab.k1.configs import SparseConfig


def top_k(scores: dict[str, float], k: int) -> list[str]:
    """Names of the k highest scores (ties broken by name order, deterministic)."""
    return sorted(sorted(scores), key=lambda n: -scores[n])[:k]


class SparseUpdater:
    """One Adam per parameter group; steps only the groups selected at the last refresh."""

    def __init__(self, groups: dict[str, nn.Module], cfg: SparseConfig) -> None:
        self.cfg = cfg
        self.params = {n: [p for p in m.parameters()] for n, m in groups.items()}
        self.names = list(self.params)
        self.sizes = {n: sum(p.numel() for p in ps) for n, ps in self.params.items()}
        self.optims = {n: torch.optim.Adam(ps, lr=cfg.lr) for n, ps in self.params.items()}
        self.k = max(1, min(len(self.names), round(cfg.update_fraction * len(self.names))))
        self.trust = dict.fromkeys(self.names, 1.0)
        self.staleness = dict.fromkeys(self.names, 0)
        self.selected = list(self.names)
        self.last_updated: list[str] = []
        self.last_scores: dict[str, float] = {}
        self.steps = 0
        self.loss_mean: float | None = None

    @property
    def dense(self) -> bool:
        return self.k == len(self.names)

    @property
    def total_params(self) -> int:
        return sum(self.sizes.values())

    def begin_step(self) -> None:
        """Before the forward pass: choose which groups get weight gradients."""
        full = self.dense or self.steps % self.cfg.refresh_every == 0
        active = set(self.names) if full else set(self.selected)
        for name, params in self.params.items():
            for p in params:
                p.requires_grad_(name in active)

    def scores(self, grad_scale: float = 1.0) -> dict[str, float]:
        out = {}
        for name, params in self.params.items():
            sq = sum(float(p.grad.float().pow(2).sum()) for p in params if p.grad is not None)
            rms = math.sqrt(sq / self.sizes[name]) / grad_scale
            rms = rms if math.isfinite(rms) else 0.0
            bonus = 1.0 + self.cfg.staleness_bonus * self.staleness[name]
            out[name] = rms * self.trust[name] * bonus
        return out

    def _refresh(self, grad_scale: float) -> None:
        self.last_scores = self.scores(grad_scale)
        self.selected = top_k(self.last_scores, self.k)
        for name in self.names:
            self.staleness[name] = 0 if name in self.selected else self.staleness[name] + 1

    def _credit(self, loss: float) -> None:
        """Reward the groups updated last step if the loss fell below its running mean."""
        if self.loss_mean is not None:
            reward = self.cfg.trust_lr if loss < self.loss_mean else -self.cfg.trust_lr
            for name in self.last_updated:
                self.trust[name] += reward
        for name in self.names:
            pulled = 1.0 + (self.trust[name] - 1.0) * (1.0 - self.cfg.trust_decay)
            self.trust[name] = min(self.cfg.trust_max, max(self.cfg.trust_min, pulled))
        beta = self.cfg.loss_ema
        self.loss_mean = (
            loss if self.loss_mean is None else beta * self.loss_mean + (1 - beta) * loss
        )

    def step(self, loss: float, scaler: torch.amp.GradScaler) -> list[str]:
        """After backward: credit trust, refresh the selection if due, step the selected."""
        self._credit(loss)
        if not self.dense and self.steps % self.cfg.refresh_every == 0:
            self._refresh(scaler.get_scale() if scaler.is_enabled() else 1.0)
        chosen = [self.optims[n] for n in self.selected]
        for opt in chosen:
            scaler.unscale_(opt)
        grads = [p for n in self.selected for p in self.params[n] if p.grad is not None]
        served = [n for n in self.selected if any(p.grad is not None for p in self.params[n])]
        nn.utils.clip_grad_norm_(grads, self.cfg.grad_clip)
        for opt in chosen:
            scaler.step(opt)
        scaler.update()
        for opt in self.optims.values():
            opt.zero_grad(set_to_none=True)
        # Only groups that received a gradient moved (a routed agent may have served no token).
        self.last_updated = served
        self.steps += 1
        return self.last_updated

    def add_group(self, name: str, module: nn.Module) -> None:
        """A new group (a grown agent): fresh Adam, neutral trust; it is updated (if it gets
        gradients) until the next refresh, so it gets a chance to earn its selection."""
        self.params[name] = list(module.parameters())
        self.names.append(name)
        self.sizes[name] = sum(p.numel() for p in self.params[name])
        self.optims[name] = torch.optim.Adam(self.params[name], lr=self.lr)
        self.trust[name] = 1.0
        self.staleness[name] = 0
        self.selected.append(name)
        self._resize()

    def remove_group(self, name: str) -> None:
        """Drop a group (a pruned or merged agent) with its Adam state and trust."""
        for store in (self.params, self.sizes, self.optims, self.trust, self.staleness):
            del store[name]
        self.names.remove(name)
        self.selected = [n for n in self.selected if n != name]
        self.last_updated = [n for n in self.last_updated if n != name]
        self._resize()

    def _resize(self) -> None:
        fraction = self.cfg.update_fraction
        self.k = max(1, min(len(self.names), round(fraction * len(self.names))))

    @property
    def lr(self) -> float:
        return (
            next(iter(self.optims.values())).param_groups[0]["lr"] if self.optims else self.cfg.lr
        )

    def set_lr(self, lr: float) -> None:
        for opt in self.optims.values():
            for group in opt.param_groups:
                group["lr"] = lr

    def updated_param_count(self) -> int:
        return sum(self.sizes[n] for n in self.last_updated)

    def state_dict(self) -> dict[str, Any]:
        return {
            "optims": {n: o.state_dict() for n, o in self.optims.items()},
            "trust": self.trust,
            "staleness": self.staleness,
            "selected": self.selected,
            "last_updated": self.last_updated,
            "steps": self.steps,
            "loss_mean": self.loss_mean,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, opt in self.optims.items():
            opt.load_state_dict(state["optims"][name])
        for key in ("trust", "staleness", "selected", "last_updated", "steps", "loss_mean"):
            setattr(self, key, state[key])
