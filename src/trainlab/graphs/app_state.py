"""State of the application graph: the task, and the keys its three subgraphs read and write."""

from __future__ import annotations

from typing import Literal

from trainlab.graphs.k1_state import K1State
from trainlab.graphs.proposal_state import ProposalInput, ProposalOutput
from trainlab.state import HPOState

Task = Literal["hpo", "propose", "k1"]


class AppState(HPOState, K1State, ProposalInput, ProposalOutput, total=False):
    """`task` picks the subgraph; every other key is that subgraph's own input and output
    (`settings`: the task's settings override; its context: the task graph's fields)."""

    task: Task
