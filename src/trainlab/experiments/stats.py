"""Paired statistics for seed-matched runs: means with t-intervals and a paired t-test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel
from scipy import stats

Verdict = Literal["better", "worse", "no significant difference", "insufficient data"]


class Comparison(BaseModel):
    """Candidate vs baseline on one metric over paired seeds (CIs at level 1 − alpha)."""

    metric: str
    higher_is_better: bool
    n: int
    baseline_mean: float
    baseline_ci: float
    candidate_mean: float
    candidate_ci: float
    diff_mean: float  # candidate − baseline
    diff_ci: float
    p_value: float | None  # None: the difference is the same for every seed (no variance)
    verdict: Verdict


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its Student-t confidence interval (nan for a single value)."""
    a = np.asarray(values, dtype=float)
    if len(a) == 0:
        return math.nan, math.nan
    if len(a) < 2:
        return float(a.mean()), math.nan
    sem = a.std(ddof=1) / math.sqrt(len(a))
    return float(a.mean()), float(stats.t.ppf((1 + confidence) / 2, len(a) - 1) * sem)


def compare(
    metric: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    higher_is_better: bool,
    alpha: float = 0.05,
) -> Comparison:
    """Paired t-test of candidate − baseline; "no significant difference" unless p < alpha.

    A difference that is identical for every seed (a parameter count, say) has no variance
    and no p-value: it is decided by its sign.
    """
    if len(baseline) != len(candidate):
        raise ValueError("paired samples must have the same length")
    b, c = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
    diff = c - b
    confidence = 1 - alpha
    p_value: float | None = None
    if len(diff) < 2:
        verdict: Verdict = "insufficient data"
    elif np.allclose(diff, diff[0], rtol=0.0, atol=1e-12):
        verdict = _direction(diff[0], higher_is_better) if diff[0] else "no significant difference"
    else:
        p_value = float(stats.ttest_rel(c, b).pvalue)
        significant = p_value < alpha
        verdict = (
            _direction(diff.mean(), higher_is_better)
            if significant
            else "no significant difference"
        )
    (b_mean, b_ci), (c_mean, c_ci), (d_mean, d_ci) = (mean_ci(x, confidence) for x in (b, c, diff))
    return Comparison(
        metric=metric,
        higher_is_better=higher_is_better,
        n=len(diff),
        baseline_mean=b_mean,
        baseline_ci=b_ci,
        candidate_mean=c_mean,
        candidate_ci=c_ci,
        diff_mean=d_mean,
        diff_ci=d_ci,
        p_value=p_value,
        verdict=verdict,
    )


def _direction(diff: float, higher_is_better: bool) -> Verdict:
    return "better" if (diff > 0) == higher_is_better else "worse"
