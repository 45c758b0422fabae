"""Who gets the next trial: the consultants' proposal or the optimizer's own suggestion.

A share F of the trials after the first goes to the consultants, the rest to the optimizer,
on a Bresenham-like schedule: trial n (counted from the first allocated one) is the
consultants' when the consultants have had fewer than floor(F·n + φ) trials so far, φ a phase
drawn from the seed. A slot the consultants cannot use (no proposal, or the same
configuration as the optimizer's) goes to the optimizer and is owed to them, so after n trials
the consultants' count stays within one of F·n whenever they have something different.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from trainlab.space import HParams

DEFAULT_AGENT_SHARE = 0.3


def check_share(share: float) -> float:
    if not (math.isfinite(share) and 0.0 <= share <= 1.0):
        raise ValueError(f"--agent-share must be in [0, 1], got {share:g}")
    return share


@dataclass(frozen=True)
class Decision:
    """The configuration of one trial, who it came from and why."""

    hparams: HParams
    source: str  # "consultants" or "optimizer"
    justification: str


class Allocator:
    """The allocation rule for one run: deterministic given the share and the seed."""

    def __init__(self, share: float = DEFAULT_AGENT_SHARE, seed: int = 0) -> None:
        self.share = check_share(share)
        self.phase = random.Random(f"allocation:{seed}").random()

    def quota(self, n: int) -> int:
        """How many of the first n allocated trials the consultants are due."""
        return math.floor(self.share * n + self.phase) if self.share < 1.0 else n

    def decide(
        self,
        n: int,
        agent_taken: int,
        optimizer: HParams,
        consultants: HParams | None,
    ) -> Decision:
        """Trial n (1-based), of which the consultants have already had `agent_taken`."""
        due, ratio = self.quota(n), f"{agent_taken}/{n - 1} consultant trials so far"
        target = f"share {self.share:g}: {due} of {n} due"
        if agent_taken >= due:
            why = f"Optimizer's turn ({ratio}; {target}): {optimizer.brief()}."
            return Decision(optimizer, "optimizer", why)
        if consultants is None:
            why = f"Consultants' turn ({ratio}; {target}) but they proposed nothing: optimizer."
            return Decision(optimizer, "optimizer", why)
        if consultants.key() == optimizer.key():
            why = f"Consultants' turn ({ratio}; {target}); they agree with the optimizer."
            return Decision(optimizer, "optimizer", why)
        why = (
            f"Consultants' turn ({ratio}; {target}): {consultants.brief()} "
            f"instead of the optimizer's {optimizer.brief()}."
        )
        return Decision(consultants, "consultants", why)
