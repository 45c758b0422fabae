"""The graphs that langgraph.json names (`./src/trainlab/graphs/studio.py:hpo` …), built on
first attribute access: importing this module reads no .env and builds no client.

Defaults run offline on digits in seconds (width 8, 2 rounds × 2 epochs, val_split 0.2, no
augmentation; K-1: one tiny job); LLM roles are used where a key is set, as in the CLI. Each
graph has a narrow input and a context (Studio's form of run settings):

    hpo       input {} or {"settings": {...}} (a LabSettings override); context LabContext
    proposal  input {"topic": "...", "pattern": "sequential"}
    k1        input {} or {"settings": {...}} (a K1Settings override); context K1Context
    app       {"task": "hpo" | "propose" | "k1", …the task's input}
"""

from __future__ import annotations

from functools import cache
from typing import Any

from trainlab.graphs.context import STUDIO_SETTINGS

GRAPHS = ("hpo", "proposal", "k1", "app")
__all__ = ["GRAPHS", "STUDIO_SETTINGS", "build"]


@cache
def build(name: str) -> Any:
    """One compiled graph by its langgraph.json name."""
    from trainlab.graphs.app import build_app_graph
    from trainlab.graphs.hpo import build_hpo_graph
    from trainlab.graphs.k1 import build_k1_graph
    from trainlab.graphs.proposal import build_proposal_graph
    from trainlab.lab import LabRuntime

    if name == "hpo":
        return build_hpo_graph(LabRuntime.create(STUDIO_SETTINGS))[0]
    if name == "proposal":
        return build_proposal_graph()[0]
    if name == "k1":
        return build_k1_graph()[0]
    return build_app_graph(LabRuntime.create(STUDIO_SETTINGS))


def __getattr__(name: str) -> Any:
    if name in GRAPHS:
        return build(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
