"""The research-proposal subgraph: five specialist agents write a structured proposal, which is
validated by a minimal experiment and saved.

Collaboration pattern per run (`proposal_request["pattern"]`):

    START → request (the input checked) → …
    sequential   algorithms → systems → engineering → pipeline → architecture → assemble
    parallel     START ⇉ all five at once (fan-out), merged by the list reducer → assemble
    iterative    the sequential chain, then critic; repeated for `rounds` rounds → assemble
    specialized  ask: one agent answers one question → END
    assemble → [validate] → save → END

Input: `proposal_request` (a `ProposalRequest` as JSON), or just a `topic` and a `pattern`
(Studio), which the `request` node turns into one with a new run folder. Output:
`research_proposals` (one `ProposalRecord`) and `proposal_messages` (who said what, in order).
Composed into the HPO graph as a node, it shares only those keys with the lab's state.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeAlias

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from trainlab.graphs import shared
from trainlab.graphs.context import InputError, validated
from trainlab.graphs.proposal_state import ProposalInput, ProposalOutput, ProposalState
from trainlab.proposals import library, workflow
from trainlab.proposals import validate as validation
from trainlab.proposals.agents import ROLES, Team, build_team
from trainlab.proposals.request import PATTERNS, Draft, ProposalRequest
from trainlab.proposals.schema import ResearchProposal
from trainlab.runstore import RunFolder, new_run_dir

ORDER: tuple[str, ...] = tuple(ROLES)  # the seed's sequential order; a team's: Team.agents

# A team's agent nodes (the five of ROLES, then any registered role) are known only when the
# graph is built, so no Literal can name them: routers that reach an agent return these
# aliases, and each such edge is added with its targets listed (the path lists below), which
# is what LangGraph draws and checks. Routers with fixed targets return a Literal.
AgentNode: TypeAlias = str
AfterAgent: TypeAlias = "AgentNode | Literal['critic', 'assemble']"
Start: TypeAlias = "AgentNode | list[AgentNode] | Literal['ask']"
AfterCritic: TypeAlias = "AgentNode | Literal['assemble']"


def recursion_limit(rounds: int) -> int:
    """Supersteps for `rounds` iterative rounds (agents + critic each, registered roles
    included) plus assemble/validate/save."""
    return shared.recursion_limit((len(ROLES) + 1) * rounds)


class ProposalNodes:
    """Node functions bound to one team; `log` receives the validation's per-trial lines."""

    def __init__(self, team: Team, log: Callable[[str], None] | None = None) -> None:
        self.team, self.log = team, log
        self.order: tuple[str, ...] = tuple(team.agents)  # the five, then registered roles

    def request(self, state: ProposalState) -> dict[str, Any]:
        """The request given, or one built from `topic` and `pattern` (a clear error if neither)."""
        if "proposal_request" in state:
            return {}
        topic, pattern = state.get("topic", ""), state.get("pattern", "sequential")
        if not topic.strip():
            raise InputError(
                'the proposal graph needs a topic: {"topic": "a faster optimizer for small '
                'CNNs", "pattern": "sequential"} (patterns: ' + ", ".join(PATTERNS) + ")"
            )
        specialized = pattern == "specialized"
        fields = {
            "topic": "" if specialized else topic,
            "question": topic if specialized else "",
            "agent": state.get("agent"),
            "pattern": pattern,
            "name": f"ask-{state.get('agent')}" if specialized else "proposal",
            "out_dir": str(RunFolder(new_run_dir(Path("runs"))).proposals),
        }
        request = validated(ProposalRequest, fields, "proposal input")
        if self.team.offline and not specialized:
            try:
                library.focus(request.topic)
            except ValueError as exc:
                raise InputError(f"topic: {exc}") from None
        return {"proposal_request": request.model_dump(mode="json")}

    @staticmethod
    def _request(state: ProposalState) -> ProposalRequest:
        return ProposalRequest.model_validate(state["proposal_request"])

    def _draft(self, state: ProposalState) -> Draft:
        messages = state.get("proposal_messages", [])
        return workflow.draft(self._request(state), messages, state.get("round", 1))

    def agent(self, key: str) -> Callable[[ProposalState], dict[str, Any]]:
        def node(state: ProposalState) -> dict[str, Any]:
            message = self.team.agents[key].contribute(self._draft(state))
            return {"proposal_messages": [message.model_dump(mode="json")]}

        return node

    def critic(self, state: ProposalState) -> dict[str, Any]:
        message = self.team.critic.critique(self._draft(state))
        return {"proposal_messages": [message.model_dump(mode="json")], "round": message.round + 1}

    def ask(self, state: ProposalState) -> dict[str, Any]:
        request = self._request(state)
        message = self.team.agents[request.agent].answer(request.question, self._draft(state))
        record = workflow.save_answer(request, message)
        return {
            "proposal_messages": [message.model_dump(mode="json")],
            "research_proposals": [record.model_dump(mode="json")],
        }

    def assemble(self, state: ProposalState) -> dict[str, Any]:
        proposal = workflow.assemble(self._request(state), state["proposal_messages"])
        return {"proposal": proposal.to_json()}

    def validate(self, state: ProposalState) -> dict[str, Any]:
        request = self._request(state)
        proposal = ResearchProposal.model_validate(state["proposal"])
        checked = validation.validate(proposal, request.budget, request.out_dir, self.log)
        return {"proposal": checked.to_json()}

    def save(self, state: ProposalState) -> dict[str, Any]:
        proposal = ResearchProposal.model_validate(state["proposal"])
        record = workflow.save_proposal(self._request(state), proposal)
        return {"research_proposals": [record.model_dump(mode="json")]}

    def start(self, state: ProposalState) -> Start:
        pattern = self._request(state).pattern
        if pattern == "specialized":
            return "ask"
        return list(self.order) if pattern == "parallel" else self.order[0]

    def after(self, key: AgentNode) -> Callable[[ProposalState], AfterAgent]:
        """Where the conversation goes after agent `key` has spoken."""
        order = self.order
        index = order.index(key)

        def route(state: ProposalState) -> AfterAgent:
            pattern = self._request(state).pattern
            if pattern != "parallel" and index + 1 < len(order):
                return order[index + 1]
            return "critic" if pattern == "iterative" else "assemble"

        return route

    def after_critic(self, state: ProposalState) -> AfterCritic:  # the first agent or "assemble"
        return self.order[0] if state["round"] <= self._request(state).rounds else "assemble"

    def after_assemble(self, state: ProposalState) -> Literal["validate", "save"]:
        return "validate" if self._request(state).run_validation else "save"


