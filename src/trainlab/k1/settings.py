"""K-1 run settings: one typed object, written to the run folder and read back on resume."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainlab.k1.configs import (
    AGENT_METHODS,
    BASELINE_CHOICES,
    BASELINES,
    DOMAINS,
    STRUCTURE_METHODS,
    AgentConfig,
    LearnerConfig,
    ModelConfig,
    SparseConfig,
    StructureConfig,
)


class K1Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    domains: tuple[str, ...] = Field(
        DOMAINS, description="training order, comma-separated", json_schema_extra={"names": DOMAINS}
    )
    source: Literal["embedded", "hf"] = Field(
        "embedded", description="embedded: offline text from Python/NumPy/SciPy; hf: WikiText-2, "
        "CodeParrot, arXiv via HF datasets",
    )  # fmt: skip
    steps_per_domain: int = Field(200, ge=1, description="training steps on each domain")
    chunk_steps: int = Field(50, ge=1, description="steps between graph checkpoints")
    update_fraction: float = Field(
        SparseConfig.update_fraction,
        gt=0.0,
        le=1.0,
        description="share of groups K-1 updates, in (0, 1]",
    )
    refresh_every: int = Field(
        SparseConfig.refresh_every, ge=1, description="steps between group selections"
    )
    baselines: tuple[str, ...] = Field(
        BASELINES, description=f"comma-separated from {', '.join(BASELINE_CHOICES)}; empty for "
        "none", json_schema_extra={"names": BASELINE_CHOICES},
    )  # fmt: skip
    seeds: int = Field(3, ge=1, description="seeds per method")
    first_seed: int = Field(0, description="seeds are first_seed … first_seed+seeds−1")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    threads: int = Field(
        1, ge=0, description="CPU threads for torch; 1 suits the small model and shared "
        "machines; 0 = torch default",
    )  # fmt: skip
    amp: bool = Field(True, description="bf16/fp16 autocast on CUDA")
    batch_size: int = Field(16, ge=1, description="sequences per step")
    lr: float = Field(SparseConfig.lr, gt=0.0, description="learning rate")
    d_model: int = Field(64, ge=8, description="model width")
    n_layers: int = Field(4, ge=1, description="transformer layers")
    n_heads: int = Field(4, ge=1, description="attention heads")
    seq_len: int = Field(128, ge=8, description="tokens (bytes) per window")
    positions: Literal["learned", "rope"] = Field(
        "learned", description="position encoding: learned embeddings or rotary (RoPE)"
    )
    max_train_bytes: int = Field(400_000, ge=1_000, description="training text per domain")
    max_val_bytes: int = Field(32_000, ge=1_000, description="validation text per domain")
    eval_windows: int = Field(48, ge=1, description="validation windows per evaluation")
    ewc_lambda: float = Field(1000.0, ge=0.0, description="EWC penalty weight")
    replay_per_domain: int = Field(64, ge=1, description="replay: windows kept per domain")
    replay_mix: float = Field(
        0.25, ge=0.0, le=1.0, description="replay: share of each batch from old domains"
    )
    output_dir: Path = Field(Path("runs"), description="run folders are created here")
    # --structure on: agent model (agents.py) and structural steps (controller.py, operations.py)
    structure: bool = Field(
        False, description="on: add k1_agents and k1_structure (routed agents; grow / prune / "
        "merge / reorganize with rollback) to the comparison",
        json_schema_extra={"flag_choices": {"on": True, "off": False}},
    )  # fmt: skip
    managers: int = Field(4, ge=1, description="k1_agents: manager routers per layer")
    agents_per_manager: int = Field(2, ge=1, description="k1_agents: experts per manager")
    top_managers: int = Field(2, ge=1, description="k1_agents: managers each token uses")
    phase2_after: int = Field(150, ge=0, description="k1_structure: steps before phase 2")
    structure_tolerance: float = Field(
        0.01, ge=0.0, description="k1_structure: loss increase a change may cost"
    )
    match_params: bool = Field(
        False,
        description="size every method to the routed-agent model's parameter count "
        "(dense-style models widened, progressive columns narrowed); needs 2+ methods",
    )

    @field_validator("domains")
    @classmethod
    def _known_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [d for d in value if d not in DOMAINS]
        if unknown or not value or len(set(value)) != len(value):
            raise ValueError(
                f"domains must be distinct names from {', '.join(DOMAINS)}; got {','.join(value)}"
            )
        return value

    @field_validator("baselines")
    @classmethod
    def _known_baselines(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [b for b in value if b not in BASELINE_CHOICES]
        if unknown:
            known = ", ".join(BASELINE_CHOICES)
            raise ValueError(f"unknown baseline {unknown[0]!r}; choose from {known}")
        return value

    @model_validator(mode="after")
    def _match_needs_a_comparison(self) -> K1Settings:
        if self.match_params and len(self.methods) < 2:
            raise ValueError("--match-params compares methods: add --baselines or --structure on")
        return self

    @property
    def methods(self) -> list[str]:
        return ["k1", *(STRUCTURE_METHODS if self.structure else ()), *self.baselines]

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def learner_config(self, method: str | None = None) -> LearnerConfig:
        """The learner of `method`; with `match_params`, its model sized to the agent
        model's parameter count (matching.py)."""
        config = self._base_learner_config()
        if not self.match_params or method is None or method in AGENT_METHODS:
            return config
        from trainlab.k1.matching import agent_count, progressive_sized, widened  # torch

        target = agent_count(config.model, config.agents)
        if method == "progressive":
            model = progressive_sized(config.model, target, len(self.domains))
        else:
            model = widened(config.model, target)
        return replace(config, model=model)

    def _base_learner_config(self) -> LearnerConfig:
        model = ModelConfig(
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            d_ff=4 * self.d_model,
            seq_len=self.seq_len,
            positions=self.positions,
        )
        sparse = SparseConfig(
            update_fraction=self.update_fraction, refresh_every=self.refresh_every, lr=self.lr
        )
        return LearnerConfig(
            model=model,
            sparse=sparse,
            batch_size=self.batch_size,
            ewc_lambda=self.ewc_lambda,
            replay_per_domain=self.replay_per_domain,
            replay_mix=self.replay_mix,
            amp=self.amp,
            agents=AgentConfig(
                managers=self.managers,
                agents_per_manager=self.agents_per_manager,
                # per token top_managers x agents_per_manager agents: as many hidden units
                # as the dense model's feed-forward block (4 d_model)
                agent_hidden=max(
                    1, 4 * self.d_model // (self.top_managers * self.agents_per_manager)
                ),
                top_managers=self.top_managers,
            ),
            structure=StructureConfig(
                phase2_after=self.phase2_after, tolerance=self.structure_tolerance
            ),
        )
