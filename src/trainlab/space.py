"""The hyperparameter search space: defined once, read by every prompt, validator and sampler."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import optuna
from pydantic import BaseModel, ConfigDict, field_validator

OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")
BATCH_SIZES: tuple[int, ...] = (32, 64, 128, 256, 512)
LEARNING_RATE = (1e-4, 1e-1)
WEIGHT_DECAY = (1e-5, 1e-1)
LABEL_SMOOTHING = (0.0, 0.2)

NUMERIC_BOUNDS: dict[str, tuple[float, float]] = {
    "learning_rate": LEARNING_RATE,
    "weight_decay": WEIGHT_DECAY,
    "label_smoothing": LABEL_SMOOTHING,
}
LOG_SCALE = frozenset({"learning_rate", "weight_decay"})
FIELDS: tuple[str, ...] = (
    "optimizer",
    "learning_rate",
    "train_batch_size",
    "weight_decay",
    "label_smoothing",
)


class SpaceError(ValueError):
    """A proposal that cannot be turned into a configuration (missing or non-numeric values)."""


class HParams(BaseModel):
    """One point of the search space. Constructing it enforces the space exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    optimizer: Literal["adam", "sgd"]
    learning_rate: float
    train_batch_size: int
    weight_decay: float
    label_smoothing: float

    @field_validator("learning_rate", "weight_decay", "label_smoothing")
    @classmethod
    def _within_bounds(cls, value: float, info: Any) -> float:
        low, high = NUMERIC_BOUNDS[info.field_name]
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"{info.field_name}={value} is outside [{low:g}, {high:g}]")
        return value

    @field_validator("train_batch_size")
    @classmethod
    def _allowed_batch(cls, value: int) -> int:
        if value not in BATCH_SIZES:
            raise ValueError(f"train_batch_size={value} is not one of {list(BATCH_SIZES)}")
        return value

    def key(self) -> tuple[Any, ...]:
        """Identity used to avoid re-running a configuration (floats rounded to 3 s.f.)."""
        values = self.model_dump().values()
        return tuple(_round_sig(v) if isinstance(v, float) else v for v in values)

    def brief(self) -> str:
        return (
            f"{self.optimizer} lr={self.learning_rate:.3g} bs={self.train_batch_size} "
            f"wd={self.weight_decay:.3g} ls={self.label_smoothing:.3g}"
        )


def _round_sig(value: float, digits: int = 3) -> float:
    return float(f"{value:.{digits}g}")


def _as_number(name: str, raw: Any) -> float:
    if isinstance(raw, bool) or raw is None:
        raise SpaceError(f"{name} must be a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SpaceError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise SpaceError(f"{name} must be finite, got {raw!r}")
    return value


def _nearest_batch(value: float) -> int:
    if value <= 0:
        raise SpaceError(f"train_batch_size must be positive, got {value:g}")
    return min(BATCH_SIZES, key=lambda b: abs(math.log2(b) - math.log2(value)))


def coerce(raw: Mapping[str, Any]) -> tuple[HParams, list[str]]:
    """Turn a proposal into HParams, clamping out-of-range values with a warning each.

    Raises SpaceError when a value is missing, non-numeric or an unknown optimizer: such a
    proposal is unusable and must be rejected, never replaced by a default.
    """
    missing = [name for name in FIELDS if name not in raw]
    if missing:
        raise SpaceError(f"proposal is missing {', '.join(missing)}")
    optimizer = str(raw["optimizer"]).strip().lower()
    if optimizer not in OPTIMIZERS:
        raise SpaceError(f"optimizer must be one of {list(OPTIMIZERS)}, got {raw['optimizer']!r}")
    warnings: list[str] = []
    values: dict[str, Any] = {"optimizer": optimizer}
    for name, (low, high) in NUMERIC_BOUNDS.items():
        value = _as_number(name, raw[name])
        clamped = min(max(value, low), high)
        if clamped != value:
            warnings.append(f"{name}={value:g} clamped to {clamped:g} (bounds [{low:g}, {high:g}])")
        values[name] = clamped
    batch = _as_number("train_batch_size", raw["train_batch_size"])
    values["train_batch_size"] = _nearest_batch(batch)
    if values["train_batch_size"] != batch:
        warnings.append(
            f"train_batch_size={batch:g} snapped to {values['train_batch_size']} "
            f"(allowed {list(BATCH_SIZES)})"
        )
    return HParams(**values), warnings


def describe() -> str:
    """The space in words, for prompts and help texts."""
    return "\n".join(
        [
            f"- optimizer: one of {', '.join(OPTIMIZERS)}",
            f"- learning_rate: float in [{LEARNING_RATE[0]:g}, {LEARNING_RATE[1]:g}] (log scale)",
            f"- train_batch_size: one of {', '.join(map(str, BATCH_SIZES))}",
            f"- weight_decay: float in [{WEIGHT_DECAY[0]:g}, {WEIGHT_DECAY[1]:g}] (log scale)",
            f"- label_smoothing: float in [{LABEL_SMOOTHING[0]:g}, {LABEL_SMOOTHING[1]:g}]",
        ]
    )


def optuna_distributions() -> dict[str, optuna.distributions.BaseDistribution]:
    """The space as Optuna distributions (for TPE/CMA-ES ask/tell)."""
    dists: dict[str, optuna.distributions.BaseDistribution] = {
        "optimizer": optuna.distributions.CategoricalDistribution(OPTIMIZERS),
        "train_batch_size": optuna.distributions.CategoricalDistribution(BATCH_SIZES),
    }
    for name, (low, high) in NUMERIC_BOUNDS.items():
        dists[name] = optuna.distributions.FloatDistribution(low, high, log=name in LOG_SCALE)
    return dists


def apply_changes(hparams: HParams, changes: Mapping[str, str]) -> tuple[HParams, list[str]]:
    """Apply remedy edits such as {"learning_rate": "*0.3", "label_smoothing": "+0.05",
    "optimizer": "=sgd"} and clamp the result back into the space (with warnings)."""
    values: dict[str, Any] = hparams.model_dump()
    for name, edit in changes.items():
        if name not in values:
            raise SpaceError(f"unknown hyperparameter {name!r} in change {edit!r}")
        op, operand = edit[0], edit[1:]
        if op == "=":
            values[name] = operand if name == "optimizer" else float(operand)
        elif op == "*":
            values[name] = values[name] * float(operand)
        elif op == "+":
            values[name] = values[name] + float(operand)
        else:
            raise SpaceError(f"change {edit!r} for {name} must start with '=', '*' or '+'")
    return coerce(values)
