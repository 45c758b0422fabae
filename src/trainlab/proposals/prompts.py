"""Prompts of the proposal team. The component library is listed from the registry itself, so
an agent can only name what an experiment can run."""

from __future__ import annotations

from collections.abc import Sequence

from trainlab.agents.llm import Messages
from trainlab.components import registry
from trainlab.proposals.request import Draft
from trainlab.proposals.schema import METRICS, render_sections

TEAM = """You are the {title} agent of a five-agent research team (AI Algorithms, Systems
Design, Python Engineering, Training Pipeline, Architecture Design) that writes one structured
research proposal about training neural networks. Your part: {focus}

Principles: scalability first (100B parameters, trillion-token datasets, distributed
training); practical constraints (GPU memory, communication bandwidth, stability,
reproducibility); grounded innovation (related literature, a clear novelty statement,
falsifiable hypotheses, measurable improvements). Never invent measurements: a number is
either arithmetic you show or labelled as a hypothesis; the validation experiment measures.
Code you write is documentation only: it is never executed. Experiments can only run
components of this library, named exactly:
{library}"""

CRITIC_FOCUS = """review the draft as a critic: for every section that breaks a principle,
is vague, contradicts another section or claims an unmeasured number, write one point
"<agent>: <issue>" (agent: algorithms, systems, engineering, pipeline or architecture).
If nothing needs fixing, write the single point "no issues"."""

ANSWER_FOCUS = "answer one question from your specialty, concretely and briefly."


def library_listing() -> str:
    lines = []
    for c in registry.REGISTRY.values():
        against = f"measured against {c.baseline}" if c.baseline else "a baseline"
        claim = f" Claimed: {c.expected}." if c.expected else ""
        lines.append(
            f"- {c.name} ({c.kind}, {against}): {c.idea}. Memory {c.memory}, time {c.time}. "
            f"Reference: {c.reference}.{claim}"
        )
    return "\n".join(lines)


def system(title: str, focus: str) -> str:
    return TEAM.format(title=title, focus=focus, library=library_listing())


def _context(draft: Draft) -> str:
    sections = render_sections(draft.sections) or "(empty: nobody has written yet)"
    critique = "\n".join(f"- {p}" for p in draft.critique) or "(none yet)"
    avoid = ", ".join(draft.exclude) or "(none)"
    return (
        f"Topic: {draft.topic}\nRound {draft.round}.\n\nDraft so far:\n{sections}\n\n"
        f"Critique of the last round:\n{critique}\n\nAlready proposed before (choose "
        f"something else): {avoid}\n\nValidation budget: at most {draft.budget.seeds} seeds "
        f"× {draft.budget.epochs} epochs; deciding metrics: {', '.join(METRICS)}."
    )


def contribute(title: str, focus: str, fields: Sequence[str], draft: Draft) -> Messages:
    return [
        ("system", system(title, focus)),
        ("human", f"{_context(draft)}\n\nWrite your sections: {', '.join(fields)}."),
    ]


def critique(draft: Draft) -> Messages:
    return [("system", system("Critic", CRITIC_FOCUS)), ("human", _context(draft))]


def answer(title: str, question: str) -> Messages:
    return [("system", system(title, ANSWER_FOCUS)), ("human", question)]
