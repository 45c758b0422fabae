"""The convergence predictor on synthetic curves whose limit is known."""

from __future__ import annotations

import numpy as np
import pytest

from trainlab.search.predictor import ConvergencePredictor, exp_saturation, power_law


def curve(model, params: tuple[float, float, float], epochs: int) -> list[float]:
    return model(np.arange(1, epochs + 1, dtype=float), *params).tolist()


@pytest.mark.parametrize(
    ("model", "params"),
    [(exp_saturation, (0.92, 0.6, 0.5)), (power_law, (0.95, 0.5, 1.5))],
)
def test_predicts_the_known_final_value(model, params) -> None:
    values = curve(model, params, 6)
    final = float(model(np.array([30.0]), *params)[0])
    prediction = ConvergencePredictor().predict(values, 30)
    assert prediction is not None and prediction.epoch == 30
    assert abs(prediction.mean - final) < 0.03
    assert prediction.std >= 0.0 and prediction.optimistic() >= prediction.mean


def test_noisy_curve_is_predicted_within_its_uncertainty() -> None:
    rng = np.random.default_rng(0)
    values = np.array(curve(exp_saturation, (0.8, 0.7, 0.4), 8)) + rng.normal(0, 0.01, 8)
    prediction = ConvergencePredictor().predict(values.tolist(), 40)
    assert prediction is not None
    assert abs(prediction.mean - 0.8) <= 2 * prediction.std < 0.15  # the models disagree


def test_a_low_flat_curve_stays_low() -> None:
    prediction = ConvergencePredictor().predict([0.10, 0.11, 0.10, 0.11], 20)
    assert prediction is not None and prediction.optimistic() < 0.3


def test_too_short_or_broken_curves_give_no_prediction() -> None:
    predictor = ConvergencePredictor()
    assert predictor.predict([0.5, 0.6], 10) is None
    assert predictor.predict([0.5, float("nan"), 0.7], 10) is None
