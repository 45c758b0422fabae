"""The allocation rule: share of consultant trials, owed slots, justification, bad input."""

from __future__ import annotations

import math

import pytest

from trainlab.search.allocation import Allocator, check_share
from trainlab.space import HParams

OPT = HParams(
    optimizer="adam",
    learning_rate=1e-3,
    train_batch_size=64,
    weight_decay=1e-4,
    label_smoothing=0.0,
)
AGENT = OPT.model_copy(update={"optimizer": "sgd", "learning_rate": 0.05})


def simulate(allocator: Allocator, n: int, proposals: list[HParams | None]) -> list[str]:
    sources, taken = [], 0
    for k in range(1, n + 1):
        decision = allocator.decide(k, taken, OPT, proposals[(k - 1) % len(proposals)])
        taken += decision.source == "consultants"
        sources.append(decision.source)
    return sources


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3, 0.5, 0.77, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_consultant_count_tracks_share_at_every_n(share: float, seed: int) -> None:
    sources = simulate(Allocator(share, seed), 40, [AGENT])
    for n in range(1, 41):
        assert abs(sources[:n].count("consultants") - share * n) < 1.0


def test_schedule_is_deterministic_given_seed_and_differs_by_seed() -> None:
    assert simulate(Allocator(0.3, 5), 20, [AGENT]) == simulate(Allocator(0.3, 5), 20, [AGENT])
    schedules = {tuple(simulate(Allocator(0.3, s), 20, [AGENT])) for s in range(6)}
    assert len(schedules) > 1


def test_a_declined_slot_is_owed_to_the_consultants() -> None:
    allocator = Allocator(0.5, 0)
    # the consultants agree with the optimizer (or have nothing) on odd trials
    sources = simulate(allocator, 20, [OPT, None, AGENT, AGENT])
    assert sources.count("consultants") == math.floor(0.5 * 20 + allocator.phase)


def test_justification_names_who_and_why() -> None:
    allocator = Allocator(1.0, 0)
    agents = allocator.decide(1, 0, OPT, AGENT)
    assert agents.source == "consultants" and agents.hparams == AGENT
    assert "Consultants' turn" in agents.justification and "instead of the optimizer" in (
        agents.justification
    )
    same = allocator.decide(1, 0, OPT, OPT)
    assert same.source == "optimizer" and "agree with the optimizer" in same.justification
    nothing = allocator.decide(1, 0, OPT, None)
    assert nothing.source == "optimizer" and "proposed nothing" in nothing.justification
    optimizer = Allocator(0.0, 0).decide(3, 0, OPT, AGENT)
    assert optimizer.source == "optimizer" and "Optimizer's turn" in optimizer.justification


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_share_outside_unit_interval_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match=r"--agent-share must be in \[0, 1\]"):
        check_share(share)
    with pytest.raises(ValueError, match="--agent-share"):
        Allocator(share)
