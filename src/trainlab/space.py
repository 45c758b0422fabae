"""The hyperparameter search space: ONE table, read by every prompt, validator and sampler.

`SPACE` lists each dimension once (name, kind, bounds or choices, log scale, description, the
`train` flag and its default). Everything else is derived from it: `FIELDS`, `HParams`'s
checks, `coerce` / `apply_changes`, `describe()` (prompts), `answer_fields()` (the LLM answer
schema), `optuna_distributions()`, `perturb()` and the `train` flags (`add_flags`). Adding a
dimension: a row here and a typed field in `HParams`, then give it a meaning where trials are
built (training/optim.py or training/trainer.py); tests/unit/test_space.py keeps the views in
step with the table.

`ARCHITECTURE` lists the model's dimensions (its width), searched only when the run weighs the
model's cost (`--objective accuracy,latency|params`): they are not HParams fields (a trial's
width travels as FinalConfig.model_width) and `optuna_distributions(architecture=True)` adds
them, so single-objective runs see exactly the table above.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import optuna
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Kind = Literal["categorical", "float", "int_choice"]


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter: its kind and range, what it means, and how `train` sets it."""

    name: str
    kind: Kind  # categorical: one of `choices` (str); float: within `bounds`; int_choice: ints
    description: str
    flag: str  # the `train` subcommand's flag
    default: Any  # `train`'s default, and the literature prior the offline consultant starts at
    choices: tuple[Any, ...] = ()
    bounds: tuple[float, float] = (0.0, 0.0)
    log: bool = False
    step: float | None = None  # perturb: σ of the log-factor (log), ± step (float), ×/÷ factor
    # (int_choice); None: never perturbed
    short: str = ""  # label in one-line summaries ("lr=0.05"); "" shows the bare value

    @property
    def type(self) -> type:
        return {"categorical": str, "float": float, "int_choice": int}[self.kind]

    def domain(self) -> str:
        """The allowed values in words: 'one of a, b' or 'float in [low, high] (log scale)'."""
        if self.kind != "float":
            return f"one of {', '.join(map(str, self.choices))}"
        low, high = self.bounds
        return f"float in [{low:g}, {high:g}]" + (" (log scale)" if self.log else "")


SGD_MOMENTUM = 0.9  # what "sgd" means (training/optim.py builds it)

SPACE: tuple[Dimension, ...] = (
    Dimension(
        "optimizer",
        "categorical",
        "adam = AdamW, sgd = SGD with Nesterov momentum",
        "--optimizer",
        "sgd",
        choices=("adam", "sgd"),
    ),
    Dimension(
        "learning_rate",
        "float",
        "peak learning rate of the schedule",
        "--lr",
        0.05,
        short="lr",
        bounds=(1e-4, 1e-1),
        log=True,
        step=0.6,
    ),
    Dimension(
        "train_batch_size",
        "int_choice",
        "training examples per step",
        "--batch-size",
        128,
        short="bs",
        choices=(32, 64, 128, 256, 512),
        step=2.0,
    ),
    Dimension(
        "weight_decay",
        "float",
        "weight decay (decoupled for adam)",
        "--weight-decay",
        5e-4,
        short="wd",
        bounds=(1e-5, 1e-1),
        log=True,
        step=0.6,
    ),
    Dimension(
        "label_smoothing",
        "float",
        "label smoothing of the cross-entropy loss",
        "--label-smoothing",
        0.1,
        short="ls",
        bounds=(0.0, 0.2),
        step=0.05,
    ),
)

ARCHITECTURE: tuple[Dimension, ...] = (
    Dimension(
        "model_width",
        "int_choice",
        "ResNet-9 base width (searched when latency or params is an objective)",
        "--width",
        64,
        short="w",
        choices=(8, 16, 32, 64),
    ),
)
WIDTHS: tuple[int, ...] = ARCHITECTURE[0].choices

DIMENSIONS: dict[str, Dimension] = {d.name: d for d in SPACE}
FIELDS: tuple[str, ...] = tuple(DIMENSIONS)
FLAGS: dict[str, str] = {d.name: d.flag for d in SPACE}  # so errors name what the user typed
OPTIMIZERS: tuple[str, ...] = DIMENSIONS["optimizer"].choices
BATCH_SIZES: tuple[int, ...] = DIMENSIONS["train_batch_size"].choices
LEARNING_RATE = DIMENSIONS["learning_rate"].bounds
NUMERIC_BOUNDS: dict[str, tuple[float, float]] = {
    d.name: d.bounds for d in SPACE if d.kind == "float"
}
LOG_SCALE = frozenset(d.name for d in SPACE if d.log)


