"""Two continual-learning baselines from the seed: PackNet and Progressive Neural Networks.

PackNet (Mallya & Lazebnik 2018) on `ModularLM`: after each domain, of the weights still
free, the `prune` fraction with the smallest magnitude is zeroed and stays free; the rest is
owned by that domain and frozen for good (restored bit for bit after every optimizer step, so
Adam's momentum cannot move it). 1-D parameters (biases, norms) belong to the first domain,
as in the paper. Evaluating domain d uses only the weights owned by domains <= d (plus the
free ones while d is the domain being trained): the task identity is known, as PackNet needs.

Progressive networks (Rusu et al. 2016): one `ModularLM`-shaped column per domain. Column k
adds, after every layer, a lateral adapter per earlier column (a linear map of that column's
residual stream at the same layer). Earlier columns are frozen (not in the updater, no
gradient); domain d is evaluated with its own column.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from trainlab.k1.model import ModelConfig, ModularLM, _init_weights

FREE = -1


class PackNet:
    """Per-element weight ownership by domain; frozen weights restored after each step."""

    def __init__(self, prune: float) -> None:
        self.prune = prune
        self.owner: dict[str, torch.Tensor] = {}  # param name -> domain index or FREE
        self.frozen: dict[str, torch.Tensor] = {}  # param name -> values of owned weights
        self.finished = 0  # domains packed so far

    def after_step(self, model: nn.Module) -> None:
        """Put the owned weights back exactly as they were packed."""
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name in self.owner:
                    owned = self.owner[name] != FREE
                    p.copy_(torch.where(owned, self.frozen[name], p))

    @torch.no_grad()
    def pack(self, model: nn.Module) -> None:
        """End of a domain: keep the largest free weights for it, zero (free) the rest."""
        for name, p in model.named_parameters():
            owner = self.owner.get(name, torch.full_like(p, FREE, dtype=torch.int64))
            free = owner == FREE
            if p.dim() < 2:
                owner = torch.where(free, torch.full_like(owner, 0), owner)
            elif int(free.sum()) > 0:
                magnitude = p.abs()[free]
                cut = int(self.prune * magnitude.numel())
                threshold = magnitude.kthvalue(cut).values if cut > 0 else magnitude.min() - 1
                keep = free & (p.abs() > threshold)
                owner = torch.where(keep, torch.full_like(owner, self.finished), owner)
                p.masked_fill_(free & ~keep, 0.0)
            self.owner[name] = owner
            self.frozen[name] = p.detach().clone()
        self.finished += 1

    @contextmanager
    def view(self, model: nn.Module, task: int) -> Iterator[None]:
        """Weights of domains <= task only (the free ones too while `task` is in training)."""
        saved = {n: p.detach().clone() for n, p in model.named_parameters() if n in self.owner}
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name in self.owner:
                    owner = self.owner[name]
                    used = (owner != FREE) & (owner <= task)
                    if task >= self.finished:
                        used |= owner == FREE
                    p.mul_(used)
        try:
            yield
        finally:
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if name in saved:
                        p.copy_(saved[name])

    def state_dict(self) -> dict[str, Any]:
        return {"owner": self.owner, "frozen": self.frozen, "finished": self.finished}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.owner, self.frozen, self.finished = state["owner"], state["frozen"], state["finished"]


class ProgressiveLM(nn.Module):
    """Columns of `ModularLM` with lateral adapters; `task` picks the column that answers."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.columns = nn.ModuleList()
        self.laterals = nn.ModuleList()  # column k: ModuleList over layers of ModuleList(k)
        self.task: int | None = None  # None: the newest column
        self.add_column()

    def add_column(self) -> None:
        k = len(self.columns)
        for column in self.columns:
            column.requires_grad_(False)
        for lateral in self.laterals:
            lateral.requires_grad_(False)
        column = ModularLM(self.cfg)
        device = next(self.parameters()).device if k else None
        self.columns.append(column.to(device) if device is not None else column)
        adapters = nn.ModuleList(
            nn.ModuleList(nn.Linear(self.cfg.d_model, self.cfg.d_model) for _ in range(k))
            for _ in range(self.cfg.n_layers)
        )
        adapters.apply(_init_weights)
        self.laterals.append(adapters.to(device) if device is not None else adapters)

    @property
    def groups(self) -> nn.ModuleDict:
        """The trainable groups: the newest column's groups and its lateral adapters."""
        k = len(self.columns) - 1
        out = nn.ModuleDict({f"c{k}_{n}": m for n, m in self.columns[k].groups.items()})
        if k:
            out["laterals"] = self.laterals[k]
        return out

    def param_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        last = len(self.columns) - 1
        top = last if self.task is None else min(self.task, last)
        streams = [col.groups["embed"](idx) for col in self.columns[: top + 1]]
        for i in range(self.cfg.n_layers):
            before = list(streams)
            for k, col in enumerate(self.columns[: top + 1]):
                x = streams[k] + col.groups[f"attn_{i}"](streams[k])
                x = x + col.groups[f"ffn_{i}"](x)
                for j, adapter in enumerate(self.laterals[k][i]):
                    x = x + adapter(before[j])
                streams[k] = x
        return self.columns[top].groups["head"](streams[top])

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        return ModularLM.loss(self, batch)  # type: ignore[arg-type]
