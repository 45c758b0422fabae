"""Batch finder: the largest batch under a memory cap, never one that failed."""

from __future__ import annotations

import pytest
import torch

from trainlab.space import BATCH_SIZES
from trainlab.tools.batch_finder import largest_fitting_batch, model_probe
from trainlab.training.models import ResNet9


def probe_with(cap_mb: float | None):
    """Peak MB = 10 + batch; raises out of memory when that exceeds `cap_mb` (a device cap)."""
    probed: list[int] = []

    def probe(batch: int) -> float:
        probed.append(batch)
        if cap_mb is not None and 10 + batch > cap_mb:
            raise torch.cuda.OutOfMemoryError(f"simulated: batch {batch}")
        return 10.0 + batch

    return probe, probed


@pytest.mark.parametrize(("cap", "expected"), [(80, 64), (300, 256), (10_000, 512), (20, None)])
def test_returns_the_largest_batch_under_a_simulated_memory_cap(cap, expected):
    probe, probed = probe_with(cap)
    choice = largest_fitting_batch(probe, budget_mb=None)
    assert choice.batch_size == expected
    assert probed == sorted(probed)  # smallest first
    if expected is not None:  # it was probed and did not fail
        assert 10 + expected <= cap and choice.measured_mb[expected] <= cap


@pytest.mark.parametrize(("budget", "expected"), [(80, 64), (600, 512), (40, 0)])
def test_returns_the_largest_batch_within_the_budget_and_stops_there(budget, expected):
    probe, probed = probe_with(None)
    choice = largest_fitting_batch(probe, budget_mb=budget)
    assert (choice.batch_size or 0) == expected
    assert len(probed) == min(len(BATCH_SIZES), BATCH_SIZES.index(expected) + 2 if expected else 1)


def test_other_errors_are_not_taken_for_out_of_memory():
    def broken(_batch: int) -> float:
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError):
        largest_fitting_batch(broken, budget_mb=None)


def test_cpu_estimate_grows_with_the_batch():
    probe = model_probe(lambda: ResNet9(10, 1, width=4), (1, 8, 8), 10, torch.device("cpu"))
    small, large = probe(BATCH_SIZES[0]), probe(BATCH_SIZES[1])
    assert 0 < small < large < 2.2 * small
