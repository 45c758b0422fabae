"""State of the proposal graph: its input (a request), its output (records, messages)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from typing_extensions import TypedDict


class ProposalInput(TypedDict, total=False):
    """A topic and a pattern (Studio; specialized: `agent` answers the topic as a question), or
    a whole `proposal_request` (a ProposalRequest as JSON: the lab and the CLI)."""

    topic: str
    pattern: Literal["sequential", "parallel", "iterative", "specialized"]
    agent: Literal["algorithms", "systems", "engineering", "pipeline", "architecture"]
    proposal_request: dict[str, Any]


class ProposalOutput(TypedDict, total=False):
    research_proposals: Annotated[list[dict[str, Any]], operator.add]
    proposal_messages: Annotated[list[dict[str, Any]], operator.add]


class ProposalState(ProposalInput, ProposalOutput, total=False):
    """Plain JSON-like values only; the lists are append-only (nodes return new items)."""

    round: int
    proposal: dict[str, Any]
