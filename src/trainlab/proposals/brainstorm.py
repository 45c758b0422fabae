"""Brainstorm: every agent of the team answers one open question from its role, then a
synthesis ranks the ideas by how testable they are with the component library.

An idea is a library component an answer names. Ranking: runnable now (a component with a
baseline, so one `ExperimentConfig` tests it) before the rest, then by how many agents made it
their main idea (the first component an answer names), then by who did so first. An answer
that names no component is listed as an idea that needs a component first. Offline, each
agent after the first is steered away from the components already named (while others still
match), so the answers cover different ideas.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from trainlab.components import registry
from trainlab.proposals import library
from trainlab.proposals.agents import ROLES, Message, Team
from trainlab.proposals.request import Budget, Draft
from trainlab.runstore import atomic_write_bytes, write_json

Testability = Literal["runnable now", "needs a component"]


class Idea(BaseModel):
    """One idea of the synthesis: a component (or an answer naming none) and how to test it."""

    idea: str
    kind: str
    named_by: list[str]  # every agent whose answer names it
    main_idea_of: list[str]  # the agents whose answer names it first
    testability: Testability
    how_to_test: str


class Brainstorm(BaseModel):
    question: str
    answers: list[Message]
    ideas: list[Idea]  # ranked, most testable first
    created: str = Field(default_factory=lambda: datetime.now().isoformat(timespec="seconds"))

    def to_markdown(self) -> str:
        answers = "\n".join(
            f"### {ROLES[a.speaker].title} ({a.policy})\n\n{a.text}\n" for a in self.answers
        )
        rows = "\n".join(
            f"| {rank} | {_cell(i.idea)} | {i.kind} | {', '.join(i.named_by)} | "
            f"{i.testability} | {_cell(i.how_to_test)} |"
            for rank, i in enumerate(self.ideas, 1)
        )
        return (
            f"# Brainstorm: {self.question}\n\n## Answers\n\n{answers}\n"
            "## Synthesis: ideas ranked by how testable they are with the library\n\n"
            "| rank | idea | kind | named by | testability | how to test |\n"
            f"|---|---|---|---|---|---|\n{rows}\n"
        )

    def save(self, folder: Path, stem: str = "brainstorm") -> tuple[Path, Path]:
        json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
        write_json(json_path, self.model_dump(mode="json"))
        atomic_write_bytes(md_path, self.to_markdown().encode())
        return json_path, md_path


def _cell(text: str) -> str:
    """Text for a Markdown table cell ('|' escaped)."""
    return text.replace("|", "\\|")


def named_components(text: str) -> list[str]:
    """Candidate components (those with a baseline) the text names, in order of appearance."""
    found = []
    for c in library.candidates():
        hit = re.search(rf"\b{re.escape(c.name)}\b", text)
        if hit:
            found.append((hit.start(), c.name))
    return [name for _, name in sorted(found)]


def run(team: Team, question: str, budget: Budget) -> Brainstorm:
    """Every agent answers `question`; the synthesis ranks what they named."""
    answers: list[Message] = []
    taken: list[str] = []
    for agent in team.agents.values():
        steer = tuple(taken) if library.match(question, taken) else ()
        draft = Draft(
            topic=question, round=1, sections={}, critique=(), budget=budget, exclude=steer
        )
        message = agent.answer(question, draft)
        answers.append(message)
        taken += named_components(message.text)[:1]
    return Brainstorm(question=question, answers=answers, ideas=synthesis(answers, budget))


def synthesis(answers: list[Message], budget: Budget) -> list[Idea]:
    """The ideas of the answers, most testable first; then the main idea of more agents (an
    answer's main idea: the first component it names), then the earlier main idea, then
    the more mentions."""
    named: dict[str, list[str]] = {}
    main: dict[str, list[str]] = {}
    loose: list[Idea] = []
    for answer in answers:
        names = named_components(answer.text)
        for name in names:
            named.setdefault(name, []).append(answer.speaker)
        if names:
            main.setdefault(names[0], []).append(answer.speaker)
        else:
            loose.append(_needs_component(answer))
    order = {name: rank for rank, name in enumerate(main)}
    ideas = [_component_idea(name, who, main.get(name, []), budget) for name, who in named.items()]
    ideas.sort(
        key=lambda i: (
            i.testability != "runnable now",
            -len(i.main_idea_of),
            order.get(i.idea.split(":")[0], len(order)),
            -len(i.named_by),
        )
    )
    return ideas + loose


def _component_idea(name: str, who: list[str], main: list[str], budget: Budget) -> Idea:
    component = registry.get(name)
    config = budget.config_for(component)
    field = library.FIELD[component.kind]
    return Idea(
        idea=f"{name}: {component.idea}",
        kind=component.kind,
        named_by=who,
        main_idea_of=main,
        testability="runnable now",
        how_to_test=f"`python main.py experiment --{field} {name} --seeds {config.seeds} "
        f"--epochs {config.epochs} --dataset {config.dataset}` (against {config.baseline.label})",
    )


def _needs_component(answer: Message) -> Idea:
    first = answer.text.strip().splitlines()[0] if answer.text.strip() else "(empty answer)"
    return Idea(
        idea=first[:160],
        kind="-",
        named_by=[answer.speaker],
        main_idea_of=[answer.speaker],
        testability="needs a component",
        how_to_test="implement it and `register_component(...)`, then run `experiment`",
    )
