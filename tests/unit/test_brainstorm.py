"""Brainstorm: every agent answers from its role; the synthesis ranks ideas by testability."""

from __future__ import annotations

from trainlab.proposals import brainstorm
from trainlab.proposals.agents import Message, offline_team
from trainlab.proposals.request import Budget

BUDGET = Budget(seeds=2, epochs=1)


def answer(speaker: str, text: str) -> Message:
    return Message(speaker=speaker, kind="answer", round=1, text=text, policy="test")


def test_runnable_ideas_come_first_then_by_how_many_agents_named_them() -> None:
    answers = [
        answer("algorithms", "Try lookahead, or maybe focal."),
        answer("systems", "A photonic accelerator."),
        answer("pipeline", "focal, clearly."),
        answer("engineering", "focal, then lookahead."),
    ]
    ideas = brainstorm.synthesis(answers, BUDGET)
    assert [i.idea.split(":")[0] for i in ideas[:2]] == ["focal", "lookahead"]
    assert ideas[0].named_by == ["algorithms", "pipeline", "engineering"]
    assert ideas[0].main_idea_of == ["pipeline", "engineering"]
    assert "--loss focal --seeds 2 --epochs 1" in ideas[0].how_to_test
    assert ideas[-1].testability == "needs a component" and ideas[-1].named_by == ["systems"]


def test_offline_every_agent_answers_and_they_are_steered_to_different_ideas(tmp_path) -> None:
    question = "calibration, hard examples, faster convergence"
    result = brainstorm.run(offline_team("test"), question, BUDGET)
    assert [a.speaker for a in result.answers] == [
        "algorithms", "systems", "engineering", "pipeline", "architecture"
    ]  # fmt: skip
    firsts = [brainstorm.named_components(a.text)[0] for a in result.answers[:3]]
    assert len(set(firsts)) == 3
    json_path, md_path = result.save(tmp_path)
    assert json_path.is_file()
    markdown = md_path.read_text()
    assert "## Synthesis: ideas ranked by how testable" in markdown
    table = markdown.split("|---|---|---|---|---|---|\n")[1]
    assert all(line.replace("\\|", "").count("|") == 7 for line in table.splitlines())
