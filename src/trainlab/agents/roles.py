"""LLM policies for the four roles. Each implements its role's Protocol, asks its model through
`RoleLLM.decide` and holds the role's offline policy as fallback: never trains a placeholder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainlab import space
from trainlab.agents import prompts
from trainlab.agents.base import Analyst, Consultant, Researcher, RoundView, Supervisor
from trainlab.agents.llm import InvalidAnswer, Messages, RoleLLM
from trainlab.agents.offline import LITERATURE_PRIOR, TPEConsultant
from trainlab.agents.schemas import (
    AnalysisOut,
    FinalOut,
    HParamsOut,
    ProposalOut,
    RemediesOut,
    RemedyOut,
    require_text,
)
from trainlab.analysis.curves import FLAG_KEYWORDS
from trainlab.research.search import SearchProvider, SearchResult, clean
from trainlab.runstore import atomic_write_bytes
from trainlab.space import HParams
from trainlab.state import Analysis, FinalConfig, Proposal, Remedy, ResearchNote, TrialSummary

MAX_KEYWORDS = 8


def checked_hparams(
    out: HParamsOut, optimizers: tuple[str, ...] = space.OPTIMIZERS
) -> tuple[HParams, list[str]]:
    """The answer's configuration, clamped into the space (`optimizers`: the round's
    choices) with warnings; unusable → error."""
    values = out.model_dump(include=set(space.FIELDS))
    for name in space.LOG_SCALE:
        if values[name] <= 0:
            raise InvalidAnswer(f"{name} must be a positive number, got {values[name]}")
    return space.coerce(values, optimizers)


class SearchFailed(RuntimeError):
    """The web search provider failed or found nothing (the round uses the knowledge base)."""


class LLMConsultant:
    """A consultant that argues with the other one; the classical sampler is a data point."""

    def __init__(
        self, name: str, llm: RoleLLM, fallback: Consultant, sampler: TPEConsultant
    ) -> None:
        self.name, self.llm, self.fallback, self.sampler = name, llm, fallback, sampler

    def propose(self, view: RoundView, other: Proposal | None) -> Proposal:
        def build(out: ProposalOut) -> Proposal:
            hparams, warnings = checked_hparams(out, view.optimizers)
            return Proposal(
                round=view.round,
                author=self.name,
                hparams=hparams,
                rationale=require_text(out.message, "message"),
                policy=self.llm.policy,
                warnings=warnings,
            )

        return self.llm.decide(
            view.round,
            lambda: prompts.consultant(self.name, view, other, self.sampler.suggest(view)),
            ProposalOut,
            build,
            lambda: self.fallback.propose(view, other),
        )


class LLMSupervisor:
    """Decides the round's configuration; an already-trained one is rejected like a bad answer."""

    def __init__(self, llm: RoleLLM, fallback: Supervisor, sampler: TPEConsultant) -> None:
        self.llm, self.fallback, self.sampler = llm, fallback, sampler

    def finalize(self, view: RoundView, proposals: Sequence[Proposal]) -> FinalConfig:
        authors = {p.author for p in proposals}

        def build(out: FinalOut) -> FinalConfig:
            hparams, warnings = checked_hparams(out, view.optimizers)
            if hparams.key() in view.tried():
                raise InvalidAnswer(f"{hparams.brief()} was already trained; choose another")
            return FinalConfig(
                round=view.round,
                hparams=hparams,
                source=out.source if out.source in authors else "supervisor",
                justification=require_text(out.justification, "justification"),
                policy=self.llm.policy,
                warnings=warnings,
            )

        return self.llm.decide(
            view.round,
            lambda: prompts.supervisor(view, proposals, self.sampler.suggest(view)),
            FinalOut,
            build,
            lambda: self.fallback.finalize(view, proposals),
        )


