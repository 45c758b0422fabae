"""Run-level artifacts of the HPO lab: trials table, best configuration, progress plot, report."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from trainlab import space
from trainlab.reporting.pareto import PARETO_PNG, TradeoffTable
from trainlab.reporting.trackers import viewer_commands
from trainlab.runstore import atomic_write_bytes, write_json
from trainlab.state import FinalConfig, TrialSummary

SAME_SPLIT_NOTE = (
    "validation = test split (--val-split 0): val acc and test acc are measured on the same "
    "data; hold out a validation split with --val-split 0.1"
)

TABLE_COLUMNS = (
    "round",
    *space.FIELDS,
    "status",
    "epochs_run",
    "best_val_acc",
    "test_acc",
    "oom_adjusted",
    "val_and_test_same_dataset",
    "seconds",
    "source",
    "policy",
)


def trial_rows(finals: Sequence[FinalConfig], trials: Sequence[TrialSummary]) -> list[dict]:
    """One flat row per finished trial (effective hyperparameters: after any OOM step-down)."""
    return [
        {
            "round": final.round,
            **trial.effective_hparams.model_dump(),
            "status": trial.status,
            "epochs_run": trial.epochs_run,
            "best_val_acc": trial.best_val_acc,
            "test_acc": trial.test_acc,
            "oom_adjusted": trial.oom_adjusted,
            "val_and_test_same_dataset": trial.val_and_test_same_dataset,
            "seconds": round(trial.seconds, 2),
            "source": final.source,
            "policy": final.policy,
        }
        for final, trial in zip(finals, trials, strict=False)
    ]


def best_index(trials: Sequence[TrialSummary]) -> int | None:
    """The completed trial with the highest validation accuracy (first one on ties)."""
    scored = [(t.best_val_acc or 0.0, -i) for i, t in enumerate(trials) if t.status == "complete"]
    return -max(scored)[1] if scored else None


def write_run_artifacts(
    run_dir: Path,
    finals: Sequence[FinalConfig],
    trials: Sequence[TrialSummary],
    seed: int,
    budget_epochs: int | None = None,
) -> dict[str, Any] | None:
    """Refresh trials_summary.csv, best_overall.json and hpo_progress.png; return the best
    (with the run's epoch budget and what the trials spent of it)."""
    rows = trial_rows(finals, trials)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TABLE_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(run_dir / "trials_summary.csv", buffer.getvalue().encode())
    plot_progress(rows, run_dir / "hpo_progress.png")
    index = best_index(trials)
    if index is None:
        return None
    best = _best_record(finals[index], trials[index], seed, run_dir)
    best |= budget_record(trials, budget_epochs)
    write_json(run_dir / "best_overall.json", best)
    return best


def _best_record(
    final: FinalConfig, trial: TrialSummary, seed: int, run_dir: Path
) -> dict[str, Any]:
    return {
        "round": final.round,
        "hparams": trial.effective_hparams.model_dump(),
        "best_val_acc": trial.best_val_acc,
        "test_acc": trial.test_acc,
        "test_f1": trial.test_f1,
        "val_and_test_same_dataset": trial.val_and_test_same_dataset,
        "trial_dir": str(run_dir / Path(trial.trial_dir).name),  # where it is now (may have moved)
        "seed": seed,
        "device": trial.device,
        "justification": final.justification,
    }


def budget_record(trials: Sequence[TrialSummary], budget_epochs: int | None) -> dict[str, Any]:
    """The run's epochs: its budget, those spent, trials started and pruned."""
    return {
        "budget_epochs": budget_epochs,
        "spent_epochs": sum(t.epochs_run for t in trials),
        "trials": len(trials),
        "pruned_trials": sum(t.status == "pruned" for t in trials),
    }


STATUS_MARKERS = {  # status → (colour, marker) in hpo_progress.png
    "complete": ("tab:blue", "o"),
    "pruned": ("tab:orange", "v"),
    "diverged": ("tab:red", "x"),
    "failed": ("tab:red", "x"),
}


def plot_progress(rows: Sequence[dict], path: Path) -> None:
    progress_figure(rows).savefig(path, dpi=110)


def progress_figure(rows: Sequence[dict]) -> Figure:
    """Each trial's validation accuracy per round (integer ticks), the best so far as a step
    line, and the legend outside the axes so that it never hides a point."""
    fig = Figure(figsize=(8, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    rounds = [r["round"] for r in rows]
    accs = [r["best_val_acc"] or 0.0 for r in rows]
    for status, (color, marker) in STATUS_MARKERS.items():
        mine = [(n, a) for n, a, r in zip(rounds, accs, rows, strict=True) if r["status"] == status]
        if mine:
            ax.scatter(*zip(*mine, strict=True), c=color, marker=marker, zorder=3, label=status)
    complete = [a if r["status"] == "complete" else 0.0 for a, r in zip(accs, rows, strict=True)]
    best_so_far = [max(complete[: i + 1]) for i in range(len(complete))]
    ax.step(rounds, best_so_far, where="post", color="tab:green", label="best so far")
    ax.set(title="HPO progress", xlabel="round", ylabel="best validation accuracy")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return fig


def best_config_rows(best: dict[str, Any]) -> list[tuple[str, str]]:
    """The best trial's hyperparameters as (name, value) pairs, numbers to 3 significant
    figures."""
    return [(name, _significant(best["hparams"][name])) for name in space.FIELDS]


def same_split(rows: Sequence[dict]) -> bool:
    """Whether any of these trials validated on its test split."""
    return any(row.get("val_and_test_same_dataset") for row in rows)


def write_report(
    run_dir: Path,
    rows: Sequence[dict],
    best: dict[str, Any] | None,
    proposals: Sequence[dict[str, Any]] = (),
    budget: dict[str, Any] | None = None,
    adopted: Sequence[dict[str, Any]] = (),
    tradeoffs: TradeoffTable | None = None,
) -> Path:
    """A short Markdown report of the run: the table, the best configuration, the trade-offs
    (objectives, constraints, Pareto front), the research proposals that stagnation
    triggered, the components adopted from them, the plots."""
    header = "| " + " | ".join(TABLE_COLUMNS) + " |"
    lines = ["# HPO lab report", "", header, "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(_cell(row[c]) for c in TABLE_COLUMNS) + " |" for row in rows]
    if same_split(rows):
        lines += ["", f"Note: {SAME_SPLIT_NOTE}."]
    if budget is not None:
        lines += [
            "",
            f"Epochs spent: {budget['spent_epochs']} of a budget of {budget['budget_epochs']}; "
            f"{budget['trials']} trials, {budget['pruned_trials']} pruned (stopped early by "
            "the pruner; never the run's best).",
        ]
    lines += ["", "## Best configuration", ""]
    if best is None:
        lines.append("No trial completed.")
    else:
        lines += [f"Round {best['round']}:", "", "| hyperparameter | value |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in best_config_rows(best)]
        lines += [
            "",
            f"best validation accuracy {format_accuracy(best['best_val_acc'])}, test accuracy "
            f"{format_accuracy(best['test_acc'])} (seed {best['seed']}, device {best['device']}"
            + (", validation = test split" if best["val_and_test_same_dataset"] else "")
            + ").",
        ]
    if tradeoffs is not None:
        lines += tradeoff_lines(tradeoffs)
    if proposals:
        lines += ["", "## Research proposals (asked for when the lab stagnated)", ""]
        lines += [
            f"- round {p['lab_round']}: {p['title']} ({', '.join(p['components']) or 'no'} "
            f"components) — {p['verdict']} "
            f"([proposal]({os.path.relpath(p['markdown_path'], run_dir)}))"
            for p in proposals
        ]
    lines += adopted_lines(run_dir, adopted)
    commands = viewer_commands(run_dir)
    if commands:
        lines += ["", "## Open this run in", ""] + [f"    {command}" for command in commands]
    lines += ["", "![progress](hpo_progress.png)", ""]
    path = run_dir / "report.md"
    atomic_write_bytes(path, "\n".join(lines).encode())
    return path


def adopted_lines(run_dir: Path, adopted: Sequence[dict[str, Any]]) -> list[str]:
    """The report's section on --adopt-components: each adoption with its evidence."""
    if not adopted:
        return []
    lines = ["", f"## {ADOPTED_TITLE}", ""]
    return lines + [
        f"- {adoption_text(a)} ([proposal]({os.path.relpath(a['proposal'], run_dir)}))"
        for a in adopted
    ]


ADOPTED_TITLE = "Components adopted into the search space (adopted.json)"


def adoption_text(a: Mapping[str, Any]) -> str:
    """One adoption and its evidence in words (Adoption JSON)."""
    return (
        f"after round {a['lab_round']}: optimizer {a['component']} — {a['metric']} "
        f"{a['verdict']} (difference {a['diff_mean']:+.4g}, p {_significant(a['p_value'])}, "
        f"{a['seeds']} paired seeds; test accuracy {a['accuracy_verdict']})"
    )


def tradeoff_lines(table: TradeoffTable) -> list[str]:
    """The trade-offs section of report.md (with pareto.png when there is one)."""
    lines = ["", "## Objectives and constraints", "", f"Goal: {table.goal_text}.", ""]
    lines += ["| " + " | ".join(table.heads) + " |", "|" + "---|" * len(table.heads)]
    lines += ["| " + " | ".join(cells) + " |" for cells in table.cells]
    if table.plot:
        lines += ["", f"![Pareto front]({PARETO_PNG})"]
    return lines


def format_accuracy(value: float | None) -> str:
    """An accuracy to 4 decimals, or an em dash where there is none."""
    return "—" if value is None else f"{value:.4f}"


def _significant(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
