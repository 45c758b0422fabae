"""The optimizer's state as the consultants see it (TPE and CMA-ES)."""

from __future__ import annotations

import math

import pytest

from trainlab import space
from trainlab.search.optimizer_view import optimizer_view, render
from trainlab.search.study import SearchStudy


def filled(sampler: str, trials: int) -> SearchStudy:
    """A study told `trials` trials of a smooth objective peaking at lr 1e-2."""
    search = SearchStudy.open(sampler, 0)
    for _ in range(trials):
        trial = search.study.ask(search.distributions)
        lr = trial.params["learning_rate"]
        search.study.tell(trial, 1.0 - abs(math.log10(lr) + 2.0) / 3)
    return search


def test_tpe_view_shows_top_bottom_and_next_suggestion() -> None:
    search = filled("tpe", 8)
    view = optimizer_view(search, 9)
    assert view["sampler"] == "tpe" and view["complete_trials"] == 8
    assert len(view["top"]) == 3 and len(view["bottom"]) == 3
    assert view["top"][0]["value"] >= view["bottom"][-1]["value"]
    space.HParams(**view["next_suggestion"])
    text = render(view)
    assert "Top trials:" in text and "next suggestion: " in text
    assert "/" not in text  # no paths or names, only numbers and hyperparameters


def test_cmaes_view_shows_mean_sigma_and_axes_in_space_units() -> None:
    search = filled("cmaes", 16)
    state = optimizer_view(search, 17)["cmaes"]
    assert state is not None and state["sigma"] > 0 and state["generation"] >= 1
    for name, value in state["mean"].items():
        low, high = space.NUMERIC_BOUNDS[name]
        assert low <= value <= high
    assert len(state["axes"]) == 2 and state["axes"][0]["std"] >= state["axes"][1]["std"]
    assert state["units"]["learning_rate"] == "log10"
    assert state["not_modelled"] == ["optimizer", "train_batch_size"]
    text = render(optimizer_view(search, 17))
    assert "step size σ" in text and "Not modelled by CMA-ES" in text


def test_cmaes_view_before_a_generation_says_so() -> None:
    text = render(optimizer_view(filled("cmaes", 2), 3))
    assert "has not completed its first generation" in text


@pytest.mark.parametrize("sampler", ["tpe", "cmaes"])
def test_view_is_a_plain_dict_and_text(sampler: str) -> None:
    view = optimizer_view(filled(sampler, 3), 4)
    assert isinstance(view, dict) and isinstance(render(view), str)
