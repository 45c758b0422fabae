"""A headless offline consultant for the search engine: remedies for the best trial's curve,
chosen by their measured record in this run, else a local step from the best."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trainlab.agents.offline import perturb
from trainlab.analysis.curves import diagnose
from trainlab.research.knowledge import remedies_for
from trainlab.search.advice_record import AdviceBook, first_untried_remedy
from trainlab.space import HParams
from trainlab.state import Remedy, TrialSummary

MAX_STEPS = 20


@dataclass(frozen=True)
class Outcome:
    """One finished trial as the consultant sees it."""

    round: int
    summary: TrialSummary
    rows: Sequence[dict[str, Any]]  # metrics_epoch.csv rows
    source: str
    remedy: Remedy | None = None
    parent_score: float | None = None

    @property
    def score(self) -> float:
        return (self.summary.best_val_acc or 0.0) if self.summary.status == "complete" else 0.0


@dataclass(frozen=True)
class Advice:
    hparams: HParams
    rationale: str
    remedy: Remedy | None
    parent_score: float


class RemedyConsultant:
    """Proposes a remedy for the best complete trial, skipping remedies that did worse."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def propose(self, round_: int, history: Sequence[Outcome], book: AdviceBook) -> Advice | None:
        done = [o for o in history if o.summary.status == "complete"]
        if not done:
            return None
        best = max(done, key=lambda o: o.score)
        base = best.summary.effective_hparams
        tried = {o.summary.requested_hparams.key() for o in history}
        scored = [(o.summary.effective_hparams, o.score) for o in done]
        flags, _ = diagnose(best.summary, list(best.rows))
        found = first_untried_remedy(base, book.ranked(remedies_for(flags)), scored, tried)
        if found is not None:
            candidate, remedy, notes = found
            why = f"{remedy.action} ({remedy.flag}; {remedy.reference})"
            text = f"Remedy for the best trial (round {best.round}): {why}."
            return Advice(candidate, " ".join([text, *notes]), remedy, best.score)
        step = self._fresh_step(base, tried, random.Random(f"{self.seed}:{round_}:consultant"))
        text = f"No untried remedy for {', '.join(flags)}: a local step from the best trial."
        return Advice(step, text, None, best.score)

    @staticmethod
    def _fresh_step(base: HParams, tried: set[tuple], rng: random.Random) -> HParams:
        candidate = perturb(base, rng)
        for _ in range(MAX_STEPS):
            if candidate.key() not in tried:
                break
            candidate = perturb(candidate, rng)
        return candidate
