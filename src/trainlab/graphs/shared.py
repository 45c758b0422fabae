"""What the graphs share: the recursion limit and the run config (thread id + limit)."""

from __future__ import annotations

from typing import Any

MARGIN = 10  # supersteps beyond a graph's count: the app router, init and end nodes


def recursion_limit(supersteps: int) -> int:
    """LangGraph's step limit for a run of `supersteps` (its default of 25 stops long runs)."""
    return supersteps + MARGIN


def run_config(thread_id: str, supersteps: int) -> dict[str, Any]:
    """The config of a checkpointed run: its thread and its recursion limit."""
    return {
        "configurable": {"thread_id": thread_id},
        "recursion_limit": recursion_limit(supersteps),
    }