def merge_analysis(base: Analysis, out: AnalysisOut, policy: str) -> Analysis:
    """Heuristic flags plus the model's known flags and keywords ("healthy" only if alone)."""
    flags = list(dict.fromkeys([*base.flags, *(f for f in out.flags if f in FLAG_KEYWORDS)]))
    if len(flags) > 1:
        flags = [f for f in flags if f != "healthy"]
    keywords = [FLAG_KEYWORDS[f] for f in flags] + [k.strip() for k in out.keywords if k.strip()]
    return base.model_copy(
        update={
            "flags": flags,
            "keywords": list(dict.fromkeys(keywords))[:MAX_KEYWORDS],
            "summary": f"Heuristics: {base.summary} Model's reading: {out.reading.strip()}",
            "policy": f"{base.policy} + {policy}",
        }
    )


class LLMAnalyst:
    """Heuristics first, then the model's reading of the curves (→ analysis_llm.txt)."""

    def __init__(self, llm: RoleLLM, fallback: Analyst) -> None:
        self.llm, self.fallback = llm, fallback

    def analyze(
        self, round_: int, summary: TrialSummary, rows: Sequence[Mapping[str, Any]]
    ) -> Analysis:
        base = self.fallback.analyze(round_, summary, rows)

        def build(out: AnalysisOut) -> Analysis:
            reading = require_text(out.reading, "reading")
            merged = merge_analysis(base, out, self.llm.policy)
            text = (
                f"{reading}\n\nflags: {', '.join(out.flags)}\nkeywords: {', '.join(out.keywords)}\n"
            )
            atomic_write_bytes(Path(summary.trial_dir) / "analysis_llm.txt", text.encode())
            return merged

        return self.llm.decide(
            round_, lambda: prompts.analyst(summary, rows, base), AnalysisOut, build, lambda: base
        )


class LLMResearcher:
    """Web search → sanitized, truncated results → the model's remedies, each validated."""

    def __init__(self, llm: RoleLLM, fallback: Researcher, provider: SearchProvider) -> None:
        self.llm, self.fallback, self.provider = llm, fallback, provider

    def research(self, analysis: Analysis) -> ResearchNote:
        query = self.llm.sanitize(prompts.search_query(analysis))
        results: list[SearchResult] = []

        def messages() -> Messages:
            results.extend(self._search(query))
            return prompts.researcher(analysis, results)

        return self.llm.decide(
            analysis.round,
            messages,
            RemediesOut,
            lambda out: self._note(analysis, query, results, out),
            lambda: self.fallback.research(analysis),
        )

    def _search(self, query: str) -> list[SearchResult]:
        name = self.provider.name
        try:
            found = self.provider.search(query)
        except Exception as exc:
            raise SearchFailed(f"{name} search failed: {type(exc).__name__}: {exc}") from exc
        if not found:
            raise SearchFailed(f"{name} search returned no results")
        return clean(found, self.llm.sanitize)

    def _note(
        self, analysis: Analysis, query: str, results: list[SearchResult], out: RemediesOut
    ) -> ResearchNote:
        remedies, dropped = [], []
        for item in out.remedies:
            try:
                remedies.append(_remedy(item, results))
            except (ValueError, IndexError) as exc:
                dropped.append(f"{item.action!r}: {exc}")
        if not remedies:
            raise InvalidAnswer("no usable remedy. " + "; ".join(dropped))
        policy = f"{self.llm.policy} + search:{self.provider.name}"
        return ResearchNote(
            round=analysis.round,
            query=query,
            remedies=remedies,
            sources=sorted({r.reference for r in remedies}),
            policy=policy + (f" ({len(dropped)} invalid remedies dropped)" if dropped else ""),
        )


def _remedy(item: RemedyOut, results: list[SearchResult]) -> Remedy:
    """A remedy whose changes `space.apply_changes` accepts and whose source is a result."""
    if not 0 <= item.source < len(results):
        raise InvalidAnswer(f"source {item.source} is not one of the results")
    changes = {c.param.strip(): c.edit.strip() for c in item.changes}
    if not changes:
        raise InvalidAnswer("no changes")
    space.apply_changes(LITERATURE_PRIOR, changes)
    source = results[item.source]
    return Remedy(
        flag=require_text(item.flag, "flag"),
        action=require_text(item.action, "action"),
        changes=changes,
        reference=f"{source.title} — {source.url}",
    )