def _targets(key: str, order: tuple[str, ...]) -> list[str]:
    index = order.index(key)
    following = [order[index + 1]] if index + 1 < len(order) else ["critic"]
    return [*following, "assemble"]


def build_proposal_graph(
    team: Team | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[CompiledStateGraph, StateGraph]:
    """The compiled proposal graph and its builder. `team` defaults to `build_team()` (LLM
    roles when a key is set); as a node of another graph it uses that graph's checkpointer."""
    nodes = ProposalNodes(team or build_team(), log)
    builder = StateGraph(ProposalState, input_schema=ProposalInput, output_schema=ProposalOutput)
    for key in nodes.order:
        builder.add_node(key, nodes.agent(key))
        builder.add_conditional_edges(key, nodes.after(key), _targets(key, nodes.order))
    for name in ("request", "critic", "ask", "assemble", "validate", "save"):
        builder.add_node(name, getattr(nodes, name))
    builder.add_edge(START, "request")
    builder.add_conditional_edges("request", nodes.start, [*nodes.order, "ask"])
    builder.add_conditional_edges("critic", nodes.after_critic, [nodes.order[0], "assemble"])
    builder.add_conditional_edges("assemble", nodes.after_assemble, ["validate", "save"])
    builder.add_edge("validate", "save")
    builder.add_edge("save", END)
    builder.add_edge("ask", END)
    return builder.compile(checkpointer=checkpointer), builder
