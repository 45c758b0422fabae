"""Seed 003's ConvergencePredictor: where will this validation curve end?

The curve so far is fitted with saturating models (scipy's curve_fit): a power law
a − b·t^(−c) and an exponential saturation a − b·e^(−c·t). The prediction at the final epoch
is the mean of the models that fit; its uncertainty combines the spread between the models
with each fit's own standard error (from the parameter covariance, by the delta method).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

MIN_POINTS = 3
OPTIMISM = 2.0  # standard deviations added for the optimistic prediction


def power_law(t: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.power(t, -c)


def exp_saturation(t: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.exp(-c * t)


MODELS: dict[str, Callable[..., np.ndarray]] = {
    "power_law": power_law,
    "exp_saturation": exp_saturation,
}


@dataclass(frozen=True)
class Prediction:
    """Predicted value at `epoch`, its standard deviation and the per-model predictions."""

    epoch: int
    mean: float
    std: float
    per_model: dict[str, float]

    def optimistic(self, k: float = OPTIMISM) -> float:
        return min(1.0, self.mean + k * self.std)


class ConvergencePredictor:
    """Fit a curve of accuracies in [0, 1] (epochs 1, 2, …) and extrapolate it."""

    def __init__(self, upper: float = 1.0) -> None:
        self.upper = upper

    def predict(self, values: Sequence[float], epoch: int) -> Prediction | None:
        """None when there are fewer than MIN_POINTS values or no model fits."""
        y = np.asarray(values, dtype=float)
        if len(y) < MIN_POINTS or not np.all(np.isfinite(y)):
            return None
        t = np.arange(1, len(y) + 1, dtype=float)
        fits = {name: self._fit(model, t, y, float(epoch)) for name, model in MODELS.items()}
        fits = {name: fit for name, fit in fits.items() if fit is not None}
        if not fits:
            return None
        means = np.array([m for m, _ in fits.values()])
        own_var = np.mean([s**2 for _, s in fits.values()])
        std = math.sqrt(float(np.var(means)) + float(own_var))
        return Prediction(
            epoch=epoch,
            mean=float(np.clip(means.mean(), 0.0, self.upper)),
            std=std,
            per_model={name: m for name, (m, _) in fits.items()},
        )

    def _fit(
        self, model: Callable[..., np.ndarray], t: np.ndarray, y: np.ndarray, at: float
    ) -> tuple[float, float] | None:
        """(prediction at `at`, its standard error), or None when the fit fails."""
        start = (max(y.max(), 1e-3), max(y.max() - y.min(), 1e-3), 0.5)
        bounds = ([0.0, -1.0, 1e-3], [self.upper, 2.0, 10.0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            try:
                params, cov = curve_fit(model, t, y, p0=start, bounds=bounds, maxfev=2000)
            except (RuntimeError, ValueError):
                return None
        value = float(model(np.array([at]), *params)[0])
        if not math.isfinite(value):
            return None
        return value, _delta_std(model, params, cov, at)


def _delta_std(
    model: Callable[..., np.ndarray], params: np.ndarray, cov: np.ndarray, at: float
) -> float:
    """Standard error of model(at) from the parameter covariance (numerical gradient)."""
    if not np.all(np.isfinite(cov)):
        return 0.0
    grad = np.empty(len(params))
    for i in range(len(params)):
        step = 1e-6 * max(1.0, abs(params[i]))
        shifted = params.copy()
        shifted[i] += step
        grad[i] = (model(np.array([at]), *shifted)[0] - model(np.array([at]), *params)[0]) / step
    return math.sqrt(max(0.0, float(grad @ cov @ grad)))
