"""`--budget-epochs B`: the epochs a run may spend, and what each trial spent of them."""

from __future__ import annotations

from dataclasses import dataclass, field


def check_budget(epochs: int) -> int:
    if epochs <= 0:
        raise ValueError(f"--budget-epochs must be a positive number of epochs, got {epochs}")
    return epochs


@dataclass
class EpochBudget:
    """Total epochs, those spent per trial (by round) and what the next trial may use."""

    total: int
    spent_by_round: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_budget(self.total)

    @property
    def spent(self) -> int:
        return sum(self.spent_by_round.values())

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.spent)

    @property
    def exhausted(self) -> bool:
        return self.remaining == 0

    def next_epochs(self, per_trial: int) -> int:
        """The epochs the next trial gets: its cap, or what is left of the budget."""
        return min(per_trial, self.remaining)

    def spend(self, round_: int, epochs: int) -> None:
        """Record a trial's epochs once (recording a round again replaces, never adds)."""
        self.spent_by_round[round_] = epochs

    def as_dict(self) -> dict[str, object]:
        return {
            "budget_epochs": self.total,
            "spent_epochs": self.spent,
            "remaining_epochs": self.remaining,
            "per_trial": {str(r): e for r, e in sorted(self.spent_by_round.items())},
        }
