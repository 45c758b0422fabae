"""Continual-learning metrics on the loss matrix R (rows: after domain i, columns: domain j).

R[i][j] is the validation loss (nats per byte) on domain j after training on domains 0..i.
BWT follows Lopez-Paz & Ranzato (2017), written for a loss (lower is better) so that the
sign keeps its usual meaning, negative = forgetting:
    BWT = 1/(T-1) * sum_{i<T-1} (R[i][i] - R[T-1][i])
Forgetting of domain j (Chaudhry et al. 2018, on loss): how much its loss rose at the end
above the best it had reached:  f_j = R[T-1][j] - min_{j<=k<T-1} R[k][j]  (j < T-1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Matrix = Sequence[Sequence[float]]


def bwt(r: Matrix) -> float:
    t = len(r)
    if t < 2:
        return 0.0
    return sum(r[i][i] - r[t - 1][i] for i in range(t - 1)) / (t - 1)


def forgetting(r: Matrix) -> list[float]:
    t = len(r)
    return [r[t - 1][j] - min(r[k][j] for k in range(j, t - 1)) for j in range(t - 1)]


def final_avg_perplexity(r: Matrix) -> float:
    """Mean over domains of exp(final loss): per-byte perplexity."""
    return float(np.mean([math.exp(x) for x in r[-1]]))


def summarize(r: Matrix) -> dict[str, object]:
    return {
        "final_avg_ppl": final_avg_perplexity(r),
        "final_avg_loss": float(np.mean(r[-1])),
        "bwt": bwt(r),
        "forgetting": forgetting(r),
        "mean_forgetting": float(np.mean(forgetting(r))) if len(r) > 1 else 0.0,
    }


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 with a single seed); n recorded."""
    arr = np.asarray(values, dtype=float)
    std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "n": len(arr)}


def relative_gain(k1: float, dense: float) -> float:
    """How much better k1's BWT is than dense's, relative to |dense| (0.3 = 30 % better)."""
    return (k1 - dense) / abs(dense) if dense else float("nan")
