"""The application graph: a router on the task runs the lab, the proposal workflow or K-1, each
a compiled subgraph node (each graph also runs alone through its own `build_*_graph`).

    START ─(task)→ hpo | propose | k1 → END
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from trainlab.graphs.app_state import AppState, Task
from trainlab.graphs.hpo import build_hpo_graph
from trainlab.graphs.k1 import Event, build_k1_graph
from trainlab.graphs.proposal import build_proposal_graph
from trainlab.lab import LabRuntime
from trainlab.proposals.agents import Team

TASKS: tuple[Task, ...] = ("hpo", "propose", "k1")


def route(state: AppState) -> Task:
    """The subgraph that serves the task (a missing task is the lab)."""
    task = state.get("task", "hpo")
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    return task


def build_app_graph(
    hpo: LabRuntime,
    team: Team | None = None,
    on_k1_event: Event | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
) -> CompiledStateGraph:
    """The three graphs behind one router; subgraphs share this graph's checkpointer."""
    builder = StateGraph(AppState)
    builder.add_node("hpo", build_hpo_graph(hpo)[0])
    builder.add_node("propose", build_proposal_graph(team)[0])
    builder.add_node("k1", build_k1_graph(on_event=on_k1_event)[0])
    builder.add_conditional_edges(START, route)
    for task in TASKS:
        builder.add_edge(task, END)
    return builder.compile(checkpointer=checkpointer)
