"""Seed 000's example research scenarios, end to end: two curated prompts as validated
proposals on the team's budget (digits by default), an off-library topic (a proposal marked
not validated), a brainstorm, and one question per agent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trainlab.proposals import prompts_library
from trainlab.proposals.team_api import AgentTeam

PROPOSAL_PROMPTS: tuple[str, ...] = ("stable-wrapper", "calibration-loss")
OFF_LIBRARY_TOPIC = "quantum gravity"
BRAINSTORM_QUESTION = "How could a small CNN converge faster and generalize better?"
QUESTIONS: dict[str, str] = {
    "algorithms": "Propose a variance-reduced gradient estimator for small-batch training.",
    "systems": "How does LAMB scale to 100B parameters?",
    "engineering": "How do I run the focal loss against cross entropy?",
    "pipeline": "Which metric decides whether a confidence penalty improves calibration?",
    "architecture": "What inductive bias does a mixture of experts add?",
}
OTHER_QUESTION = "What would you check first in a proposal about faster convergence?"


def run(team: AgentTeam, say: Callable[[str], None]) -> list[Path]:
    """Run every scenario; the files written, sorted (the experiments folder as one entry)."""
    for name in PROPOSAL_PROMPTS:
        prompt = prompts_library.get(name)
        say(f"proposal ({prompt.area}: {name}): {prompt.text}")
        proposal = team.research_proposal_workflow(prompt.text, validate=True)
        say(f"  {proposal.title} — {proposal.results.summary() if proposal.results else ''}")
    say(f"proposal off the library: {OFF_LIBRARY_TOPIC}")
    say(f"  {team.research_proposal_workflow(OFF_LIBRARY_TOPIC, validate=True).title}")
    say(f"brainstorm: {BRAINSTORM_QUESTION}")
    for rank, idea in enumerate(team.brainstorm(BRAINSTORM_QUESTION).ideas, 1):
        say(f"  {rank}. {idea.idea[:70]} [{idea.testability}; {', '.join(idea.named_by)}]")
    for key in team.team.agents:
        question = QUESTIONS.get(key, OTHER_QUESTION)
        answer = team.get_agent(key).query(question)
        say(f"ask {key}: {question}\n  {answer.splitlines()[0][:110]}")
    return sorted(team.folder.iterdir())
