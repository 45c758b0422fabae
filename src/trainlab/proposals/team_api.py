"""The research team in one call, as seed 000 shows it:

    from trainlab.proposals.team_api import AgentRole, AgentTeam

    team = AgentTeam()                      # LLM roles when a key is set, else offline
    proposal = team.research_proposal_workflow("meta-learning optimization for few-shot")
    answer = team.get_agent(AgentRole.AI_ALGORITHMS).query("a variance-reduced estimator?")
    ideas = team.brainstorm("how could small CNNs converge faster?").ideas

Everything is saved as the CLI saves it, under `<output_dir>/<timestamp>/proposals/` (created
at the first call): proposal-N.json/.md, ask-<agent>-N.*, brainstorm-N.*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from trainlab.graphs.proposal import build_proposal_graph, recursion_limit
from trainlab.proposals import brainstorm as brainstorming
from trainlab.proposals.agents import DEFAULT_MODEL, Team, build_team
from trainlab.proposals.brainstorm import Brainstorm
from trainlab.proposals.request import AGENTS, Budget, Pattern, ProposalRequest
from trainlab.proposals.schema import ResearchProposal
from trainlab.proposals.workflow import ProposalRecord
from trainlab.runstore import RunFolder, new_run_dir, read_json


class AgentRole(str, Enum):  # enum.StrEnum is Python ≥ 3.11
    """The five roles by the seed's names (registered roles are asked by their key)."""

    def __str__(self) -> str:
        return self.value

    AI_ALGORITHMS = "algorithms"
    SYSTEMS_DESIGN = "systems"
    PYTHON_ENGINEERING = "engineering"
    TRAINING_PIPELINE = "pipeline"
    ARCHITECTURE_DESIGN = "architecture"


class TeamAgent:
    """One agent of a team, asked directly (the specialized pattern)."""

    def __init__(self, team: AgentTeam, key: str) -> None:
        self.team, self.key = team, key

    def query(self, question: str) -> str:
        """The agent's answer (also saved as ask-<agent>-N.json/.md)."""
        record = self.team.run(
            pattern="specialized", agent=self.key, question=question, name=f"ask-{self.key}"
        )
        return str(read_json(Path(record.json_path))["text"])


class AgentTeam:
    """The proposal team with a run folder of its own; every call saves what it produced."""

    def __init__(
        self,
        offline: bool = False,
        model: str = DEFAULT_MODEL,
        output_dir: Path = Path("runs"),
        budget: Budget | None = None,
        anonymize: bool = True,
        env: Mapping[str, str] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.output_dir, self.budget, self.log = output_dir, budget or Budget(), log
        self._folder: Path | None = None
        self._used: dict[str, int] = {}
        self.team: Team = build_team(offline, model, lambda: self._folder, anonymize, env=env)

    @property
    def folder(self) -> Path:
        """The proposals folder of this team's run (created on first use)."""
        if self._folder is None:
            self._folder = RunFolder(new_run_dir(self.output_dir)).proposals
            self._folder.mkdir(parents=True, exist_ok=True)
        return self._folder

    def stem(self, base: str) -> str:
        """`base`, then `base-2`, `base-3`, ... so that no call overwrites another's files."""
        count = self._used[base] = self._used.get(base, 0) + 1
        return base if count == 1 else f"{base}-{count}"

    def get_agent(self, role: AgentRole | str) -> TeamAgent:
        key = str(role)
        if key not in self.team.agents:
            raise ValueError(f"unknown agent {key!r} (choose from: {', '.join(AGENTS)})")
        return TeamAgent(self, key)

    def research_proposal_workflow(
        self, topic: str, pattern: Pattern = "sequential", rounds: int = 1, validate: bool = True
    ) -> ResearchProposal:
        """The whole workflow on `topic`: the proposal, validated within the budget."""
        record = self.run(topic=topic, pattern=pattern, rounds=rounds, run_validation=validate)
        return ResearchProposal.model_validate(read_json(Path(record.json_path)))

    def brainstorm(self, question: str) -> Brainstorm:
        """Every agent answers; ideas ranked by testability (saved as brainstorm-N.*)."""
        result = brainstorming.run(self.team, question, self.budget)
        result.save(self.folder, self.stem("brainstorm"))
        return result

    def run(self, name: str = "proposal", **fields: Any) -> ProposalRecord:
        """One run of the proposal graph; its record (the files are saved by the graph)."""
        request = ProposalRequest(
            **fields, budget=self.budget, out_dir=self.folder, name=self.stem(name)
        )
        compiled, _ = build_proposal_graph(self.team, log=self.log)
        state = {"proposal_request": request.model_dump(mode="json")}
        output = compiled.invoke(state, {"recursion_limit": recursion_limit(request.rounds)})
        return ProposalRecord.model_validate(output["research_proposals"][-1])
