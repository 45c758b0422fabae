"""Graph state and the records it holds: small, JSON-serializable, never tensors.

Records are pydantic models at the edges (validation, files) and plain dicts inside the graph
state, so the checkpointer stores nothing but JSON-like values.
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


class Proposal(BaseModel):
    """A consultant's suggestion for the next configuration."""

    round: int
    author: Literal["consultant_a", "consultant_b"]
    hparams: HParams
    rationale: str
    policy: str
    warnings: list[str] = Field(default_factory=list)
    remedies: list[Remedy] = Field(default_factory=list)  # applied to the previous trial


class FinalConfig(BaseModel):
    """The supervisor's decision for a round."""

    round: int
    hparams: HParams
    source: str
    justification: str
    policy: str
    warnings: list[str] = Field(default_factory=list)
    remedies: list[Remedy] = Field(default_factory=list)  # the chosen proposal's


class Analysis(BaseModel):
    """The analyst's reading of one trial's curves (analysis.json)."""

    round: int
    flags: list[str]
    features: dict[str, float | None]
    keywords: list[str]
    summary: str
    policy: str


class Remedy(BaseModel):
    """A concrete change to the hyperparameters, with where the advice comes from."""

    flag: str
    action: str
    changes: dict[str, Any]
    reference: str


class ResearchNote(BaseModel):
    """The researcher's remedies for one round (research.json)."""

    round: int
    query: str
    remedies: list[Remedy]
    sources: list[str] = Field(default_factory=list)
    policy: str


class LabInput(TypedDict, total=False):
    """What a lab run may be given (all optional): an existing run folder (the CLI's; Studio
    creates one) and `settings`, a LabSettings override in JSON form (`{"train": {"epochs": 3}}`)
    applied over the run context's settings."""

    run_dir: str
    settings: dict[str, Any]


class HPOState(LabInput, total=False):
    """State of the HPO lab graph. Lists are append-only: nodes return only new items."""

    rounds: int
    round: int
    proposals: Annotated[list[dict[str, Any]], operator.add]
    finals: Annotated[list[dict[str, Any]], operator.add]
    trials: Annotated[list[dict[str, Any]], operator.add]
    analyses: Annotated[list[dict[str, Any]], operator.add]
    research: Annotated[list[dict[str, Any]], operator.add]
    best: dict[str, Any] | None
    proposal_request: dict[str, Any]  # the proposal subgraph's input (graphs/proposal.py)
    research_proposals: Annotated[list[dict[str, Any]], operator.add]  # its ProposalRecords
