"""Offline policies: real, deterministic-given-seed agents that need no key and no network."""

from __future__ import annotations

import random
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import optuna

from trainlab import space
from trainlab.agents.base import Advisors, RoundView, Trial
from trainlab.analysis.curves import FLAG_KEYWORDS, diagnose
from trainlab.research.knowledge import remedies_for
from trainlab.search.advice_record import apply_remedy, first_untried_remedy
from trainlab.search.allocation import DEFAULT_AGENT_SHARE, Allocator
from trainlab.space import HParams, perturb
from trainlab.state import Analysis, FinalConfig, Proposal, Remedy, ResearchNote, TrialSummary

# A well-known good start for a small residual CNN: SGD + Nesterov at lr 0.05 with batch 128
# and weight decay 5e-4 (He et al. 2016 recipe, scaled), label smoothing 0.1 (Müller 2019).
LITERATURE_PRIOR = space.defaults()  # the table's defaults are this recipe
PRIOR_REFERENCE = "He et al. 2016 (ResNet training recipe); Müller et al. 2019 (label smoothing)"
CLOSE_TO_BEST = 0.02
MAX_DEDUP_TRIES = 20

optuna.logging.set_verbosity(optuna.logging.WARNING)


def round_rng(seed: int, round_: int, salt: str) -> random.Random:
    """A generator that depends only on the seed, the round and the caller."""
    return random.Random(f"{seed}:{round_}:{salt}")


def fresh(hparams: HParams, view: RoundView, rng: random.Random) -> tuple[HParams, bool]:
    """Perturb until the configuration has not been trained before; (result, was_changed)."""
    tried = view.tried()
    candidate = hparams
    for _ in range(MAX_DEDUP_TRIES):
        if candidate.key() not in tried:
            return candidate, candidate != hparams
        candidate = perturb(candidate, rng)
    return candidate, True


def _compare(mine: HParams, other: Proposal | None) -> str:
    if other is None:
        return ""
    diffs = [
        f"{name} {getattr(other.hparams, name)} → {getattr(mine, name)}"
        for name in space.FIELDS
        if getattr(other.hparams, name) != getattr(mine, name)
    ]
    if not diffs:
        return f" I agree with {other.author}."
    return f" Versus {other.author}: " + ", ".join(diffs) + "."


class TPEConsultant:
    """Consultant A: the run's optimizer. In the lab, the suggestion of the run's persistent
    study (`view.optimizer`, TPE or CMA-ES); elsewhere Optuna's multivariate TPE fed with
    every finished trial (ask/tell)."""

    def __init__(self, seed: int, name: str = "consultant_a", startup_trials: int = 3) -> None:
        self.name, self.seed, self.startup_trials = name, seed, startup_trials

    def suggest(self, view: RoundView) -> HParams:
        if view.optimizer is not None:
            return view.optimizer.suggestion
        study = self._study(view)
        tried = view.tried()
        for _ in range(MAX_DEDUP_TRIES):
            params = study.ask(space.optuna_distributions()).params
            hparams = HParams(**params)
            if hparams.key() not in tried:
                return hparams
        return hparams

    def propose(self, view: RoundView, other: Proposal | None) -> Proposal:
        hparams = self.suggest(view)
        phase = "exploring" if len(view.history) < self.startup_trials else "modelling"
        sampler = view.optimizer.sampler if view.optimizer else "tpe"
        text = (
            f"{sampler.upper()} ({phase}, {len(view.history)} finished trials) suggests "
            f"{hparams.brief()}." + _compare(hparams, other)
        )
        return Proposal(
            round=view.round,
            author=self.name,
            hparams=hparams,
            rationale=text,
            policy=f"offline:{sampler}",
        )

    def _study(self, view: RoundView) -> optuna.Study:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(
                seed=self.seed * 1009 + view.round,
                n_startup_trials=self.startup_trials,
                multivariate=True,
                group=True,
            )
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for trial in view.history:
            study.add_trial(_frozen_trial(trial))
        return study


def _frozen_trial(trial: Trial) -> optuna.trial.FrozenTrial:
    failed = trial.summary.status == "failed"
    return optuna.trial.create_trial(
        params=trial.summary.effective_hparams.model_dump(),
        distributions=space.optuna_distributions(),
        value=None if failed else trial.score,
        state=optuna.trial.TrialState.FAIL if failed else optuna.trial.TrialState.COMPLETE,
    )


