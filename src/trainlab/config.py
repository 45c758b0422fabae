"""Settings: one typed object per job, built from CLI flags over environment defaults.

Secrets (API keys) are never part of these objects: they are read from the environment at the
moment a client is built, so dumping settings to config.json can never leak one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DatasetName = Literal["cifar10", "digits", "synthetic"]
ROLES: tuple[str, ...] = ("gen_a", "gen_b", "supervisor", "exec", "researcher")
DEFAULT_MODELS: dict[str, str] = {
    "gen_a": "gemini-2.5-flash",
    "gen_b": "gemini-2.5-flash",
    "supervisor": "gemini-2.5-pro",
    "exec": "gemini-2.5-flash",
    "researcher": "gemini-2.5-flash",
}


def default_data_dir() -> Path:
    """Where datasets are downloaded once and reused (never per trial)."""
    return Path.home() / ".cache" / "trainlab" / "data"


class TrainSettings(BaseModel):
    """How one trial is trained; the hyperparameters themselves live in space.HParams."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(20, ge=1)
    patience: int = Field(8, ge=1)
    scheduler: Literal["none", "cosine", "onecycle"] = "cosine"
    augment: Literal["none", "basic", "strong"] = "basic"
    amp: bool = True
    device: str = "auto"
    seed: int = 1337
    save_checkpoints: bool = True
    num_workers: int = Field(4, ge=0)
    model_width: int = Field(64, ge=4)


class DataSettings(BaseModel):
    """Which data a job trains on and how it is split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: DatasetName = "cifar10"
    data_dir: Path = Field(default_factory=default_data_dir)
    val_split: float = Field(0.0, ge=0.0, lt=1.0)


class LabSettings(BaseModel):
    """Everything the HPO lab needs for one run (written to config.json)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rounds: int = Field(10, ge=1)
    consult_turns: int = Field(2, ge=1)
    stagnation_rounds: int = Field(3, ge=0)  # rounds without a new best → a proposal; 0: never
    output_dir: Path = Path("runs")
    anonymize: bool = True
    offline: bool = False
    search_provider: Literal["gemini", "cse", "offline"] = "gemini"
    models: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MODELS))
    draw_graph: bool = False
    train: TrainSettings = Field(default_factory=TrainSettings)
    data: DataSettings = Field(default_factory=DataSettings)
