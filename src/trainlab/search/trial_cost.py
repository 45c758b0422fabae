"""A lab trial's cost, for multi-objective runs and constraints: the batch it starts at under
--max-memory-mb (the batch finder; the trainer's OOM step-down stays the safety net) and the
latency, parameters and memory its summary records (search/objectives.py reads them)."""

from __future__ import annotations

from pathlib import Path

from trainlab.config import LabSettings
from trainlab.space import BATCH_SIZES, HParams
from trainlab.state import TrialSummary
from trainlab.tools.batch_finder import BatchChoice
from trainlab.tools.cost import fitting_batch, model_cost
from trainlab.training import artifacts
from trainlab.training.data import ImageSplits
from trainlab.training.device import resolve_device


def plan_batch(
    settings: LabSettings, data: ImageSplits, trial_dir: Path, width: int, hparams: HParams
) -> BatchChoice | None:
    """The batch finder's choice under --max-memory-mb (None: no budget, or the trial's
    finished summary already records its memory)."""
    if settings.max_memory_mb is None:
        return None
    done = artifacts.finished_summary(trial_dir)
    if done is not None and done.memory_mb is not None:
        return None
    device = resolve_device(settings.train.device)
    budget = settings.max_memory_mb
    return fitting_batch(data, width, device, budget, hparams.train_batch_size)


def start_batch(choice: BatchChoice | None) -> int | None:
    """Where the trainer starts: the finder's batch, the smallest when none fits."""
    if choice is None:
        return None
    return choice.batch_size or min(BATCH_SIZES)


def with_cost(
    settings: LabSettings,
    summary: TrialSummary,
    data: ImageSplits,
    width: int,
    choice: BatchChoice | None,
    known_latency: float | None = None,
) -> TrialSummary:
    """The summary with the latency and parameters (multi-objective runs; `known_latency`:
    the run's measurement of this width on this device, reused so that trials of one
    architecture tie) and the memory at its batch (--max-memory-mb) filled in where they are
    missing."""
    update: dict[str, object] = {}
    if settings.goal.measures_cost and summary.latency_ms is None:
        cost = model_cost(data, width, resolve_device(settings.train.device), known_latency)
        update |= {"latency_ms": cost.latency_ms, "param_count": cost.param_count}
    if choice is not None and summary.memory_mb is None:
        batch = summary.effective_hparams.train_batch_size
        update["memory_mb"] = choice.measured_mb.get(batch)
        update["warnings"] = [*summary.warnings, f"batch finder: {choice.reason}"]
    return summary.model_copy(update=update) if update else summary
