"""What every agent role sees and promises: one interface for offline and LLM policies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from trainlab import space
from trainlab.search.advice_record import AdviceBook
from trainlab.space import HParams
from trainlab.state import Analysis, FinalConfig, Proposal, ResearchNote, TrialSummary


@dataclass(frozen=True)
class Trial:
    """A finished round: what was decided and what training made of it."""

    final: FinalConfig
    summary: TrialSummary

    @property
    def score(self) -> float:
        """Validation accuracy, with diverged/failed trials scoring 0.

        A pruned trial scores 0 too: its accuracy is that of a shorter training, so it is
        never "the best so far" nor the run's best (as in Optuna, whose best trial is a
        complete one); its partial accuracy is `reached`."""
        if self.summary.status != "complete":
            return 0.0
        return self.summary.best_val_acc or 0.0

    @property
    def reached(self) -> float:
        """The best validation accuracy the trial reached, pruned or not (0 if it failed)."""
        if self.summary.status == "failed":
            return 0.0
        return self.summary.best_val_acc or 0.0


@dataclass(frozen=True)
class OptimizerState:
    """The run's optimizer as the agents see it: its next suggestion, and its state and the
    remedies' measured record as prompt text."""

    sampler: str
    suggestion: HParams
    text: str
    advice: str = ""


@dataclass(frozen=True)
class RoundView:
    """The lab's history as the agents of one round see it."""

    round: int
    history: tuple[Trial, ...]
    analysis: Analysis | None
    research: ResearchNote | None
    optimizer: OptimizerState | None = None  # the lab's study; None outside the lab
    notes: tuple[ResearchNote, ...] = ()  # every trial's research note (`research`: the last)
    adopted: tuple[str, ...] = ()  # optimizers the lab adopted (--adopt-components)

    @property
    def optimizers(self) -> tuple[str, ...]:
        """The optimizer choices this round: the space's, then the adopted ones."""
        return (*space.OPTIMIZERS, *self.adopted)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RoundView:
        finals = [FinalConfig.model_validate(f) for f in state.get("finals", [])]
        trials = [TrialSummary.model_validate(t) for t in state.get("trials", [])]
        analyses = state.get("analyses") or []
        notes = tuple(ResearchNote.model_validate(n) for n in state.get("research") or [])
        return cls(
            round=state["round"],
            history=tuple(Trial(f, t) for f, t in zip(finals, trials, strict=False)),
            analysis=Analysis.model_validate(analyses[-1]) if analyses else None,
            research=notes[-1] if notes else None,
            notes=notes,
            adopted=tuple(a["component"] for a in state.get("adopted") or []),
        )

    @property
    def best(self) -> Trial | None:
        return max(self.history, key=lambda t: t.score, default=None)

    @property
    def last(self) -> Trial | None:
        return self.history[-1] if self.history else None

    def note_of(self, number: int) -> ResearchNote | None:
        """The researcher's note on trial `number`, if the view holds it."""
        return next((n for n in self.notes if n.number == number), None)

    def advice(self) -> AdviceBook:
        """Each remedy's measured record in this run (a pruned trial counts what it reached)."""
        return AdviceBook.measured(
            [(t.final.number, t.final.remedies, t.reached) for t in self.history]
        )

    def tried(self) -> set[tuple]:
        keys = {t.final.hparams.key() for t in self.history}
        return keys | {t.summary.effective_hparams.key() for t in self.history}


class Consultant(Protocol):
    name: str

    def propose(self, view: RoundView, other: Proposal | None) -> Proposal: ...


class Supervisor(Protocol):
    def finalize(self, view: RoundView, proposals: Sequence[Proposal]) -> FinalConfig: ...


class Analyst(Protocol):
    def analyze(
        self, round_: int, summary: TrialSummary, rows: Sequence[Mapping[str, Any]]
    ) -> Analysis: ...


class Researcher(Protocol):
    def research(self, analysis: Analysis) -> ResearchNote: ...


@dataclass(frozen=True)
class Advisors:
    """The policy behind each role for one run."""

    consultant_a: Consultant
    consultant_b: Consultant
    supervisor: Supervisor
    analyst: Analyst
    researcher: Researcher