class ExpertConsultant:
    """Consultant B: a literature prior; then the researcher's remedies for the last trial when
    it is close to the best, else the first untried remedy for the best trial, else a local
    step from the best."""

    def __init__(self, seed: int, name: str = "consultant_b") -> None:
        self.name, self.seed = name, seed

    def propose(self, view: RoundView, other: Proposal | None) -> Proposal:
        hparams, reason, warnings_, remedies = self._decide(view)
        rng = round_rng(self.seed, view.round, self.name)
        hparams, changed = fresh(hparams, view, rng)
        if changed:
            reason += " That configuration was already trained, so I take a small step from it."
        return Proposal(
            round=view.round,
            author=self.name,
            hparams=hparams,
            rationale=reason + _compare(hparams, other),
            policy="offline:expert",
            warnings=warnings_,
            remedies=remedies,
        )

    def _decide(self, view: RoundView) -> tuple[HParams, str, list[str], list[Remedy]]:
        """The configuration, why, warnings, and the remedies applied to the last trial."""
        best, last = view.best, view.last
        if best is None or last is None:
            return LITERATURE_PRIOR, f"Start from a literature prior ({PRIOR_REFERENCE}).", [], []
        remedies = view.advice().ranked(view.research.remedies) if view.research else []
        if remedies and last.score >= best.score - CLOSE_TO_BEST:
            scored = [(t.summary.effective_hparams, t.score) for t in view.history]
            return self._apply(last.summary.effective_hparams, remedies, scored)
        for_best = self._remedy_for_best(view, best)
        if for_best is not None:
            return for_best
        step = perturb(best.summary.effective_hparams, round_rng(self.seed, view.round, "best"))
        return step, f"Refine the best so far ({best.score:.4f}) with a local step.", [], []

    @staticmethod
    def _remedy_for_best(
        view: RoundView, best: Trial
    ) -> tuple[HParams, str, list[str], list[Remedy]] | None:
        """The first untried remedy of the researcher's note on the best trial (ranked by its
        measured record), applied to the best trial; None when none is left."""
        note = view.note_of(best.final.number)
        if note is None:
            return None
        scored = [(t.summary.effective_hparams, t.score) for t in view.history]
        ranked = view.advice().ranked(note.remedies)
        found = first_untried_remedy(best.summary.effective_hparams, ranked, scored, view.tried())
        if found is None:
            return None
        hparams, remedy, notes = found
        text = (
            f"Apply a remedy to the best so far ({best.score:.4f}, round {best.final.round}): "
            f"{remedy.action} ({remedy.flag}; {remedy.reference})."
        )
        return hparams, text, notes, [remedy.model_copy(update={"applied_to": best.final.number})]

    @staticmethod
    def _apply(
        base: HParams, remedies: Sequence[Remedy], scored: Sequence[tuple[HParams, float]]
    ) -> tuple[HParams, str, list[str], list[Remedy]]:
        """Per flag, the first alternative that changes the configuration and touches no
        parameter an earlier flag's remedy already changed (a clamped no-op is skipped).
        A change of optimizer brings the lr suited to it (best measured in `scored`)."""
        hparams, applied, notes, touched, done = base, [], [], set(), set()
        for remedy in remedies:
            if remedy.flag in done or not touched.isdisjoint(remedy.changes):
                continue
            candidate, warnings_ = apply_remedy(hparams, remedy.changes, scored)
            if candidate == hparams:
                notes.append(f"{remedy.action}: no effect at the bounds of the space")
                continue
            hparams = candidate
            applied.append(remedy)
            notes.extend(warnings_)
            touched.update(remedy.changes)
            done.add(remedy.flag)
        actions = "; ".join(f"{r.action} ({r.flag}; {r.reference})" for r in applied)
        text = f"Apply the remedies to the last run: {actions or 'none applies'}."
        return hparams, text, notes, applied


