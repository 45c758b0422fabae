"""`--match-params`: every method sized to the routed-agent model's parameter count.

The target is the agent model's count at the start (k1_agents, moe and k1_structure start
there; structure then moves it). Models built from `ModularLM` are widened in their
feed-forward width (`d_ff`); progressive columns are narrowed in `d_model` (a multiple of the
head count) and their `d_ff` solved so that all of its final columns and laterals fit. The
report states each method's final count against k1_structure's final count (goal: ± 5 %).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import torch

from trainlab.k1.agents import AgentConfig, AgentLM
from trainlab.k1.baselines import ProgressiveLM
from trainlab.k1.model import ModelConfig, ModularLM


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@lru_cache(maxsize=32)
def agent_count(cfg: ModelConfig, acfg: AgentConfig) -> int:
    with torch.device("meta"):
        return _count(AgentLM(cfg, acfg))


def dense_count(cfg: ModelConfig) -> int:
    with torch.device("meta"):
        return _count(ModularLM(cfg))


def progressive_count(cfg: ModelConfig, columns: int) -> int:
    with torch.device("meta"):
        model = ProgressiveLM(cfg)
        for _ in range(columns - 1):
            model.add_column()
        return _count(model)


@lru_cache(maxsize=32)
def widened(cfg: ModelConfig, target: int) -> ModelConfig:
    """`cfg` with the feed-forward width whose `ModularLM` count is closest to `target`
    (the count is linear in d_ff)."""
    one, two = dense_count(replace(cfg, d_ff=1)), dense_count(replace(cfg, d_ff=2))
    d_ff = max(1, round(1 + (target - one) / (two - one)))
    return replace(cfg, d_ff=d_ff)


@lru_cache(maxsize=32)
def progressive_sized(cfg: ModelConfig, target: int, columns: int) -> ModelConfig:
    """The widest column (d_model a multiple of n_heads) whose feed-forward width can still
    be at least d_model, with d_ff then solved (linearly) to meet `target`."""
    best = replace(cfg, d_model=cfg.n_heads, d_ff=1)
    for width in range(cfg.n_heads, 4 * cfg.d_model + 1, cfg.n_heads):
        one = progressive_count(replace(cfg, d_model=width, d_ff=1), columns)
        two = progressive_count(replace(cfg, d_model=width, d_ff=2), columns)
        d_ff = round(1 + (target - one) / (two - one))
        if d_ff < width:
            break
        best = replace(cfg, d_model=width, d_ff=d_ff)
    return best
