"""BWT, forgetting and final perplexity on a hand-made R matrix."""

from __future__ import annotations

import math

import pytest

from trainlab.k1.metrics import bwt, final_avg_perplexity, forgetting, mean_std, relative_gain

R = [
    [1.0, 3.0, 3.0],
    [1.5, 0.8, 3.0],
    [2.0, 1.0, 0.5],
]


def test_bwt_on_loss_is_negative_when_old_domains_get_worse() -> None:
    # ((1.0 - 2.0) + (0.8 - 1.0)) / 2
    assert bwt(R) == pytest.approx(-0.6)
    improved = [[2.0, 3.0], [1.0, 1.0]]
    assert bwt(improved) == pytest.approx(1.0)
    assert bwt([[1.0]]) == 0.0


def test_forgetting_is_rise_above_best_earlier_loss() -> None:
    assert forgetting(R) == pytest.approx([1.0, 0.2])
    # domain 0 got better after domain 1, then worse: measured against its best (0.9)
    r = [[1.2, 5.0, 5.0], [0.9, 1.0, 5.0], [1.4, 1.0, 1.0]]
    assert forgetting(r) == pytest.approx([0.5, 0.0])


def test_final_avg_perplexity_is_mean_of_exp_final_losses() -> None:
    expected = (math.exp(2.0) + math.exp(1.0) + math.exp(0.5)) / 3
    assert final_avg_perplexity(R) == pytest.approx(expected)


def test_relative_gain_and_mean_std() -> None:
    assert relative_gain(-0.3, -0.6) == pytest.approx(0.5)
    assert relative_gain(-0.9, -0.6) == pytest.approx(-0.5)
    stats = mean_std([1.0, 3.0])
    assert stats == {"mean": 2.0, "std": pytest.approx(math.sqrt(2.0)), "n": 2}
    assert mean_std([4.0])["std"] == 0.0
