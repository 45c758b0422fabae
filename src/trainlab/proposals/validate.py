"""Validation: run a proposal's designed experiment through the experiment framework and write
what it measured into the proposal.

Only validated `ExperimentConfig` fields and registry names are run — never code from a
proposal. A proposal without an experiment is run as its first library component against that
component's baseline; one that names no library component is recorded as "not run"; a run that
fails is recorded as "failed" with the reason (the workflow, and the lab around it, go on).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from trainlab.components import registry
from trainlab.experiments.config import ExperimentConfig
from trainlab.experiments.runner import ExperimentRunner
from trainlab.proposals.off_library import NOT_IMPLEMENTED
from trainlab.proposals.request import Budget
from trainlab.proposals.schema import ResearchProposal, ValidationResult

EXPERIMENTS = "experiments"  # under the proposals folder; arms are shared between proposals


def experiment_for(proposal: ResearchProposal, budget: Budget) -> ExperimentConfig | None:
    """The designed experiment, else one for the first library component it names."""
    if proposal.validation.experiment is not None:
        return proposal.validation.experiment
    named = [registry.REGISTRY[n] for n in proposal.components if n in registry.REGISTRY]
    testable = [c for c in named if c.baseline]
    return budget.config_for(testable[0]) if testable else None


def validate(
    proposal: ResearchProposal,
    budget: Budget,
    folder: Path,
    log: Callable[[str], None] | None = None,
) -> ResearchProposal:
    """The proposal with `results` filled in (measured, not run, or failed)."""
    config = experiment_for(proposal, budget)
    if config is None:
        result = ValidationResult(
            status="not run",
            reason=f"{NOT_IMPLEMENTED} (the proposal names no library component with a "
            "baseline to measure against)",
        )
    else:
        result = measure(config, proposal.validation.metric, folder / EXPERIMENTS, log)
    return proposal.model_copy(update={"results": result})


def measure(
    config: ExperimentConfig,
    metric: str,
    folder: Path,
    log: Callable[[str], None] | None = None,
) -> ValidationResult:
    """Run the experiment; its comparisons and the verdict on `metric`."""
    budget = f"{config.seeds} paired seeds × {config.epochs} epochs on {config.dataset}"
    start = time.perf_counter()
    try:
        result = ExperimentRunner(folder, log).run(config)
    except Exception as exc:  # recorded, never raised: a failed validation is a result too
        return ValidationResult(
            status="failed",
            reason=f"{type(exc).__name__}: {' '.join(str(exc).split())}",
            metric=metric,
            budget=budget,
            seconds=time.perf_counter() - start,
        )
    return ValidationResult(
        status="measured",
        metric=metric,
        verdict=result.comparison(metric).verdict,
        accuracy_verdict=result.verdict,
        comparisons=result.comparisons,
        budget=f"{config.name}: {budget} (width {config.width})",
        device=result.device,
        seconds=time.perf_counter() - start,
        directory=result.directory,
    )
