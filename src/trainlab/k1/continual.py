"""One learner of the continual experiment: a model, its updater and its method's extras.

Methods (all with the same model init, batches, optimizer and step budget per seed):
  k1      top-K sparse group updates (sparse.py)
  dense   every group every step
  ewc     dense + online EWC penalty (Kirkpatrick et al. 2017; Fisher summed over domains)
  replay  dense + a small buffer of windows from earlier domains mixed into each batch
With `--structure on` (agents.py, controller.py), two more, on the routed-agent model:
  k1_agents     K-1 sparse updates on the agent model, fixed tree (phase 1 throughout)
  k1_structure  the same, plus structural steps between chunks (phase 2 from phase2_after)
Further methods, chosen by name in `--baselines` (baselines.py):
  moe           the agent model with every expert updated every step (static MoE)
  packnet       dense + PackNet (prune after each domain, freeze what each domain kept)
  progressive   a new column per domain with lateral adapters (Progressive Neural Networks)
  k1_replay     k1_structure plus the replay buffer of `replay`
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from trainlab.k1.agents import AgentLM
from trainlab.k1.baselines import PackNet, ProgressiveLM
from trainlab.k1.configs import (
    AGENT_METHODS,
    ALL_METHODS,
    CONTROLLED_METHODS,
    REPLAY_METHODS,
    SPARSE_METHODS,
    AgentConfig,
    LearnerConfig,
    ModelConfig,
    SparseConfig,
)
from trainlab.k1.controller import StructureController
from trainlab.k1.data import random_windows
from trainlab.k1.model import ModularLM
from trainlab.k1.sparse import SparseUpdater
from trainlab.training.device import (
    amp_dtype,
    atomic_torch_save,
    autocast,
    free_memory,
    grad_scaler,
    is_oom,
    peak_memory_mb,
    reset_peak_memory,
    synchronize,
)


class EWC:
    """Online EWC: penalty lambda/2 * sum F (theta - theta*)^2, anchored at the last domain."""

    def __init__(self, lam: float) -> None:
        self.lam = lam
        self.fisher: dict[str, torch.Tensor] = {}
        self.anchor: dict[str, torch.Tensor] = {}

    def penalty(self, model: ModularLM) -> torch.Tensor | None:
        if not self.fisher:
            return None
        terms = [
            (self.fisher[n] * (p - self.anchor[n]).pow(2)).sum()
            for n, p in model.named_parameters()
        ]
        return 0.5 * self.lam * torch.stack(terms).sum()

    def consolidate(self, model: ModularLM, batches: list[torch.Tensor]) -> None:
        """Add this domain's empirical (batch-gradient) diagonal Fisher; re-anchor."""
        model.train()
        model.requires_grad_(True)
        for batch in batches:
            model.zero_grad(set_to_none=True)
            model.loss(batch).backward()
            for n, p in model.named_parameters():
                sq = p.grad.detach().pow(2) / len(batches)
                self.fisher[n] = self.fisher[n] + sq if n in self.fisher else sq
        model.zero_grad(set_to_none=True)
        self.anchor = {n: p.detach().clone() for n, p in model.named_parameters()}

    def state_dict(self) -> dict[str, Any]:
        return {"fisher": self.fisher, "anchor": self.anchor}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fisher, self.anchor = state["fisher"], state["anchor"]


