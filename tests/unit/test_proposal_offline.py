"""Offline proposal agents: the library decides what they talk about, and every claim and
number they write can be traced to a registry record or to arithmetic on it."""

from __future__ import annotations

import re

import pytest

from trainlab.components import registry
from trainlab.proposals import library, offline
from trainlab.proposals.agents import ROLES, offline_team
from trainlab.proposals.request import Budget, Draft, ProposalRequest
from trainlab.proposals.schema import ResearchProposal, ValidationPlan
from trainlab.proposals.workflow import assemble

BUDGET = Budget(seeds=2, epochs=1, width=4)


def draft(topic: str, sections: dict | None = None, exclude: tuple[str, ...] = ()) -> Draft:
    return Draft(topic, 1, sections or {}, (), BUDGET, exclude)


def offline_proposal(topic: str) -> ResearchProposal:
    """The five offline agents in sequence, each seeing what the previous ones wrote."""
    team, messages = offline_team("test"), []
    for key in ROLES:
        sections = {k: v for m in messages for k, v in m["sections"].items()}
        messages.append(team.agents[key].contribute(draft(topic, sections)).model_dump())
    request = ProposalRequest(topic=topic, out_dir="unused")
    return assemble(request, messages)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("faster convergence for small CNNs", "second_order_momentum"),
        ("better calibration of classifiers", "confidence_penalty"),
        ("large-batch training", "lamb"),
        ("does lookahead help?", "lookahead"),  # a named component wins
        ("sparse routing to experts", "moe"),
    ],
)
def test_the_topic_picks_the_component_whose_record_matches(topic: str, expected: str) -> None:
    assert library.focus(topic).name == expected


def test_excluded_components_are_skipped_and_an_unmatched_topic_is_an_error() -> None:
    first = library.focus("faster convergence")
    assert library.focus("faster convergence", exclude=[first.name]).name != first.name
    with pytest.raises(library.NoMatchingComponent, match="quantum gravity"):
        library.focus("quantum gravity")


def test_state_multipliers_are_read_from_the_recorded_memory_costs() -> None:
    values = {
        name: library.state_multiplier(registry.get(name))
        for name in ("adamw", "sgd", "second_order_momentum", "lookahead", "agc", "focal")
    }
    assert values == {
        "adamw": 2, "sgd": 1, "second_order_momentum": 4, "lookahead": 3, "agc": 2, "focal": None,
    }  # fmt: skip


def test_offline_proposal_is_complete_and_every_claim_is_labelled_a_hypothesis() -> None:
    proposal = offline_proposal("faster convergence for small CNNs")
    som = registry.get("second_order_momentum")
    assert proposal.components == ["second_order_momentum"]
    assert len(proposal.benefits) == len(library.split_items(som.expected))
    assert all(b.startswith("Hypothesis (the seed's claim") for b in proposal.benefits)
    assert set(library.split_items(som.reference)) < set(proposal.related_work)
    assert "Not new as a method" in proposal.novelty
    assert set(proposal.authors.values()) == {
        f"{role.title} (offline:library)" for role in ROLES.values()
    }


def test_systems_numbers_are_arithmetic_on_the_registry() -> None:
    text = offline.systems(draft("faster convergence"))["scalability"]
    k = library.state_multiplier(registry.get("second_order_momentum"))
    base = library.state_multiplier(registry.get("adamw"))
    assert f"{k * 0.4:.1f} TB against {base * 0.4:.1f} TB" in text  # k × 4 B × 1e11
    assert f"{k * 400 / 64:.2f} GB against {base * 400 / 64:.2f} GB per device" in text
    free_text = offline.systems(draft("sparse routing to experts"))["scalability"]
    assert "no per-parameter multiple" in free_text and "TB" not in free_text
    assert "all-to-all" in free_text


def test_pipeline_designs_a_budgeted_experiment_on_the_component_and_its_claim() -> None:
    sections = offline.pipeline(draft("better calibration", {"components": ["focal"]}))
    plan = ValidationPlan.model_validate(sections["validation"])
    config = plan.experiment
    assert (config.loss, config.optimizer, config.baseline.loss) == (
        "focal",
        "adamw",
        "cross_entropy",
    )  # fmt: skip  (the draft's component, not the topic's best match)
    assert (config.seeds, config.epochs, config.width, config.dataset) == (2, 1, 4, "digits")
    assert plan.metric == "test_acc"
    calibration = offline.pipeline(draft("better calibration"))["validation"]
    assert calibration["metric"] == "test_ece"


def test_critic_passes_an_offline_draft_and_names_who_must_fix_a_bad_one() -> None:
    good = offline_proposal("faster convergence for small CNNs").model_dump(mode="json")
    assert offline.critique(draft("x", good)) == ["no issues: all 7 checklist items hold"]
    bad = {**good, "benefits": ["20% faster"], "scalability": "fine"}
    bad["validation"] = {**good["validation"], "experiment": None}
    points = offline.critique(draft("x", bad))
    assert points == [
        "systems: missing scalability to 100B parameters",
        "systems: missing trillion-token training cost",
        "algorithms: missing quantitative benefits labelled as hypotheses",
        "pipeline: missing a runnable validation experiment",
        "pipeline: missing an experiment that tests the proposed components",
    ]


def test_offline_answers_are_about_the_component_the_question_names() -> None:
    agent = offline_team("test").agents["systems"]
    reply = agent.answer("How does lamb scale?", draft("How does lamb scale?"))
    assert reply.kind == "answer" and reply.policy == "offline:library"
    assert "about lamb" in reply.text and re.search(r"\d+\.\d TB", reply.text)
    unknown = agent.answer("quantum gravity?", draft("quantum gravity?"))
    assert "no component of the library matches" in unknown.text
