"""Save a LangGraph graph as a PNG: Mermaid's web renderer when reachable, else a local one.

LangGraph's default PNG renderer (mermaid.ink) is a web service; offline we draw the same
nodes and edges with matplotlib so `--draw-graph` always produces a real picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch

ROW_HEIGHT = 1.0


def save_graph_png(graph: Any, path: Path, try_web: bool = True) -> str:
    """Write `graph` (a compiled graph's `get_graph()`) to `path`; return the renderer used."""
    if try_web:
        try:
            path.write_bytes(graph.draw_mermaid_png(max_retries=1, retry_delay=0.5))
            return "mermaid.ink"
        except Exception:
            pass
    draw_locally(graph, path)
    return "local"


def draw_locally(graph: Any, path: Path) -> None:
    """Nodes top to bottom in definition order; forward edges straight, loops as side arcs."""
    order = list(graph.nodes)
    row = {node: i for i, node in enumerate(order)}
    fig, ax = plt.subplots(figsize=(7.5, 0.75 * len(order) + 1))
    for node in order:
        _draw_node(ax, graph.nodes[node], -row[node] * ROW_HEIGHT)
    for edge in graph.edges:
        _draw_edge(ax, row[edge.source], row[edge.target], edge.conditional, edge.data)
    longest = max((abs(row[e.target] - row[e.source]) for e in graph.edges), default=1)
    half_width = max(3.0, 0.32 * longest * ROW_HEIGHT + 1.0)  # room for the widest arc
    ax.set_xlim(-half_width, half_width)
    ax.set_ylim(-len(order) * ROW_HEIGHT, ROW_HEIGHT)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _draw_node(ax: Any, node: Any, y: float) -> None:
    special = node.id.endswith(("__start__", "__end__"))
    label = node.id.replace("__start__", "start").replace("__end__", "end")
    ax.text(
        0,
        y,
        label,
        ha="center",
        va="center",
        fontsize=10,
        bbox={
            "boxstyle": "round,pad=0.4",
            "facecolor": "#e8e8e8" if special else "#dbe9ff",
            "edgecolor": "#555",
        },
    )


def _draw_edge(ax: Any, source: int, target: int, conditional: bool, label: Any) -> None:
    start, end = (0, -source * ROW_HEIGHT), (0, -target * ROW_HEIGHT)
    backwards = target <= source
    skip = abs(target - source) > 1
    rad = 0.6 if backwards else (-0.4 if skip else 0.0)
    offset = 0.25 if backwards else 0.0
    arrow = FancyArrowPatch(
        (start[0] + offset, start[1]),
        (end[0] + offset, end[1]),
        connectionstyle=f"arc3,rad={rad}",
        arrowstyle="-|>",
        mutation_scale=12,
        linestyle="--" if conditional else "-",
        color="#444",
        shrinkA=11,
        shrinkB=11,
    )
    ax.add_patch(arrow)
    if label and conditional:
        mid_y = (start[1] + end[1]) / 2
        ax.text(1.3 if backwards else -1.3, mid_y, str(label), fontsize=7, color="#444")
