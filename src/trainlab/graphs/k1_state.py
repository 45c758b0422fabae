"""State of the K-1 graph: settings, paths and metric records; learner state lives on disk."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from typing_extensions import TypedDict


class K1Input(TypedDict, total=False):
    """What a K-1 run may be given: `settings` (a K1Settings override in JSON form, over the run
    context) and `run_dir` (the CLI's run folder; else a new one)."""

    run_dir: str
    settings: dict[str, Any]


class K1State(K1Input, total=False):
    data: dict[str, dict[str, str]]
    jobs: list[dict[str, Any]]
    job: int
    domain: int
    step: int
    ckpt: str | None
    chunks: Annotated[list[dict[str, Any]], operator.add]
    evals: Annotated[list[dict[str, Any]], operator.add]
    structure: Annotated[list[dict[str, Any]], operator.add]  # k1_structure steps
    report: dict[str, str]