class TrackRecordSupervisor:
    """Thompson sampling over the consultants' track records (picks that set a new best).

    Each consultant's chance of setting a new best is Beta(new bests + 1, misses + 1); the
    supervisor draws from both (seeded by seed and round) and takes the higher draw, so the
    better consultant is usually trusted and the other still gets tried. Round 1 takes the
    literature prior. An already-trained configuration is never re-run.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def finalize(self, view: RoundView, proposals: Sequence[Proposal]) -> FinalConfig:
        if not proposals:
            raise ValueError("the supervisor needs at least one proposal")
        records = _track_records(view.history)
        rng = round_rng(self.seed, view.round, "thompson")
        draws = {author: rng.betavariate(w + 1, p - w + 1) for author, (w, p) in records.items()}
        ranked = sorted(proposals, key=lambda p: self._rank(p, draws, view, rng))
        tried = view.tried()
        choice = next((p for p in ranked if p.hparams.key() not in tried), ranked[0])
        hparams, changed = fresh(choice.hparams, view, round_rng(self.seed, view.round, "sup"))
        justification = self._justify(choice, records, changed)
        return FinalConfig(
            round=view.round,
            hparams=hparams,
            source=choice.author,
            justification=justification,
            policy="offline:track-record",
            warnings=choice.warnings,
            remedies=choice.remedies,
        )

    @staticmethod
    def _rank(p: Proposal, draws: dict[str, float], view: RoundView, rng: random.Random) -> tuple:
        prefer_prior = view.round == 1 and p.policy == "offline:expert"
        if p.author not in draws:  # never picked yet: a draw from the uniform prior
            draws[p.author] = rng.random()
        return (not prefer_prior, -draws[p.author], p.author)

    @staticmethod
    def _justify(choice: Proposal, records: Mapping[str, tuple[int, int]], changed: bool) -> str:
        stats = ", ".join(
            f"{a}: {w} new bests in {p} picks" for a, (w, p) in sorted(records.items())
        )
        text = f"Chose {choice.author}'s proposal {choice.hparams.brief()}"
        text += f" (track record — {stats})." if stats else " (first round: literature prior)."
        if changed:
            text += " Both proposals were already trained; took a small step from the choice."
        return text + f" Its reasoning: {choice.rationale}"


class AllocationSupervisor(TrackRecordSupervisor):
    """The lab's offline supervisor: round 1 (or a round without the optimizer's proposal) as
    the track-record supervisor, i.e. the literature prior; then the allocation rule
    (`trainlab.search.allocation`) gives a share of the trials to consultant B's proposal when
    it differs from the optimizer's (consultant A: the run's study), the rest to the
    optimizer. The justification says whose turn it was and why."""

    def __init__(self, seed: int, share: float = DEFAULT_AGENT_SHARE) -> None:
        super().__init__(seed)
        self.allocator = Allocator(share, seed)

    def finalize(self, view: RoundView, proposals: Sequence[Proposal]) -> FinalConfig:
        by_author = {p.author: p for p in proposals}
        optimizer, consultants = by_author.get("consultant_a"), by_author.get("consultant_b")
        if not view.history or optimizer is None:
            return super().finalize(view, proposals)
        suggestion = view.optimizer.suggestion if view.optimizer else optimizer.hparams
        taken = sum(t.final.source == "consultant_b" for t in view.history[1:])
        decision = self.allocator.decide(
            len(view.history), taken, suggestion, consultants.hparams if consultants else None
        )
        choice = consultants if decision.source == "consultants" else optimizer
        hparams, changed = fresh(decision.hparams, view, round_rng(self.seed, view.round, "sup"))
        justification = decision.justification + (
            " It was already trained; took a small step from it." if changed else ""
        )
        return FinalConfig(
            round=view.round,
            hparams=hparams,
            source=choice.author,
            justification=f"{justification} Its reasoning: {choice.rationale}",
            policy="offline:allocation",
            warnings=choice.warnings,
            remedies=choice.remedies,
        )


def _track_records(history: Sequence[Trial]) -> dict[str, tuple[int, int]]:
    """author → (picks that set a new best, picks)."""
    records: dict[str, tuple[int, int]] = {}
    best = -1.0
    for trial in history:
        wins, picks = records.get(trial.final.source, (0, 0))
        improved = trial.score > best
        best = max(best, trial.score)
        records[trial.final.source] = (wins + improved, picks + 1)
    return records


class HeuristicAnalyst:
    """Curve heuristics → flags, trend features and search keywords."""

    def analyze(
        self, round_: int, summary: TrialSummary, rows: Sequence[Mapping[str, Any]]
    ) -> Analysis:
        flags, features = diagnose(summary, rows)
        summary_text = f"Trial {summary.status} after {summary.epochs_run} epochs; " + (
            f"flags: {', '.join(flags)}."
        )
        return Analysis(
            round=round_,
            flags=flags,
            features=features,
            keywords=[FLAG_KEYWORDS[f] for f in flags],
            summary=summary_text,
            policy="offline:heuristics",
        )


class KnowledgeBaseResearcher:
    """Looks the analyst's flags up in the local knowledge base of remedies."""

    def research(self, analysis: Analysis) -> ResearchNote:
        remedies = remedies_for(analysis.flags)
        return ResearchNote(
            round=analysis.round,
            query="; ".join(analysis.keywords),
            remedies=remedies,
            sources=sorted({r.reference for r in remedies}),
            policy="offline:knowledge-base",
        )


def offline_advisors(seed: int, agent_share: float = DEFAULT_AGENT_SHARE) -> Advisors:
    return Advisors(
        consultant_a=TPEConsultant(seed),
        consultant_b=ExpertConsultant(seed),
        supervisor=AllocationSupervisor(seed, agent_share),
        analyst=HeuristicAnalyst(),
        researcher=KnowledgeBaseResearcher(),
    )
