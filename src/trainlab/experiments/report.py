"""Experiment results as a rich table (one experiment) and a markdown table (a suite)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.table import Table

from trainlab.components import registry
from trainlab.experiments.results import ExperimentResult
from trainlab.experiments.stats import Comparison

LABELS = {
    "test_acc": "test acc",
    "test_f1": "test F1",
    "test_ece": "test ECE",
    "val_nll": "val NLL",
    "seconds": "seconds",
    "peak_memory_mb": "GPU peak MB",
    "state_mb": "state MB",
}
VERDICT_STYLE = {"better": "green", "worse": "red"}


def _pm(mean: float, half: float, digits: int = 4, scale: float = 1.0) -> str:
    if math.isnan(half):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {half * scale:.{digits}f}"


def _p(comparison: Comparison) -> str:
    return "exact" if comparison.p_value is None else f"{comparison.p_value:.3g}"


def comparison_table(result: ExperimentResult) -> Table:
    """Metric rows: baseline and candidate mean ± CI, their difference ± CI, p and verdict."""
    level = round(100 * (1 - result.config.alpha))
    table = Table(title=f"{result.name}: {len(result.config.seed_list)} seeds, {level}% CI")
    table.add_column("metric", no_wrap=True)
    for column in ("baseline", "candidate", "difference", "p (paired t)"):
        table.add_column(column, justify="right")
    table.add_column("verdict")
    for c in result.comparisons:
        style = VERDICT_STYLE.get(c.verdict, "")
        table.add_row(
            LABELS.get(c.metric, c.metric),
            _pm(c.baseline_mean, c.baseline_ci),
            _pm(c.candidate_mean, c.candidate_ci),
            _pm(c.diff_mean, c.diff_ci),
            _p(c),
            f"[{style}]{c.verdict}[/]" if style else c.verdict,
        )
    table.caption = (
        f"baseline: {result.baseline.label}; candidate: {result.candidate.label}. "
        "all scores are of the final weights; val NLL: validation cross-entropy; "
        "state MB: parameters, buffers and optimizer state"
    )
    return table


def suite_markdown(results: Sequence[ExperimentResult]) -> str:
    """One row per experiment; accuracy and ECE differences in percentage points."""
    header = (
        "| component | kind | baseline | Δ test acc (pp, 95% CI) | p | verdict | Δ ECE (pp) | p "
        "| verdict | time ratio | state MB (cand./base) | seed's expected claim |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    return header + "".join(_suite_row(r) for r in results)


def _suite_row(result: ExperimentResult) -> str:
    component = registry.get(result.name) if result.name in registry.REGISTRY else None
    acc, ece = result.comparison("test_acc"), result.comparison("test_ece")
    seconds = result.comparison("seconds")
    ratio = seconds.candidate_mean / seconds.baseline_mean if seconds.baseline_mean else math.nan
    cells = [
        result.name,
        component.kind if component else "combination",
        result.baseline.label,
        _pm(acc.diff_mean, acc.diff_ci, 2, 100),
        _p(acc),
        acc.verdict,
        _pm(ece.diff_mean, ece.diff_ci, 2, 100),
        _p(ece),
        ece.verdict,
        f"{ratio:.2f}",
        f"{result.candidate.state_mb:.2f} / {result.baseline.state_mb:.2f}",
        component.expected if component else "",
    ]
    return "| " + " | ".join(cells) + " |\n"
