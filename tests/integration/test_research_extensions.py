"""A custom agent role and a custom component, exercised through every collaboration pattern,
the brainstorm, the one-call API and `experiment`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from trainlab.cli import main
from trainlab.components.custom import register_component, unregister_component
from trainlab.proposals.custom_roles import BaseAgent, RoleError, register_agent, unregister_role
from trainlab.proposals.request import Budget, Draft
from trainlab.proposals.team_api import AgentRole, AgentTeam

TINY = Budget(seeds=2, epochs=1, width=4, device="cpu")
TOPIC = "is my_rmsprop better than adamw?"


class TheoryAgent(BaseAgent):
    key, title = "theory", "Theory"
    sections = ("convergence_analysis",)

    def _get_role_specific_prompt(self) -> str:
        return "analyse the convergence of the proposed component."

    def offline(self, draft: Draft) -> dict[str, Any]:
        return {"convergence_analysis": f"{draft.focus().name}: no rate is recorded."}


@pytest.fixture
def extended():
    register_component("my_rmsprop", "optimizer", torch.optim.RMSprop, idea="RMSprop", lr=1e-3)
    register_agent(TheoryAgent)
    yield
    unregister_role("theory")
    unregister_component("my_rmsprop")


def team(tmp_path: Path) -> AgentTeam:
    return AgentTeam(offline=True, output_dir=tmp_path, budget=TINY)


def test_sequential_validated_proposal_has_the_agents_section_and_the_component(
    extended, tmp_path
) -> None:
    proposal = team(tmp_path).research_proposal_workflow(TOPIC, validate=True)
    assert proposal.components == ["my_rmsprop"]
    assert proposal.extra_sections == {"convergence_analysis": "my_rmsprop: no rate is recorded."}
    assert proposal.authors["convergence_analysis"] == "Theory (offline:library)"
    assert proposal.results.status == "measured"
    assert "my_rmsprop" in proposal.results.budget
    (md,) = tmp_path.glob("*/proposals/proposal.md")
    assert "## 11. Convergence analysis" in md.read_text()


@pytest.mark.parametrize(("pattern", "rounds"), [("parallel", 1), ("iterative", 2)])
def test_the_agent_joins_the_parallel_and_iterative_patterns(
    extended, tmp_path, pattern, rounds
) -> None:
    lab = team(tmp_path)
    record = lab.run(topic=TOPIC, pattern=pattern, rounds=rounds)
    data = json.loads(Path(record.json_path).read_text())
    assert data["extra_sections"]["convergence_analysis"].startswith("my_rmsprop")
    assert record.components == ["my_rmsprop"]


def test_the_agent_is_asked_alone_through_the_cli_and_the_api(extended, tmp_path, capsys) -> None:
    args = ["ask", "--agent", "theory", "my_rmsprop?", "--offline", "--output-dir", str(tmp_path)]
    assert main(args) == 0
    assert "my_rmsprop: no rate is recorded." in capsys.readouterr().out
    answer = team(tmp_path).get_agent("theory").query("does my_rmsprop converge?")
    assert "Convergence analysis" in answer
    assert "lamb" in team(tmp_path).get_agent(AgentRole.SYSTEMS_DESIGN).query("lamb at scale?")


def test_the_agent_brainstorms_and_the_component_is_ranked(extended, tmp_path) -> None:
    result = team(tmp_path).brainstorm("would my_rmsprop help?")
    assert result.answers[-1].speaker == "theory"
    assert (
        result.ideas[0].idea.startswith("my_rmsprop") and result.ideas[0].named_by[-1] == "theory"
    )


def test_the_component_runs_in_experiment(extended, tmp_path, capsys) -> None:
    args = [
        "experiment",
        "--optimizer",
        "my_rmsprop",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--width",
        "4",
        "--dataset",
        "digits",
        "--device",
        "cpu",
        "--output-dir",
        str(tmp_path),
    ]
    assert main(args) == 0
    (result,) = tmp_path.glob("*/experiments/*/experiment.json")
    assert json.loads(result.read_text())["config"]["optimizer"] == "my_rmsprop"


def test_a_role_cannot_take_a_built_in_key_or_section() -> None:
    class Clash(TheoryAgent):
        key = "systems"

    class Steals(TheoryAgent):
        key, sections = "thief", ("scalability",)

    with pytest.raises(RoleError, match="new lower_snake_case name"):
        register_agent(Clash)
    with pytest.raises(RoleError, match="belong to the five roles"):
        register_agent(Steals)
