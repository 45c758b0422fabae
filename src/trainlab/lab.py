"""The HPO lab's capabilities: what each graph node does, without any graph wiring."""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from trainlab.agents.base import Advisors, RoundView
from trainlab.agents.factory import build_advisors
from trainlab.agents.offline import offline_advisors
from trainlab.config import LabSettings
from trainlab.lab_history import full_state
from trainlab.reporting.trackers import also_track, open_tracker
from trainlab.runstore import RunFolder, new_run_dir, read_json, write_json
from trainlab.search.lab_search import LabSearch, predicted_final
from trainlab.state import Analysis, FinalConfig, ResearchNote, TrialSummary

if TYPE_CHECKING:
    from trainlab.config import TrainSettings
    from trainlab.space import HParams
    from trainlab.training.data import ImageSplits
    from trainlab.training.trainer import TrialComponents


class LabDisplay(Protocol):
    """Where the lab reports progress (a rich live display in the terminal, nothing in tests)."""

    def phase(self, round_: int, name: str) -> None: ...

    def epoch(self, row: Mapping[str, Any]) -> None: ...

    def trial_done(self, round_: int, summary: TrialSummary) -> None: ...

    def decision(self, round_: int, role: str, policy: str) -> None: ...

    def batch(self, progress: Sequence[Any]) -> None: ...  # execution.TrialProgress per trial


class NullDisplay:
    def phase(self, round_: int, name: str) -> None:
        pass

    def epoch(self, row: Mapping[str, Any]) -> None:
        pass

    def trial_done(self, round_: int, summary: TrialSummary) -> None:
        pass

    def decision(self, round_: int, role: str, policy: str) -> None:
        pass

    def batch(self, progress: Sequence[Any]) -> None:
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
    _backend: Any = field(default=None, repr=False)

    @property
    def run_dir(self) -> Path | None:
        return self.folder.path if self.folder else None

    @run_dir.setter
    def run_dir(self, path: Path | None) -> None:
        self.folder = RunFolder(path) if path else None

    def search(self, folder: RunFolder, adopted: Sequence[str] | None = None) -> LabSearch:
        """The run's search state (its study in the run folder), opened on first use and
        again when `adopted` (the state's adopted optimizers; None: as open) changes."""
        if self._search is None or (adopted is not None and tuple(adopted) != self._search.adopted):
            thread = read_json(folder.record)["thread_id"] if folder.record.is_file() else ""
            thread = thread or folder.path.name
            self._search = LabSearch(self.settings, folder.path, thread, adopted or ())
        return self._search

    def backend(self) -> Any:
        """Where batches run (`--workers > 1`): Ray tasks, the runtime started on first use."""
        if self._backend is None:
            from trainlab.execution.ray_backend import RayBackend

            self._backend = RayBackend(self.settings.ray_settings)
        return self._backend

    def round_view(self, state: Mapping[str, Any]) -> RoundView:
        """What the round's agents see: the graph state and the run's optimizer."""
        folder = self.folder or RunFolder(state["run_dir"])  # the CLI's (a resume: moved?)
        view = RoundView.from_state(full_state(folder, state))
        search = self.search(folder, view.adopted)
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
    shared = settings.checkpointer != "sqlite" or settings.storage is not None
    # a database that several runs share tells their threads (and studies) apart
    folder.begin(f"{folder.path.name}-{secrets.token_hex(4)}" if shared else None)
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
    to the run's study and its pruner (the open one: with adopted optimizers,
    `runtime.search(folder, adopted)` opened it first); multi-objective runs measure its cost
    after."""
    from trainlab.search.trial_cost import plan_batch, start_batch, with_cost
    from trainlab.training.data import load_splits
    from trainlab.training.trainer import run_trial

    settings, search = runtime.settings, runtime.search(folder)
    data = load_splits(settings.data, settings.train.seed)
    trial = folder.trial(final.number)
    width = final.model_width or settings.train.model_width
    train = settings.train.model_copy(
        update={"epochs": search.epochs_for(final.number), "model_width": width}
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
        components=adopted_components(search.adopted, final.hparams, data, train),
        start_batch=start_batch(choice),
    )
    known = search.study.latency_of(width, summary.device)
    summary = with_cost(settings, summary, data, width, choice, known)
    tracker.end_trial(summary)
    search.record(final, summary, [row["val_acc"] for row in read_epoch_rows(trial)])
    # a finished trial's summary.json names its folder where it was trained: give where it is
    summary = summary.model_copy(update={"trial_dir": str(folder.trial(final.number))})
    runtime.display.trial_done(final.round, summary)
    return summary


def batch_finals(
    runtime: LabRuntime, folder: RunFolder, view: RoundView, final: FinalConfig
) -> list[FinalConfig]:
    """The round's trials: the supervisor's `final` and, with --workers N, up to N-1 of the
    optimizer's asks (as many as the budget funds), none trained or in flight already."""
    settings = runtime.settings
    if settings.workers == 1:
        return [final]
    search = runtime.search(folder)
    configs = search.batch(final.hparams, view.tried(), view.round, search.slots())
    return [final] + [
        FinalConfig(
            round=final.round,
            hparams=hparams,
            source="optimizer",
            justification=f"Batch slot {slot}: the {settings.sampler} optimizer's ask, new to "
            "the study (no trained or in-flight configuration repeated).",
            policy=f"offline:{settings.sampler}-ask",
        )
        for slot, hparams in enumerate(configs[1:], start=2)
    ]


