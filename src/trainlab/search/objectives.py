"""What a lab run optimizes and under which limits: its objectives, constraints, Pareto front.

`OBJECTIVES` is the one table: each objective's direction, the TrialSummary field it reads and
its unit. Accuracy is always the first objective; `latency` (inference ms per image at batch 1
on the trial's device) or `params` (trainable parameters) may be added, which makes the run's
study multi-objective and the model's width a searched dimension (`space.ARCHITECTURE`).
`CONSTRAINTS`: each limit's settings field, the summary field it reads, and whether it is a
lower or an upper bound. A constraint's value is positive when the trial breaks it (Optuna's
convention for `Trial.set_constraint`: feasible ⇔ every value ≤ 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from trainlab.state import TrialSummary


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str  # Optuna's "maximize" / "minimize"
    field: str  # the TrialSummary field it reads
    unit: str


@dataclass(frozen=True)
class Constraint:
    name: str  # the LabSettings field holding the limit
    field: str  # the TrialSummary field it reads
    upper: bool  # True: value ≤ limit; False: value ≥ limit
    unit: str


OBJECTIVES: dict[str, Objective] = {
    "accuracy": Objective("accuracy", "maximize", "best_val_acc", ""),
    "latency": Objective("latency", "minimize", "latency_ms", "ms"),
    "params": Objective("params", "minimize", "param_count", ""),
}
CONSTRAINTS: dict[str, Constraint] = {
    "min_accuracy": Constraint("min_accuracy", "best_val_acc", upper=False, unit=""),
    "max_latency_ms": Constraint("max_latency_ms", "latency_ms", upper=True, unit="ms"),
    "max_memory_mb": Constraint("max_memory_mb", "memory_mb", upper=True, unit="MB"),
}
ALLOWED = (("accuracy",), ("accuracy", "latency"), ("accuracy", "params"))


@dataclass(frozen=True)
class Goal:
    """A run's objectives and its limits (constraint name → limit)."""

    objectives: tuple[str, ...] = ("accuracy",)
    limits: Mapping[str, float] = field(default_factory=dict)

    @property
    def multi(self) -> bool:
        return len(self.objectives) > 1

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[name].direction for name in self.objectives]

    @property
    def measures_cost(self) -> bool:
        """Whether trials need latency and parameters measured (and the width is searched)."""
        return self.multi

    @property
    def active(self) -> dict[str, float]:
        return dict(self.limits)

    def values(self, summary: TrialSummary) -> list[float] | None:
        """The trial's objective values, None where one is missing (the trial did not complete)."""
        raw = [getattr(summary, OBJECTIVES[name].field) for name in self.objectives]
        return None if any(v is None for v in raw) else [float(v) for v in raw]

    def violations(self, summary: TrialSummary) -> dict[str, float]:
        """constraint → amount by which the trial breaks it (≤ 0: kept). A missing value (an
        accuracy of a failed trial, a latency never measured) counts as breaking it by 1."""
        out = {}
        for name, limit in self.active.items():
            rule = CONSTRAINTS[name]
            value = getattr(summary, rule.field)
            if value is None:
                out[name] = 1.0
            else:
                out[name] = float(value) - limit if rule.upper else limit - float(value)
        return out

    def broken(self, summary: TrialSummary) -> list[str]:
        """Each broken constraint in words, e.g. 'latency 7.1 ms > 5 ms'."""
        return [
            describe_break(name, getattr(summary, CONSTRAINTS[name].field), self.active[name])
            for name, amount in self.violations(summary).items()
            if amount > 0
        ]

    def describe(self) -> str:
        """One line for prompts and reports, e.g. 'maximize accuracy, minimize latency (ms);
        constraints: max_latency_ms ≤ 5'."""
        goals = ", ".join(_objective_text(OBJECTIVES[name]) for name in self.objectives)
        if not self.active:
            return goals
        limits = ", ".join(
            f"{CONSTRAINTS[n].field} {'≤' if CONSTRAINTS[n].upper else '≥'} {v:g}"
            for n, v in self.active.items()
        )
        return f"{goals}; constraints: {limits}"


def _objective_text(objective: Objective) -> str:
    unit = f" ({objective.unit})" if objective.unit else ""
    return f"{objective.direction} {objective.name}{unit}"


def describe_break(name: str, value: float | None, limit: float) -> str:
    rule = CONSTRAINTS[name]
    unit = f" {rule.unit}" if rule.unit else ""
    if value is None:
        return f"{rule.field} not measured (limit {limit:g}{unit})"
    sign = ">" if rule.upper else "<"
    return f"{rule.field} {value:.4g}{unit} {sign} {limit:g}{unit}"


def pareto_front(points: Sequence[Sequence[float] | None], directions: Sequence[str]) -> list[int]:
    """Indices of the points no other point dominates (None points never belong)."""
    signs = [1.0 if d == "maximize" else -1.0 for d in directions]
    scored = [
        (i, [s * v for s, v in zip(signs, p, strict=True)])
        for i, p in enumerate(points)
        if p is not None
    ]

    def dominates(a: list[float], b: list[float]) -> bool:
        return all(x >= y for x, y in zip(a, b, strict=True)) and a != b

    return [i for i, p in scored if not any(dominates(q, p) for _, q in scored)]
