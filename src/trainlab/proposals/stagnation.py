"""The stagnation trigger: when the lab's search stagnates, the researcher asks the proposal
workflow for one proposal, validated on the lab's own data with a small budget.

Validation cost per proposal: 2 paired seeds × 2 arms × min(epochs, 3) epochs at ResNet-9
width min(width, 16) on the lab's dataset — 12 short epochs at most (measured: 9 s on digits
on one CPU thread; not measured on CIFAR-10, whose epochs cost far more).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainlab.agents.base import RoundView
from trainlab.config import LabSettings
from trainlab.lab import LabRuntime
from trainlab.proposals import library
from trainlab.proposals.agents import Team, build_team
from trainlab.proposals.request import Budget, ProposalRequest
from trainlab.runstore import RunFolder

SEEDS = 2
MAX_EPOCHS = 3
MAX_WIDTH = 16


def stagnated(scores: Sequence[float], asked: Sequence[int], k: int) -> bool:
    """True when the best score has not improved for `k` rounds and nobody has asked since.

    `scores[i]` is round i+1's score; `asked` are the rounds that already asked. `k` = 0 never.
    """
    if k <= 0 or not scores:
        return False
    best_round = 1 + list(scores).index(max(scores))
    return len(scores) - best_round >= k and all(r <= best_round for r in asked)


def due(view: RoundView, records: Sequence[Mapping[str, Any]], k: int) -> bool:
    """Whether this round of the lab asks for a proposal."""
    asked = [r["lab_round"] for r in records if r.get("lab_round") is not None]
    best: dict[int, float] = {}  # round → its best score (a batch round trains several)
    for trial in view.history:
        best[trial.final.round] = max(best.get(trial.final.round, 0.0), trial.score)
    return stagnated([best[r] for r in sorted(best)], asked, k)


def budget(settings: LabSettings) -> Budget:
    """Small: the lab's data and device, 2 seeds, at most 3 epochs and width 16."""
    return Budget(
        dataset=settings.data.dataset,
        data_dir=settings.data.data_dir,
        val_split=settings.data.val_split,
        device=settings.train.device,
        seeds=SEEDS,
        epochs=min(settings.train.epochs, MAX_EPOCHS),
        width=min(settings.train.model_width, MAX_WIDTH),
    )


def topic(view: RoundView, k: int) -> str:
    best = view.best.score if view.best else 0.0
    flags = ", ".join(view.analysis.flags) if view.analysis else "none"
    return (
        "faster convergence and better generalization of a small CNN image classifier; its "
        f"hyperparameter search has not improved the best validation accuracy ({best:.4f}) "
        f"for {k} rounds; latest learning-curve flags: {flags}"
    )


def request(
    settings: LabSettings,
    view: RoundView,
    run_dir: Path,
    records: Sequence[Mapping[str, Any]],
) -> ProposalRequest:
    """One validated, sequential proposal about a component not proposed before in this run
    (once every matching one has been, they may come again)."""
    text = topic(view, settings.stagnation_rounds)
    proposed = tuple(name for r in records for name in r.get("components", ()))
    return ProposalRequest(
        topic=text,
        pattern="sequential",
        run_validation=True,
        budget=budget(settings),
        out_dir=RunFolder(run_dir).proposals,
        name=f"round_{view.round}",
        exclude=proposed if library.match(text, proposed) else (),
        lab_round=view.round,
    )


def team(runtime: LabRuntime) -> Team:
    """The lab's proposal team: offline with --offline or no key, else the researcher's
    endpoint and model; transcripts under the run's proposals folder."""
    settings = runtime.settings
    return build_team(
        offline=settings.offline,
        model=settings.models["researcher"],
        run_dir=runtime.proposals_dir,
        anonymize=settings.anonymize,
        extra_terms=[settings.data.dataset],
    )
