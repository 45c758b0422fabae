"""The HPO lab's capabilities: what each graph node does, without any graph wiring."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from trainlab.agents.base import Advisors
from trainlab.agents.factory import build_advisors
from trainlab.agents.offline import offline_advisors
from trainlab.config import LabSettings
from trainlab.reporting.trackers import also_track, open_tracker
from trainlab.runstore import new_run_dir, write_json
from trainlab.state import Analysis, FinalConfig, ResearchNote, TrialSummary


class LabDisplay(Protocol):
    """Where the lab reports progress (a rich live display in the terminal, nothing in tests)."""

    def phase(self, round_: int, name: str) -> None: ...

    def epoch(self, row: Mapping[str, Any]) -> None: ...

    def trial_done(self, round_: int, summary: TrialSummary) -> None: ...


class NullDisplay:
    def phase(self, round_: int, name: str) -> None:
        pass

    def epoch(self, row: Mapping[str, Any]) -> None:
        pass

    def trial_done(self, round_: int, summary: TrialSummary) -> None:
        pass


@dataclass
class LabRuntime:
    """What the nodes need besides the state: settings, agent policies, a display."""

    settings: LabSettings
    advisors: Advisors
    display: LabDisplay = field(default_factory=NullDisplay)
    run_dir: Path | None = None  # where the LLM policies write transcripts (set by init)
    mode: str = "Agents: offline policies."  # one line: which policies serve the roles

    @classmethod
    def offline(cls, settings: LabSettings, display: LabDisplay | None = None) -> LabRuntime:
        return cls(settings, offline_advisors(settings.train.seed), display or NullDisplay())

    @classmethod
    def create(
        cls, settings: LabSettings, display: LabDisplay | None = None, run_dir: Path | None = None
    ) -> LabRuntime:
        """LLM policies for every role with an API key, offline ones for the rest (or all)."""
        runtime = cls.offline(settings, display)
        runtime.run_dir = run_dir
        runtime.advisors, runtime.mode = build_advisors(settings, lambda: runtime.run_dir)
        return runtime


def start_run(settings: LabSettings) -> Path:
    """Create a new run folder and record its settings — never any secret."""
    run_dir = new_run_dir(settings.output_dir)
    write_json(run_dir / "config.json", settings.model_dump(mode="json"))
    return run_dir


def trial_dir(run_dir: Path, round_: int) -> Path:
    return run_dir / f"trial_{round_ - 1}"


def execute_trial(runtime: LabRuntime, run_dir: Path, final: FinalConfig) -> TrialSummary:
    """Train the round's configuration (resuming a half-finished trial after a crash)."""
    from trainlab.training.data import load_splits
    from trainlab.training.trainer import run_trial

    settings = runtime.settings
    data = load_splits(settings.data, settings.train.seed)
    folder = trial_dir(run_dir.resolve(), final.round)  # absolute: resume may run from elsewhere
    tracker = open_tracker(settings.tracker, run_dir)
    tracker.start_trial(folder.name, final.hparams.model_dump())
    summary = run_trial(
        final.hparams,
        settings.train,
        data,
        folder,
        on_epoch=also_track(tracker, runtime.display.epoch),
    )
    tracker.end_trial(summary)
    runtime.display.trial_done(final.round, summary)
    return summary


def read_epoch_rows(folder: Path) -> list[dict[str, float]]:
    path = folder / "metrics_epoch.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def analyze_trial(
    runtime: LabRuntime, run_dir: Path, summary: TrialSummary, round_: int
) -> Analysis:
    folder = trial_dir(run_dir, round_)  # not summary.trial_dir: the run folder may have moved
    analysis = runtime.advisors.analyst.analyze(round_, summary, read_epoch_rows(folder))
    write_json(folder / "analysis.json", analysis.model_dump(mode="json"))
    return analysis


def research_remedies(runtime: LabRuntime, run_dir: Path, analysis: Analysis) -> ResearchNote:
    note = runtime.advisors.researcher.research(analysis)
    write_json(trial_dir(run_dir, analysis.round) / "research.json", note.model_dump(mode="json"))
    return note