class SpaceError(ValueError):
    """A proposal that cannot be turned into a configuration (missing or non-numeric values)."""


class HParams(BaseModel):
    """One point of the search space. Constructing it enforces the space exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    optimizer: str  # adam, sgd, or an optimizer the lab adopted (`adoptable`)
    learning_rate: float
    train_batch_size: int
    weight_decay: float
    label_smoothing: float

    @field_validator("*")
    @classmethod
    def _in_space(cls, value: Any, info: ValidationInfo) -> Any:
        dim = DIMENSIONS[info.field_name]
        if dim.kind == "float":
            low, high = dim.bounds
            if not (math.isfinite(value) and low <= value <= high):
                raise ValueError(f"{dim.name}={value} is outside [{low:g}, {high:g}]")
        elif value not in dim.choices and not (dim.name == "optimizer" and adoptable(value)):
            raise ValueError(f"{dim.name}={value} is not one of {list(dim.choices)}")
        return value

    def key(self) -> tuple[Any, ...]:
        """Identity used to avoid re-running a configuration (floats rounded to 3 s.f.)."""
        values = self.model_dump().values()
        return tuple(_round_sig(v) if isinstance(v, float) else v for v in values)

    def brief(self) -> str:
        """One line, e.g. 'sgd lr=0.05 bs=128 wd=0.0005 ls=0.1'."""
        parts = []
        for dim in SPACE:
            value = getattr(self, dim.name)
            text = f"{value:.3g}" if isinstance(value, float) else str(value)
            parts.append(f"{dim.short}={text}" if dim.short else text)
        return " ".join(parts)


def adoptable(name: Any) -> bool:
    """A registry optimizer that is measured against a baseline: what `--adopt-components`
    may add to the optimizer choices (proposals/adoption.py); records holding one validate."""
    from trainlab.components import registry  # it imports this module

    component = registry.REGISTRY.get(name) if isinstance(name, str) else None
    return component is not None and component.kind == "optimizer" and bool(component.baseline)


def defaults() -> HParams:
    """Every dimension at its default: `train`'s defaults and the offline literature prior."""
    return HParams(**{d.name: d.default for d in SPACE})


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


def _coerce_one(dim: Dimension, raw: Any, choices: tuple[Any, ...] = ()) -> tuple[Any, str | None]:
    """One value into its dimension (categorical: one of `choices`, default the dimension's):
    (value, warning or None); unusable → SpaceError."""
    if dim.kind == "categorical":
        value = str(raw).strip().lower()
        if value not in (choices or dim.choices):
            allowed = list(choices or dim.choices)
            raise SpaceError(f"{dim.name} must be one of {allowed}, got {raw!r}")
        return value, None
    number = _as_number(dim.name, raw)
    if dim.kind == "float":
        low, high = dim.bounds
        clamped = min(max(number, low), high)
        if clamped == number:
            return clamped, None
        return clamped, f"{dim.name}={number:g} clamped to {clamped:g} (bounds [{low:g}, {high:g}])"
    if number <= 0:
        raise SpaceError(f"{dim.name} must be positive, got {number:g}")
    nearest = min(dim.choices, key=lambda c: abs(math.log2(c) - math.log2(number)))
    if nearest == number:
        return nearest, None
    return nearest, f"{dim.name}={number:g} snapped to {nearest} (allowed {list(dim.choices)})"


def coerce(
    raw: Mapping[str, Any], optimizers: tuple[str, ...] = OPTIMIZERS
) -> tuple[HParams, list[str]]:
    """Turn a proposal into HParams, clamping out-of-range values with a warning each;
    `optimizers`: the optimizer choices (the adopted space's, in a lab that adopted one).

    Raises SpaceError when a value is missing, non-numeric or an unknown choice: such a
    proposal is unusable and must be rejected, never replaced by a default.
    """
    missing = [name for name in FIELDS if name not in raw]
    if missing:
        raise SpaceError(f"proposal is missing {', '.join(missing)}")
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for dim in SPACE:
        choices = optimizers if dim.name == "optimizer" else ()
        values[dim.name], warning = _coerce_one(dim, raw[dim.name], choices)
        if warning:
            warnings.append(warning)
    return HParams(**values), warnings


