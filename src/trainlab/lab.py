"""The HPO lab's capabilities: what each graph node does, without any graph wiring."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from trainlab.agents.base import Advisors, RoundView
from trainlab.agents.factory import build_advisors
from trainlab.agents.offline import offline_advisors
from trainlab.config import LabSettings
from trainlab.lab_history import full_state
from trainlab.reporting.trackers import also_track, open_tracker
from trainlab.runstore import RunFolder, new_run_dir, write_json
from trainlab.search.lab_search import LabSearch, predicted_final
from trainlab.state import Analysis, FinalConfig, ResearchNote, TrialSummary


class LabDisplay(Protocol):
    """Where the lab reports progress (a rich live display in the terminal, nothing in tests)."""

    def phase(self, round_: int, name: str) -> None: ...

    def epoch(self, row: Mapping[str, Any]) -> None: ...

    def trial_done(self, round_: int, summary: TrialSummary) -> None: ...

    def decision(self, round_: int, role: str, policy: str) -> None: ...


class NullDisplay:
    def phase(self, round_: int, name: str) -> None:
        pass

    def epoch(self, row: Mapping[str, Any]) -> None:
        pass

    def trial_done(self, round_: int, summary: TrialSummary) -> None:
        pass

    def decision(self, round_: int, role: str, policy: str) -> None:
        pass


@dataclass
class LabRuntime:
    """What the nodes need besides the state: settings, agent policies, a display."""

    settings: LabSettings
    advisors: Advisors
    display: LabDisplay = field(default_factory=NullDisplay)
    folder: RunFolder | None = None  # the run's folder: known to the CLI, created by init in Studio
    mode: str = "Agents: offline policies."  # one line: which policies serve the roles
    _search: LabSearch | None = field(default=None, repr=False)

    @property
    def run_dir(self) -> Path | None:
        return self.folder.path if self.folder else None

    @run_dir.setter
    def run_dir(self, path: Path | None) -> None:
        self.folder = RunFolder(path) if path else None

    def search(self, folder: RunFolder) -> LabSearch:
        """The run's search state (its study in the run folder), opened on first use."""
        if self._search is None:
            self._search = LabSearch(self.settings, folder.path)
        return self._search

    def round_view(self, state: Mapping[str, Any]) -> RoundView:
        """What the round's agents see: the graph state and the run's optimizer."""
        folder = self.folder or RunFolder(state["run_dir"])  # the CLI's (a resume: moved?)
        view = RoundView.from_state(full_state(folder, state))
        search = self.search(folder)
        return replace(view, optimizer=search.state(view))

    def transcripts_dir(self) -> Path | None:
        """Where the LLM policies write transcripts (None until a folder is known)."""
        return self.run_dir

    def proposals_dir(self) -> Path | None:
        """Where the proposal team writes its transcripts."""
        return self.folder.proposals if self.folder else None

    @classmethod
    def offline(cls, settings: LabSettings, display: LabDisplay | None = None) -> LabRuntime:
        advisors = offline_advisors(settings.train.seed, settings.agent_share)
        return cls(settings, advisors, display or NullDisplay())

    @classmethod
    def create(
        cls,
        settings: LabSettings,
        display: LabDisplay | None = None,
        run_dir: Path | None = None,
        probe_endpoints: bool = False,
    ) -> LabRuntime:
        """LLM policies for every role with an API key, offline ones for the rest (or all);
        `probe_endpoints`: ask each LLM endpoint once first (see `build_advisors`)."""
        runtime = cls.offline(settings, display)
        runtime.run_dir = run_dir
        runtime.advisors, runtime.mode = build_advisors(
            settings, runtime.transcripts_dir, probe_endpoints=probe_endpoints
        )
        return runtime


def start_run(settings: LabSettings) -> Path:
    """Create a new run folder and record its settings — never any secret."""
    folder = RunFolder(new_run_dir(settings.output_dir))
    write_json(folder.config, settings.model_dump(mode="json"))
    folder.begin()
    return folder.path


