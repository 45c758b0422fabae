"""The run's trade-offs (multi-objective runs and constraints): one row per trial with its
objective values and the constraints it breaks, its place on the Pareto front, and
pareto.png (accuracy against latency or parameters, the front as a step line, the
constraint limits as dashed lines). report.md and report.html render `tradeoff_table`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from trainlab.search.objectives import OBJECTIVES, Goal, pareto_front
from trainlab.state import FinalConfig, TrialSummary

PARETO_PNG = "pareto.png"
LIMIT_LINES = {"max_latency_ms": "latency", "min_accuracy": "accuracy"}  # limit → its axis


@dataclass(frozen=True)
class TradeoffRow:
    round: int
    width: int
    values: list[float] | None  # the goal's objectives; None: the trial did not complete
    broken: list[str]  # the constraints it breaks, in words
    front: bool  # on the Pareto front of the complete trials that keep every constraint


@dataclass(frozen=True)
class TradeoffTable:
    """What both reports show: a heading line, the columns and one row of cells per trial."""

    goal_text: str
    heads: list[str]
    cells: list[list[str]]
    front: list[bool]
    broken: list[bool]
    plot: bool  # pareto.png was written (multi-objective runs)


def tradeoff_rows(
    goal: Goal, finals: Sequence[FinalConfig], trials: Sequence[TrialSummary], width: int
) -> list[TradeoffRow]:
    """One row per finished trial; `width`: the run's --width (trials that were not given
    one of their own)."""
    pairs = list(zip(finals, trials, strict=False))
    points = [goal.values(t) if t.status == "complete" else None for _, t in pairs]
    broken = [goal.broken(t) for _, t in pairs]
    feasible = [p if not b else None for p, b in zip(points, broken, strict=True)]
    front = set(pareto_front(feasible, goal.directions))
    return [
        TradeoffRow(f.round, f.model_width or width, points[i], broken[i], i in front)
        for i, (f, _) in enumerate(pairs)
    ]


def tradeoff_table(goal: Goal, rows: Sequence[TradeoffRow]) -> TradeoffTable:
    heads = ["round", "width", *goal.objectives, "Pareto front", "constraints"]
    cells = [
        [
            str(r.round),
            str(r.width),
            *(_number(v) for v in (r.values or [None] * len(goal.objectives))),
            "yes" if r.front else "",
            "breaks " + "; ".join(r.broken) if r.broken else "kept",
        ]
        for r in rows
    ]
    front, broken = [r.front for r in rows], [bool(r.broken) for r in rows]
    return TradeoffTable(goal.describe(), heads, cells, front, broken, goal.multi)


def write_pareto_plot(run_dir: Path, goal: Goal, rows: Sequence[TradeoffRow]) -> Path | None:
    """pareto.png for a multi-objective run (None otherwise)."""
    if not goal.multi:
        return None
    path = run_dir / PARETO_PNG
    pareto_figure(goal, rows).savefig(path, dpi=110)
    return path


def pareto_figure(goal: Goal, rows: Sequence[TradeoffRow]) -> Figure:
    """Accuracy (y) against the cost objective (x): kept trials, broken ones, the front."""
    cost = goal.objectives[1]
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    done = [r for r in rows if r.values is not None]
    for label, mine, style in (
        ("keeps the constraints", [r for r in done if not r.broken], {"c": "tab:blue"}),
        ("breaks a constraint", [r for r in done if r.broken], {"c": "tab:red", "marker": "x"}),
    ):
        if mine:
            ax.scatter([r.values[1] for r in mine], [r.values[0] for r in mine], label=label,
                       zorder=3, **style)  # fmt: skip
    front = sorted((r.values[1], r.values[0]) for r in done if r.front)
    if front:
        ax.step(*zip(*front, strict=True), where="post", color="tab:green", zorder=2)
        ax.scatter(*zip(*front, strict=True), s=150, facecolors="none", edgecolors="tab:green",
                   linewidths=1.5, zorder=4, label="Pareto front")  # fmt: skip
    for r in done:
        ax.annotate(f"r{r.round} w{r.width}", (r.values[1], r.values[0]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")  # fmt: skip
    _limit_lines(ax, goal, cost)
    unit = OBJECTIVES[cost].unit
    ax.set(title="Pareto front", ylabel="best validation accuracy",
           xlabel=f"{cost} ({unit})" if unit else cost)  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return fig


def _limit_lines(ax, goal: Goal, cost: str) -> None:
    for name, limit in goal.active.items():
        axis = LIMIT_LINES.get(name)
        if axis == "accuracy":
            ax.axhline(limit, ls="--", color="tab:gray", label=f"{name} {limit:g}")
        elif axis == cost:
            ax.axvline(limit, ls="--", color="tab:gray", label=f"{name} {limit:g}")


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def write_tradeoffs(
    run_dir: Path,
    goal: Goal,
    finals: Sequence[FinalConfig],
    trials: Sequence[TrialSummary],
    width: int,
) -> TradeoffTable | None:
    """Write pareto.png (multi-objective runs); the table for the reports (None: a run with
    one objective and no constraint has no trade-offs to show)."""
    if not goal.multi and not goal.active:
        return None
    rows = tradeoff_rows(goal, finals, trials, width)
    write_pareto_plot(run_dir, goal, rows)
    return tradeoff_table(goal, rows)