class Replay:
    """A small buffer of training windows from finished domains."""

    def __init__(self, per_domain: int, mix: float) -> None:
        self.per_domain = per_domain
        self.mix = mix
        self.windows: torch.Tensor | None = None

    def add(self, tokens: torch.Tensor, length: int, generator: torch.Generator) -> None:
        new = random_windows(tokens, self.per_domain, length, generator)
        self.windows = new if self.windows is None else torch.cat([self.windows, new])

    def mix_into(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        count = round(self.mix * len(batch))
        if self.windows is None or count == 0:
            return batch
        picks = torch.randint(0, len(self.windows), (count,), generator=generator)
        return torch.cat([self.windows[picks].to(batch.device), batch[count:]])

    def state_dict(self) -> dict[str, Any]:
        return {"windows": self.windows}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.windows = state["windows"]


@dataclass
class ChunkStats:
    losses: list[float] = field(default_factory=list)
    updates: dict[str, int] = field(default_factory=dict)
    updated_params: int = 0
    seconds: float = 0.0
    peak_memory_mb: float | None = None
    oom_events: list[dict[str, int]] = field(default_factory=list)


class Learner:
    """Model + updater + method extras; everything needed to resume lives in `save`."""

    def __init__(self, method: str, cfg: LearnerConfig, seed: int, device: torch.device) -> None:
        if method not in ALL_METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(ALL_METHODS)}")
        self.method, self.cfg, self.device = method, cfg, device
        torch.manual_seed(seed)
        self.model: ModularLM | AgentLM | ProgressiveLM
        if method in AGENT_METHODS:
            self.model = AgentLM(cfg.model, cfg.agents).to(device)
        elif method == "progressive":
            self.model = ProgressiveLM(cfg.model).to(device)
        else:
            self.model = ModularLM(cfg.model).to(device)
        self.controller = (
            StructureController(cfg.structure, cfg.sparse.lr)
            if method in CONTROLLED_METHODS
            else None
        )
        fraction = cfg.sparse.update_fraction if method in SPARSE_METHODS else 1.0
        sparse_cfg = SparseConfig(**{**cfg.sparse.__dict__, "update_fraction": fraction})
        self.updater = SparseUpdater(dict(self.model.groups.items()), sparse_cfg)
        self.ewc = EWC(cfg.ewc_lambda) if method == "ewc" else None
        self.replay = (
            Replay(cfg.replay_per_domain, cfg.replay_mix) if method in REPLAY_METHODS else None
        )
        self.packnet = PackNet(cfg.packnet_prune) if method == "packnet" else None
        self.generator = torch.Generator().manual_seed(seed)
        self.batch_size = cfg.batch_size
        self.dtype = amp_dtype(device, cfg.amp)
        self.scaler = grad_scaler(device, self.dtype)

    @property
    def window(self) -> int:
        return self.cfg.model.seq_len + 1

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return autocast(self.device, self.dtype)

    def _batch(self, tokens: torch.Tensor) -> torch.Tensor:
        batch = random_windows(tokens, self.batch_size, self.window, self.generator)
        if self.replay is not None:
            batch = self.replay.mix_into(batch, self.generator)
        return batch.to(self.device, non_blocking=True)

    def _step(self, tokens: torch.Tensor) -> tuple[float, list[str]]:
        self.model.train()
        self.updater.begin_step()
        batch = self._batch(tokens)
        with self.autocast():
            loss = self.model.loss(batch)
        task_loss = float(loss.detach())
        penalty = self.ewc.penalty(self.model) if self.ewc is not None else None
        if isinstance(self.model, AgentLM):
            penalty = self.model.training_aux()  # routing load balance
        total = loss if penalty is None else loss + penalty
        self.scaler.scale(total).backward()
        updated = self.updater.step(task_loss, self.scaler)
        if self.packnet is not None:
            self.packnet.after_step(self.model)
        return task_loss, updated

    def _step_with_oom_retry(self, tokens: torch.Tensor, stats: ChunkStats) -> float:
        """A CUDA OOM halves the batch (recorded) and retries the step; at batch 1 it raises."""
        while True:
            try:
                loss, updated = self._step(tokens)
                break
            except Exception as exc:
                if not is_oom(exc) or self.batch_size == 1:
                    raise
                for opt in self.updater.optims.values():
                    opt.zero_grad(set_to_none=True)
                free_memory(self.device)
                stats.oom_events.append({"step": self.updater.steps, "from": self.batch_size})
                self.batch_size //= 2
        for name in updated:
            stats.updates[name] = stats.updates.get(name, 0) + 1
        stats.updated_params += self.updater.updated_param_count()
        return loss

    def train(
        self, tokens: torch.Tensor, steps: int, on_step: Callable[[float], None] | None = None
    ) -> ChunkStats:
        stats = ChunkStats(updates=dict.fromkeys(self.updater.names, 0))
        reset_peak_memory(self.device)
        start = time.perf_counter()
        for _ in range(steps):
            stats.losses.append(self._step_with_oom_retry(tokens, stats))
            if on_step is not None:
                on_step(stats.losses[-1])
        if self.device.type == "cuda":
            synchronize(self.device)
            stats.peak_memory_mb = peak_memory_mb(self.device)
        stats.seconds = time.perf_counter() - start
        return stats

    @torch.no_grad()
    def evaluate(
        self, windows: torch.Tensor, batch_size: int = 32, task: int | None = None
    ) -> float:
        """Mean next-token loss (nats per byte) over fixed validation windows; `task` (the
        domain index) picks PackNet's weights or the progressive column for that domain."""
        self.model.eval()
        total = 0.0
        with self.task_view(task):
            for chunk in windows.split(batch_size):
                with self.autocast():
                    total += float(self.model.loss(chunk.to(self.device))) * len(chunk)
        return total / len(windows)

    @contextlib.contextmanager
    def task_view(self, task: int | None) -> Iterator[None]:
        if task is not None and self.packnet is not None:
            with self.packnet.view(self.model, task):
                yield
        elif task is not None and isinstance(self.model, ProgressiveLM):
            self.model.task = task
            try:
                yield
            finally:
                self.model.task = None
        else:
            yield

    def end_domain(self, tokens: torch.Tensor, more_domains: bool = True) -> None:
        """Consolidate what the finished domain taught (EWC Fisher, replay samples, PackNet
        ownership, a new progressive column when another domain follows)."""
        if self.packnet is not None:
            self.packnet.pack(self.model)
        if isinstance(self.model, ProgressiveLM) and more_domains:
            self.model.add_column()
            self.updater = SparseUpdater(dict(self.model.groups.items()), self.updater.cfg)
        if self.ewc is not None:
            batches = [
                random_windows(tokens, self.batch_size, self.window, self.generator).to(self.device)
                for _ in range(self.cfg.ewc_batches)
            ]
            self.ewc.consolidate(self.model, batches)
        if self.replay is not None:
            self.replay.add(tokens, self.window, self.generator)

    def save(self, path: Path) -> None:
        state = {
            "method": self.method,
            "model_config": self.cfg.model.to_dict(),
            "model": self.model.state_dict(),
            "updater": self.updater.state_dict(),
            "ewc": self.ewc.state_dict() if self.ewc else None,
            "replay": self.replay.state_dict() if self.replay else None,
            "packnet": self.packnet.state_dict() if self.packnet else None,
            "generator": self.generator.get_state(),
            "batch_size": self.batch_size,
            "scaler": self.scaler.state_dict(),
        }
        if isinstance(self.model, AgentLM):
            state["structure"] = self.model.structure()
        if isinstance(self.model, ProgressiveLM):
            state["columns"] = len(self.model.columns)
        if self.controller is not None:
            state["controller"] = self.controller.state_dict()
        atomic_torch_save(state, path)

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=False)
        if isinstance(self.model, AgentLM):  # rebuild the saved tree, then its optimizers
            self.model.apply_structure(state["structure"])
            self.updater = SparseUpdater(dict(self.model.groups.items()), self.updater.cfg)
        if isinstance(self.model, ProgressiveLM):
            while len(self.model.columns) < state["columns"]:
                self.model.add_column()
            self.updater = SparseUpdater(dict(self.model.groups.items()), self.updater.cfg)
        self.model.load_state_dict(state["model"])
        self.updater.load_state_dict(state["updater"])
        if self.packnet is not None:
            self.packnet.load_state_dict(state["packnet"])
        if self.controller is not None:
            self.controller.load_state_dict(state["controller"])
        if self.ewc is not None:
            self.ewc.load_state_dict(state["ewc"])
        if self.replay is not None:
            self.replay.load_state_dict(state["replay"])
        self.generator.set_state(state["generator"])
        self.batch_size = state["batch_size"]
        self.scaler.load_state_dict(state["scaler"])