def trial_dir(run_dir: os.PathLike[str] | str, round_: int) -> Path:
    """Round k's trial folder (RunFolder.trial, for callers holding a path)."""
    return RunFolder(run_dir).trial(round_)


def settle(runtime: LabRuntime, folder: RunFolder, final: FinalConfig) -> FinalConfig:
    """The supervisor's decision made whole: round 1 under --warm-start, and the round's
    model width when it is searched (multi-objective runs)."""
    from trainlab.search.warm_start import warm_start

    search = runtime.search(folder)
    final = warm_start(runtime.settings, search.study, final, folder.trial(final.round))
    width = search.width_for(final.round, final.hparams)
    return final.model_copy(update={"model_width": width}) if width else final


def execute_trial(runtime: LabRuntime, folder: RunFolder, final: FinalConfig) -> TrialSummary:
    """Train the round's configuration (resuming a half-finished trial after a crash) for the
    epochs the budget leaves it, at a batch that fits --max-memory-mb, reporting each epoch
    to the run's study and its pruner; multi-objective runs measure its cost after."""
    from trainlab.search.trial_cost import plan_batch, start_batch, with_cost
    from trainlab.training.data import load_splits
    from trainlab.training.trainer import run_trial

    settings, search = runtime.settings, runtime.search(folder)
    data = load_splits(settings.data, settings.train.seed)
    trial = folder.trial(final.round)
    width = final.model_width or settings.train.model_width
    train = settings.train.model_copy(
        update={"epochs": search.epochs_for(final.round), "model_width": width}
    )
    choice = plan_batch(settings, data, trial, width, final.hparams)
    tracker = open_tracker(settings.tracker, folder.path)
    tracker.start_trial(trial.name, final.hparams.model_dump())
    summary = run_trial(
        final.hparams,
        train,
        data,
        trial,
        on_epoch=also_track(tracker, runtime.display.epoch),
        should_stop=search.should_stop(final),
        start_batch=start_batch(choice),
    )
    known = search.study.latency_of(width, summary.device)
    summary = with_cost(settings, summary, data, width, choice, known)
    tracker.end_trial(summary)
    search.record(final, summary, [row["val_acc"] for row in read_epoch_rows(trial)])
    # a finished trial's summary.json names its folder where it was trained: give where it is
    summary = summary.model_copy(update={"trial_dir": str(folder.trial(final.round))})
    runtime.display.trial_done(final.round, summary)
    return summary


def read_epoch_rows(folder: Path) -> list[dict[str, float]]:
    path = folder / "metrics_epoch.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def analyze_trial(
    runtime: LabRuntime, folder: RunFolder, summary: TrialSummary, round_: int
) -> Analysis:
    trial = folder.trial(round_)
    # the stored summary.trial_dir may name where the folder was before it moved: the analyst
    # (the LLM one writes analysis_llm.txt there) is handed the folder as it is now
    here = summary.model_copy(update={"trial_dir": str(trial)})
    rows = read_epoch_rows(trial)
    analysis = runtime.advisors.analyst.analyze(round_, here, rows)
    predicted = predicted_final([row["val_acc"] for row in rows], runtime.settings.train.epochs)
    analysis = analysis.model_copy(update={"features": {**analysis.features, **predicted}})
    write_json(trial / "analysis.json", analysis.model_dump(mode="json"))
    return analysis


def research_remedies(runtime: LabRuntime, folder: RunFolder, analysis: Analysis) -> ResearchNote:
    note = runtime.advisors.researcher.research(analysis)
    write_json(folder.trial(analysis.round) / "research.json", note.model_dump(mode="json"))
    return note


def hpo_supersteps(settings: LabSettings) -> int:
    """Supersteps the lab needs: every round (consultation + seven nodes) and the ends."""
    return settings.rounds * (2 * settings.consult_turns + NODES_PER_ROUND)


# supervisor, executor, analyst, researcher, [ask_proposal, proposal,] record
NODES_PER_ROUND = 7
