"""Advice learns from outcomes: each remedy's measured record in this run.

A remedy (flag, change) applied to a trial is scored by the gain of the trial it produced
over the trial it was applied to. A remedy whose trials did worse is not repeated while an
untried or better alternative exists, and a change of optimizer brings a learning rate suited
to the new optimizer (the best one measured for it in this run, else its usual default).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from trainlab.space import HParams, apply_changes
from trainlab.state import Remedy

DEFAULT_LEARNING_RATE = {"adam": 1e-3, "sgd": 0.05}  # Kingma & Ba 2015; He et al. 2016


def remedy_key(remedy: Remedy) -> tuple[str, str]:
    """(flag, change) as text, e.g. ("healthy", "optimizer=sgd")."""
    changes = ",".join(f"{name}{edit}" for name, edit in sorted(remedy.changes.items()))
    return remedy.flag, changes


@dataclass
class AdviceBook:
    """Gains per remedy, measured in this run (child score − parent score)."""

    gains: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    @classmethod
    def measured(cls, trials: Sequence[tuple[int, Sequence[Remedy], float]]) -> AdviceBook:
        """From the run's trials in order: (trial number, remedies applied, accuracy). A
        remedy is scored against the trial it changed (`applied_to`), else the one before."""
        book, scores = cls(), {}
        for index, (number, remedies, score) in enumerate(trials):
            before = trials[index - 1][2] if index else None
            for remedy in remedies:
                parent = scores.get(remedy.applied_to, before)
                if parent is not None:
                    book.record(remedy, parent, score)
            scores[number] = score
        return book

    def record(self, remedy: Remedy, parent_score: float, score: float) -> None:
        self.gains.setdefault(remedy_key(remedy), []).append(score - parent_score)

    def mean_gain(self, remedy: Remedy) -> float | None:
        gains = self.gains.get(remedy_key(remedy))
        return statistics.fmean(gains) if gains else None

    def ranked(self, remedies: Iterable[Remedy]) -> list[Remedy]:
        """Untried and helpful remedies first (in the given order), harmful ones dropped."""
        remedies = list(remedies)
        untried = [r for r in remedies if self.mean_gain(r) is None]
        helped = [r for r in remedies if (self.mean_gain(r) or 0.0) > 0.0]
        helped.sort(key=lambda r: -(self.mean_gain(r) or 0.0))
        return helped + untried

    def describe(self) -> str:
        """The record as prompt text, one line per remedy tried."""
        if not self.gains:
            return "No remedy has been tried in this run yet."
        lines = [
            f"- {flag}: {change}: tried {len(g)}×, mean gain {statistics.fmean(g):+.4f}"
            for (flag, change), g in sorted(self.gains.items())
        ]
        return "Remedies measured in this run (validation accuracy gain):\n" + "\n".join(lines)

    def as_dict(self) -> list[dict[str, object]]:
        return [
            {"flag": flag, "change": change, "tried": len(g), "mean_gain": statistics.fmean(g)}
            for (flag, change), g in sorted(self.gains.items())
        ]


def suited_learning_rate(optimizer: str, scored: Iterable[tuple[HParams, float]]) -> float:
    """The learning rate of the best trial with `optimizer` in this run, else its default."""
    mine = [(score, hp.learning_rate) for hp, score in scored if hp.optimizer == optimizer]
    return max(mine)[1] if mine else DEFAULT_LEARNING_RATE[optimizer]


def apply_remedy(
    base: HParams, changes: Mapping[str, str], scored: Iterable[tuple[HParams, float]]
) -> tuple[HParams, list[str]]:
    """Apply a remedy; a change of optimizer also sets the lr suited to the new optimizer."""
    hparams, warnings = apply_changes(base, changes)
    if hparams.optimizer == base.optimizer:
        return hparams, warnings
    lr = suited_learning_rate(hparams.optimizer, scored)
    note = f"learning_rate set to {lr:.3g}, suited to {hparams.optimizer} in this run"
    suited, more = apply_changes(hparams, {"learning_rate": f"={lr}"})
    return suited, [*warnings, *more, note]


def first_untried_remedy(
    base: HParams,
    remedies: Sequence[Remedy],
    scored: Iterable[tuple[HParams, float]],
    tried: set[tuple],
) -> tuple[HParams, Remedy, list[str]] | None:
    """The first remedy, in the order given, that changes `base` into a configuration never
    trained: (configuration, remedy, notes); None when every one is a no-op or was tried."""
    scored = list(scored)
    for remedy in remedies:
        candidate, notes = apply_remedy(base, remedy.changes, scored)
        if candidate != base and candidate.key() not in tried:
            return candidate, remedy, notes
    return None