def save_model(
    path: Path, model: ModularLM | AgentLM | ProgressiveLM, trust: dict[str, float] | None = None
) -> None:
    """Weights and config (and the agent tree, and the groups' trust for `k1 explain`): what
    `k1 generate` needs."""
    state: dict[str, Any] = {"model_config": model.cfg.to_dict(), "model": model.state_dict()}
    state["trust"] = trust or {}
    if isinstance(model, AgentLM):
        state["agents"], state["structure"] = model.acfg.to_dict(), model.structure()
    if isinstance(model, ProgressiveLM):
        state["columns"] = len(model.columns)
    atomic_torch_save(state, path)


def load_model(path: Path, device: torch.device) -> ModularLM | AgentLM | ProgressiveLM:
    state = torch.load(path, map_location=device, weights_only=False)
    cfg = ModelConfig(**state["model_config"])
    model: ModularLM | AgentLM | ProgressiveLM
    if "structure" in state:
        model = AgentLM(cfg, AgentConfig(**state["agents"])).to(device)
        model.apply_structure(state["structure"])
    elif "columns" in state:
        model = ProgressiveLM(cfg).to(device)
        while len(model.columns) < state["columns"]:
            model.add_column()
    else:
        model = ModularLM(cfg).to(device)
    model.load_state_dict(state["model"])
    return model
