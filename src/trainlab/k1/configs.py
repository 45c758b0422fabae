"""K-1's configuration records and method names, free of torch: the settings and `k1 --help`
import them without loading the models (the modules that use them import them from here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DOMAINS: tuple[str, ...] = ("prose", "code", "science")

METHODS: tuple[str, ...] = ("k1", "dense", "ewc", "replay")
BASELINES: tuple[str, ...] = METHODS[1:]  # the default comparison
EXTRA_METHODS: tuple[str, ...] = ("moe", "packnet", "progressive", "k1_replay")
BASELINE_CHOICES: tuple[str, ...] = (*BASELINES, *EXTRA_METHODS)
STRUCTURE_METHODS: tuple[str, ...] = ("k1_structure", "k1_agents")
AGENT_METHODS: tuple[str, ...] = (*STRUCTURE_METHODS, "moe", "k1_replay")  # the AgentLM
CONTROLLED_METHODS: tuple[str, ...] = ("k1_structure", "k1_replay")  # structural steps
SPARSE_METHODS: tuple[str, ...] = ("k1", *STRUCTURE_METHODS, "k1_replay")
REPLAY_METHODS: tuple[str, ...] = ("replay", "k1_replay")
ALL_METHODS: tuple[str, ...] = ("k1", *STRUCTURE_METHODS, *BASELINE_CHOICES)


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 256
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 512
    seq_len: int = 128
    positions: str = "learned"  # or "rope"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SparseConfig:
    update_fraction: float = 0.5
    refresh_every: int = 10
    lr: float = 2e-3
    grad_clip: float = 1.0
    trust_lr: float = 0.05
    trust_decay: float = 0.02
    trust_min: float = 0.25
    trust_max: float = 4.0
    staleness_bonus: float = 0.25
    loss_ema: float = 0.9


@dataclass(frozen=True)
class AgentConfig:
    managers: int = 4  # per layer
    agents_per_manager: int = 2  # at start
    agent_hidden: int = 64  # hidden units of one agent
    top_managers: int = 2  # managers each token is routed to
    aux_weight: float = 0.01  # load-balancing loss weight

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StructureConfig:
    phase2_after: int = 150  # steps of phase 1 (fixed structure)
    tolerance: float = 0.01  # relative held-out loss rise that triggers a rollback
    grow_plateau: float = 0.02  # grow when the current domain improved less than this
    max_agents_per_manager: int = 4
    prune_usage: float = 0.15  # share of the manager's gate mass below which an agent idles
    prune_trust: float = 0.4
    dormant_steps: int = 100
    merge_similarity: float = 0.9
    reorganize_margin: float = 0.2
    patience: int = 3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LearnerConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    sparse: SparseConfig = field(default_factory=SparseConfig)
    batch_size: int = 16
    ewc_lambda: float = 1000.0
    ewc_batches: int = 8
    replay_per_domain: int = 64
    replay_mix: float = 0.25
    packnet_prune: float = 0.5
    amp: bool = True
    agents: AgentConfig = field(default_factory=AgentConfig)
    structure: StructureConfig = field(default_factory=StructureConfig)