def execute_batch(
    runtime: LabRuntime, folder: RunFolder, finals: Sequence[FinalConfig]
) -> list[TrialSummary]:
    """Train a round's configurations at once as Ray tasks (`--workers`), each pruned by the
    run's study from its worker; a trial that fails for good is a failed summary. Resumed
    after a crash, finished trials return their summary.json and the others continue."""
    from trainlab.execution.jobs import TrialJob

    settings, search = runtime.settings, runtime.search(folder)
    epochs = search.batch_epochs([final.number for final in finals])
    jobs = [
        TrialJob(
            final.hparams,
            settings.train.model_copy(update={"epochs": n}),
            settings.data,
            folder.trial(final.number),
            pruning=search.remote_pruning(final),
        )
        for final, n in zip(finals, epochs, strict=True)
    ]
    summaries = runtime.backend().run_batch(jobs, on_progress=runtime.display.batch)
    return [_recorded(runtime, folder, f, s) for f, s in zip(finals, summaries, strict=True)]


def _recorded(
    runtime: LabRuntime, folder: RunFolder, final: FinalConfig, summary: TrialSummary
) -> TrialSummary:
    """A batch trial told to the study and the tracker, with its folder's current path."""
    trial = folder.trial(final.number)
    rows = read_epoch_rows(trial)
    runtime.search(folder).record(final, summary, [row["val_acc"] for row in rows])
    tracker = open_tracker(runtime.settings.tracker, folder.path)
    tracker.start_trial(trial.name, final.hparams.model_dump())
    for row in rows:
        tracker.log_epoch(row)
    tracker.end_trial(summary)
    summary = summary.model_copy(update={"trial_dir": str(trial)})
    runtime.display.trial_done(final.round, summary)
    return summary


def adopted_components(
    adopted: Sequence[str], hparams: HParams, data: ImageSplits, train: TrainSettings
) -> TrialComponents | None:
    """TrialComponents building the adopted optimizers (None without any: the defaults)."""
    if not adopted:
        return None
    from trainlab.components.registry import BuildContext
    from trainlab.proposals.adoption import AdoptedSpace
    from trainlab.training.trainer import TrialComponents

    per_epoch = max(1, len(data.train_y) // hparams.train_batch_size)  # as the trainer counts
    ctx = BuildContext(
        num_classes=data.num_classes,
        total_steps=per_epoch * train.epochs,
        steps_per_epoch=per_epoch,
        width=train.model_width,
    )
    return TrialComponents(build_optimizer=AdoptedSpace(tuple(adopted)).build_optimizer(ctx))


def read_epoch_rows(folder: Path) -> list[dict[str, float]]:
    path = folder / "metrics_epoch.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def analyze_trial(
    runtime: LabRuntime, folder: RunFolder, summary: TrialSummary, round_: int, number: int
) -> Analysis:
    """The analyst's reading of trial `number` (of round `round_`), in its analysis.json."""
    trial = folder.trial(number)
    # the stored summary.trial_dir may name where the folder was before it moved: the analyst
    # (the LLM one writes analysis_llm.txt there) is handed the folder as it is now
    here = summary.model_copy(update={"trial_dir": str(trial)})
    rows = read_epoch_rows(trial)
    analysis = runtime.advisors.analyst.analyze(round_, here, rows)
    predicted = predicted_final([row["val_acc"] for row in rows], runtime.settings.train.epochs)
    features = {**analysis.features, **predicted}
    analysis = analysis.model_copy(update={"features": features, "trial": number})
    write_json(trial / "analysis.json", analysis.model_dump(mode="json"))
    return analysis


def research_remedies(runtime: LabRuntime, folder: RunFolder, analysis: Analysis) -> ResearchNote:
    note = runtime.advisors.researcher.research(analysis).model_copy(
        update={"trial": analysis.number}
    )
    write_json(folder.trial(analysis.number) / "research.json", note.model_dump(mode="json"))
    return note


def hpo_supersteps(settings: LabSettings) -> int:
    """Supersteps the lab needs: every round (consultation + seven nodes) and the ends."""
    return settings.rounds * (2 * settings.consult_turns + NODES_PER_ROUND)


# supervisor, executor, analyst, researcher, [ask_proposal, proposal,] record
NODES_PER_ROUND = 7
