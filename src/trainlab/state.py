"""Graph state and the records it holds: small, JSON-serializable, never tensors.

Records are pydantic models at the edges (validation, files) and their JSON form inside the
graph state (the `*Record` TypedDicts below), so the checkpointer stores nothing but JSON-like
values. The state is bounded: it holds the round under way and counts; the full history lives
in the trial folders (`trainlab.lab_history`), the trials CSV and the Optuna study.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from trainlab.space import HParams

TrialStatus = Literal["complete", "diverged", "failed", "pruned"]


class Attempt(BaseModel):
    """One try at training a trial with a given batch size (OOM step-down leaves several)."""

    batch_size: int
    outcome: Literal["ok", "oom", "diverged", "error"]
    detail: str = ""


class TrialSummary(BaseModel):
    """What one trial produced; written as summary.json in the trial folder."""

    status: TrialStatus
    reason: str | None = None
    best_val_acc: float | None = None
    best_val_loss: float | None = None
    best_epoch: int | None = None
    epochs_run: int = 0
    test_acc: float | None = None
    test_f1: float | None = None
    test_ece: float | None = None
    requested_hparams: HParams
    effective_hparams: HParams
    oom_adjusted: bool = False
    attempts: list[Attempt] = Field(default_factory=list)
    val_and_test_same_dataset: bool
    seed: int
    device: str
    seconds: float
    images_per_sec: float | None = None
    peak_memory_mb: float | None = None
    trial_dir: str
    warnings: list[str] = Field(default_factory=list)  # e.g. an unreadable checkpoint retrained
    # measured by the lab for multi-objective runs and constraints (search/objectives.py)
    latency_ms: float | None = None  # inference ms per image, batch 1, the trial's device
    param_count: int | None = None  # trainable parameters
    memory_mb: float | None = None  # the batch finder's probe at the batch trained


class Proposal(BaseModel):
    """A consultant's suggestion for the next configuration."""

    round: int
    author: Literal["consultant_a", "consultant_b"]
    hparams: HParams
    rationale: str
    policy: str
    warnings: list[str] = Field(default_factory=list)
    remedies: list[Remedy] = Field(default_factory=list)  # applied to the previous trial


class TrialNumbered:
    """A record of one trial: `number` is its trial number (its round, in records from before
    several trials ran per round). The models declare `round` and `trial` themselves."""

    @property
    def number(self) -> int:
        return self.trial or self.round  # type: ignore[attr-defined]


class FinalConfig(TrialNumbered, BaseModel):
    """The supervisor's decision for a round."""

    round: int
    hparams: HParams
    source: str
    justification: str
    policy: str
    warnings: list[str] = Field(default_factory=list)
    remedies: list[Remedy] = Field(default_factory=list)  # the chosen proposal's
    trial: int | None = None  # the trial number (trial folder trial_{n-1}); several per round
    model_width: int | None = None  # the searched width (multi-objective runs); None: --width


class Analysis(TrialNumbered, BaseModel):
    """The analyst's reading of one trial's curves (analysis.json)."""

    round: int
    flags: list[str]
    features: dict[str, float | None]
    keywords: list[str]
    summary: str
    policy: str
    trial: int | None = None


class Remedy(BaseModel):
    """A concrete change to the hyperparameters, with where the advice comes from."""

    flag: str
    action: str
    changes: dict[str, Any]
    reference: str
    applied_to: int | None = None  # the number of the trial it changed; None: the one before


class ResearchNote(TrialNumbered, BaseModel):
    """The researcher's remedies for one round (research.json)."""

    round: int
    query: str
    remedies: list[Remedy]
    sources: list[str] = Field(default_factory=list)
    policy: str
    trial: int | None = None


# --- the records' JSON form in the graph state (a test checks they match the models' fields)


class AttemptDict(TypedDict):
    batch_size: int
    outcome: Literal["ok", "oom", "diverged", "error"]
    detail: str


class TrialDict(TypedDict):
    status: TrialStatus
    reason: str | None
    best_val_acc: float | None
    best_val_loss: float | None
    best_epoch: int | None
    epochs_run: int
    test_acc: float | None
    test_f1: float | None
    test_ece: float | None
    requested_hparams: dict[str, Any]
    effective_hparams: dict[str, Any]
    oom_adjusted: bool
    attempts: list[AttemptDict]
    val_and_test_same_dataset: bool
    seed: int
    device: str
    seconds: float
    images_per_sec: float | None
    peak_memory_mb: float | None
    trial_dir: str
    warnings: list[str]
    latency_ms: float | None
    param_count: int | None
    memory_mb: float | None


class RemedyDict(TypedDict):
    flag: str
    action: str
    changes: dict[str, Any]
    reference: str
    applied_to: int | None


class ProposalDict(TypedDict):
    round: int
    author: Literal["consultant_a", "consultant_b"]
    hparams: dict[str, Any]
    rationale: str
    policy: str
    warnings: list[str]
    remedies: list[RemedyDict]


class FinalDict(TypedDict):
    round: int
    hparams: dict[str, Any]
    source: str
    justification: str
    policy: str
    warnings: list[str]
    remedies: list[RemedyDict]
    trial: int | None
    model_width: int | None


class AnalysisDict(TypedDict):
    round: int
    flags: list[str]
    features: dict[str, float | None]
    keywords: list[str]
    summary: str
    policy: str
    trial: int | None


class ResearchDict(TypedDict):
    round: int
    query: str
    remedies: list[RemedyDict]
    sources: list[str]
    policy: str
    trial: int | None


class BestDict(TypedDict):
    round: int
    best_val_acc: float | None


def this_round(current: list[ProposalDict], new: list[ProposalDict]) -> list[ProposalDict]:
    """Reducer of the consultation: the round under way's proposals (a new round's first
    proposal starts the list afresh; the finished rounds' are in their trial folders)."""
    if not new:
        return current
    return [p for p in current if p["round"] == new[-1]["round"]] + new


class LabInput(TypedDict, total=False):
    """What a lab run may be given (all optional): an existing run folder (the CLI's; Studio
    creates one) and `settings`, a LabSettings override in JSON form (`{"train": {"epochs": 3}}`)
    applied over the run context's settings."""

    run_dir: str
    settings: dict[str, Any]


class HPOState(LabInput, total=False):
    """State of the HPO lab graph, bounded: what the next node needs, plus counts.

    A record is here only from the node that makes it to the node that uses it (supervisor →
    `finals` → executor → `trials` → analyst → `analyses` → researcher → `research` → record;
    one record per trial: a batch of trials is one list); the consultation's `proposals` until
    the supervisor; the proposal workflow's `research_proposals` and its `proposal_request`
    until record. Every record of every trial is in its trial folder
    (`lab_history.full_state` reads them back), so a checkpoint's size does not grow with
    the rounds."""

    rounds: int
    round: int  # the round under way (record increments it)
    trials_done: int  # trials recorded so far: trial folders 1..trials_done are complete
    epochs_spent: int  # epochs those trials trained (the epoch budget's count)
    seconds_spent: float  # wall seconds the run's processes spent up to the last record
    proposals: Annotated[list[ProposalDict], this_round]
    finals: list[FinalDict]
    trials: list[TrialDict]
    analyses: list[AnalysisDict]
    research: list[ResearchDict]
    best: BestDict | None  # the run's best so far (all of it: best_overall.json)
    proposal_request: dict[str, Any]  # the proposal subgraph's input (graphs/proposal.py)
    research_proposals: Annotated[list[dict[str, Any]], operator.add]  # its ProposalRecords
    adopted: list[dict[str, Any]]  # every Adoption so far (--adopt-components; record writes it)
