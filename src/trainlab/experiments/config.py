"""What an experiment compares and under which budget: one typed, JSON-serializable object."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from trainlab.components import registry
from trainlab.config import DatasetName, DataSettings, TrainSettings, default_data_dir
from trainlab.space import BATCH_SIZES, NUMERIC_BOUNDS, HParams

PLAIN = "plain_mlp"
DATA_FIELDS, TRAIN_FIELDS = DataSettings.model_fields, TrainSettings.model_fields


class ArmSpec(BaseModel):
    """One side of a comparison: a network, an optimizer and a loss, by registry name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    optimizer: str
    loss: str
    match_parameters: int | None = None  # plain_mlp: the parameter count to match

    @property
    def label(self) -> str:
        model = (
            self.model
            if self.match_parameters is None
            else f"{self.model}[{self.match_parameters}p]"
        )
        return f"{model} / {self.optimizer} / {self.loss}"


class ExperimentConfig(BaseModel):
    """A component (optimizer, loss or architecture) against its baseline over several seeds.

    The baseline swaps each component for what the registry measures it against: the
    optimizer for `base_optimizer`, the loss for its baseline loss, an architecture for a
    plain MLP with the same parameter count. Every arm trains the full `epochs` (no early
    stopping) with the trainer's cosine schedule and is scored on its final weights; seeds
    are first_seed … first_seed+seeds−1 and each seed is shared by both arms (same split,
    same initial RNG state).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(
        "resnet9", description="an architecture is measured against a plain MLP of equal size"
    )
    optimizer: str = Field("adamw", description="the optimizer to measure (registry name)")
    loss: str = Field("cross_entropy", description="the loss to measure (registry name)")
    base_optimizer: str = Field(
        "adamw", description="the baseline optimizer, and the one wrappers wrap"
    )
    dataset: DatasetName = Field("digits", description=DATA_FIELDS["dataset"].description)
    data_dir: Path = Field(
        default_factory=default_data_dir, description=DATA_FIELDS["data_dir"].description
    )
    val_split: float = Field(0.2, ge=0.0, lt=1.0, description="fraction of train held out")
    epochs: int = Field(8, ge=1, description="epochs per arm and seed (no early stopping)")
    seeds: int = Field(5, ge=2, description="paired seeds, ≥ 2")
    first_seed: int = Field(0, ge=0, description="seeds are first_seed … first_seed+seeds−1")
    width: int = Field(16, ge=4, description="ResNet-9 width; blocks use 4×")
    batch_size: int = Field(64, description="training batch size")
    learning_rate: float | None = Field(
        None, description="one rate for every arm (None: each optimizer's own)",
        json_schema_extra={"flag": "--lr"},
    )  # fmt: skip
    weight_decay: float = Field(5e-4, description="weight decay of every arm")
    augment: Literal["none", "basic", "strong"] = Field(
        "none", description=TRAIN_FIELDS["augment"].description
    )
    device: str = Field("auto", description=TRAIN_FIELDS["device"].description)
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="significance level")

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, value: int) -> int:
        if value not in BATCH_SIZES:
            raise ValueError(f"batch_size must be one of {list(BATCH_SIZES)}, got {value}")
        return value

    @field_validator("learning_rate", "weight_decay")
    @classmethod
    def _in_space(cls, value: float | None, info: ValidationInfo) -> float | None:
        low, high = NUMERIC_BOUNDS[info.field_name]
        if value is not None and not low <= value <= high:
            raise ValueError(f"must be in [{low:g}, {high:g}], got {value:g}")
        return value

    @model_validator(mode="after")
    def _components(self) -> ExperimentConfig:
        registry.get(self.model, "architecture")
        registry.get(self.optimizer, "optimizer")
        registry.get(self.loss, "loss")
        if registry.get(self.base_optimizer, "optimizer").baseline is not None:
            raise ValueError(
                f"base_optimizer must be a plain optimizer, not {self.base_optimizer!r}"
            )
        if self.model == PLAIN:
            raise ValueError(f"{PLAIN} is the architectures' baseline, not a candidate")
        if self.candidate == self.baseline:
            raise ValueError("nothing to compare: choose an optimizer, a loss or a model to test")
        return self

    @property
    def candidate(self) -> ArmSpec:
        return ArmSpec(model=self.model, optimizer=self.optimizer, loss=self.loss)

    @property
    def baseline(self) -> ArmSpec:
        return ArmSpec(
            model=registry.get(self.model).baseline or self.model,
            optimizer=self.base_optimizer,
            loss=registry.get(self.loss).baseline or self.loss,
        )

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    @property
    def name(self) -> str:
        """What is being tested, e.g. "lookahead+focal" (the non-baseline components)."""
        base = self.baseline
        pairs = ((self.model, base.model), (self.optimizer, base.optimizer), (self.loss, base.loss))
        return "+".join(mine for mine, theirs in pairs if mine != theirs)

    def learning_rate_for(self, arm: ArmSpec) -> float:
        """The config's rate, else the arm optimizer's registry default, else its base's."""
        for rate in (
            self.learning_rate,
            registry.get(arm.optimizer).lr,
            registry.get(self.base_optimizer).lr,
        ):
            if rate is not None:
                return rate
        raise ValueError(f"no learning rate for {arm.optimizer}")

    def hparams(self, arm: ArmSpec) -> HParams:
        return HParams(
            optimizer="adam",  # unused: the experiment always supplies the optimizer
            learning_rate=self.learning_rate_for(arm),
            train_batch_size=self.batch_size,
            weight_decay=self.weight_decay,
            label_smoothing=0.0,
        )

    def train_settings(self, seed: int) -> TrainSettings:
        return TrainSettings(
            epochs=self.epochs,
            patience=self.epochs,
            scheduler="cosine",
            augment=self.augment,
            device=self.device,
            seed=seed,
            save_checkpoints=False,
            model_width=self.width,
        )

    def data_settings(self) -> DataSettings:
        return DataSettings(dataset=self.dataset, data_dir=self.data_dir, val_split=self.val_split)

    def arm_key(self, arm: ArmSpec) -> str:
        """Folder name for an arm's trials: readable, plus a hash of everything that shapes them."""
        shaping = self.model_dump(
            mode="json",
            include={
                "dataset",
                "val_split",
                "epochs",
                "width",
                "batch_size",
                "weight_decay",
                "augment",
                "base_optimizer",
            },
        )
        shaping |= {"arm": arm.model_dump(), "lr": self.learning_rate_for(arm)}
        digest = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:8]
        return f"{arm.model}-{arm.optimizer}-{arm.loss}-{digest}"