def apply_changes(hparams: HParams, changes: Mapping[str, str]) -> tuple[HParams, list[str]]:
    """Apply remedy edits such as {"learning_rate": "*0.3", "label_smoothing": "+0.05",
    "optimizer": "=sgd"} and clamp the result back into the space (with warnings)."""
    values: dict[str, Any] = hparams.model_dump()
    for name, edit in changes.items():
        if name not in values:
            raise SpaceError(f"unknown hyperparameter {name!r} in change {edit!r}")
        op, operand = edit[0], edit[1:]
        if op == "=":
            values[name] = operand if DIMENSIONS[name].kind == "categorical" else float(operand)
        elif op == "*":
            values[name] = values[name] * float(operand)
        elif op == "+":
            values[name] = values[name] + float(operand)
        else:
            raise SpaceError(f"change {edit!r} for {name} must start with '=', '*' or '+'")
    return coerce(values, _keeping(hparams))


# Floats first: the order the offline consultant's recorded runs drew coordinates in.
_PERTURBABLE = sorted((d for d in SPACE if d.step is not None), key=lambda d: d.kind != "float")


def perturb(hparams: HParams, rng: random.Random) -> HParams:
    """A small random local step in one coordinate (log-scale for log dimensions)."""
    values: dict[str, Any] = hparams.model_dump()
    dim = rng.choice(_PERTURBABLE)
    if dim.log:
        values[dim.name] *= math.exp(rng.gauss(0.0, dim.step))
    elif dim.kind == "float":
        values[dim.name] += rng.choice([-dim.step, dim.step])
    else:
        values[dim.name] *= rng.choice([1 / dim.step, dim.step])
    return coerce(values, _keeping(hparams))[0]


def _keeping(hparams: HParams) -> tuple[str, ...]:
    """The optimizer choices plus the point's own (an adopted one stays where it is)."""
    return tuple(dict.fromkeys((*OPTIMIZERS, hparams.optimizer)))


# --- views of the table for prompts, schemas, samplers and the `train` command -------------


def describe(optimizers: tuple[str, ...] = OPTIMIZERS) -> str:
    """The space in words, for prompts and help texts (`optimizers`: the adopted space's)."""
    adopted = ", ".join(name for name in optimizers if name not in OPTIMIZERS)

    def line(d: Dimension) -> str:
        if d.name != "optimizer" or not adopted:
            return f"- {d.name}: {d.domain()} — {d.description}"
        return (
            f"- optimizer: one of {', '.join(optimizers)} — {d.description}; adopted by this "
            f"lab after a significant validation: {adopted} (wrappers wrap AdamW)"
        )

    return "\n".join(line(d) for d in SPACE)


def answer_fields() -> dict[str, Any]:
    """Field definitions of the LLM answer schema (pydantic `create_model` keyword arguments).

    Plain types, not the bounds: out-of-range values must reach `coerce`, which clamps them
    with a recorded warning instead of rejecting the whole answer.
    """
    return {d.name: (d.type, Field(description=f"{d.description}; {d.domain()}")) for d in SPACE}


def optuna_distributions(
    optimizers: tuple[str, ...] = OPTIMIZERS,
    architecture: bool = False,
) -> dict[str, optuna.distributions.BaseDistribution]:
    """The space as Optuna distributions (for TPE/CMA-ES ask/tell), categoricals first;
    `optimizers`: the optimizer choices (an adopted space's, proposals/adoption.py);
    `architecture`: the ARCHITECTURE dimensions too."""
    dims = SPACE + ARCHITECTURE if architecture else SPACE
    dists: dict[str, optuna.distributions.BaseDistribution] = {}
    for dim in sorted(dims, key=lambda d: d.kind == "float"):
        if dim.kind == "float":
            dists[dim.name] = optuna.distributions.FloatDistribution(*dim.bounds, log=dim.log)
        else:
            choices = optimizers if dim.name == "optimizer" else dim.choices
            dists[dim.name] = optuna.distributions.CategoricalDistribution(choices)
    return dists


def add_flags(group: argparse._ActionsContainer) -> None:
    """One `train` flag per dimension (dest = the field name), with its default and range.

    Values are not checked here: `hparams_from_args` builds HParams, whose error names the
    field; map it back to the flag with `FLAGS`.
    """
    for d in SPACE:
        help_text = f"{d.description}; {d.domain()} (%(default)s)"
        group.add_argument(d.flag, dest=d.name, type=d.type, default=d.default, help=help_text)


def hparams_from_args(args: argparse.Namespace) -> HParams:
    """The configuration that `add_flags`' flags describe (ValidationError if outside; an
    optimizer only a lab adopts is a SpaceError naming the flag)."""
    hparams = HParams(**{d.name: getattr(args, d.name) for d in SPACE})
    if hparams.optimizer not in OPTIMIZERS:
        raise SpaceError(f"--optimizer {hparams.optimizer}: use one of {', '.join(OPTIMIZERS)}")
    return hparams
