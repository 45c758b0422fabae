"""Adding an agent role to the proposal team. A registered role joins every pattern: it speaks
after the five in the sequential and iterative chains, with them in the parallel fan-out, can
be asked alone (`ask --agent KEY`), and answers in a brainstorm. Its sections are saved with the
proposal (`extra_sections`, rendered as sections 11, 12, ... of the Markdown).

Like the seed's `CustomAgent(BaseAgent)`, with an offline policy beside the prompt:

    class TheoryAgent(BaseAgent):
        key, title = "theory", "Theory"
        sections = ("convergence_analysis",)

        def _get_role_specific_prompt(self) -> str:
            return "analyse the convergence of the proposed component: rates, assumptions."

        def offline(self, draft: Draft) -> dict[str, Any]:
            return {"convergence_analysis": f"{draft.focus().name}: no rate is recorded."}

    register_agent(TheoryAgent)     # before the team is built

Or `register_role(Role(...))` with a pydantic answer schema of your own. In LLM mode the role
answers through `RoleLLM` like the five (structured output, offline fallback recorded).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, create_model

from trainlab.proposals.agents import ROLES, Role
from trainlab.proposals.request import AGENTS, Draft
from trainlab.proposals.schema import ResearchProposal, Text

BUILT_IN: tuple[str, ...] = tuple(AGENTS)


class RoleError(ValueError):
    """A role that cannot join the team: a taken or malformed key, a clashing section."""


class BaseAgent:
    """Subclass with `key`, `title`, `sections`, a role prompt and an offline policy."""

    key: ClassVar[str]
    title: ClassVar[str]
    sections: ClassVar[tuple[str, ...]]

    def _get_role_specific_prompt(self) -> str:
        raise NotImplementedError

    def offline(self, draft: Draft) -> dict[str, Any]:
        """This role's sections without a model (deterministic; no network)."""
        raise NotImplementedError


def _schema(key: str, sections: tuple[str, ...]) -> type[BaseModel]:
    fields: dict[str, Any] = {name: (Text, ...) for name in sections}
    return create_model(f"{key.title().replace('_', '')}Out", **fields)


def register_role(role: Role) -> Role:
    """Add `role` to the team table (and the `--agent` choices); a user key may be replaced."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", role.key) or role.key in (*BUILT_IN, "critic"):
        raise RoleError(f"role key must be a new lower_snake_case name, got {role.key!r}")
    clash = [f for f in role.fields if f in ResearchProposal.model_fields]
    if clash:
        raise RoleError(f"role {role.key!r}: sections {clash} belong to the five roles")
    ROLES[role.key] = role
    if role.key not in AGENTS:
        AGENTS.append(role.key)
    return role


def register_agent(agent: type[BaseAgent] | BaseAgent) -> Role:
    """Register a BaseAgent subclass (or instance) as a role."""
    instance = agent() if isinstance(agent, type) else agent
    return register_role(
        Role(
            instance.key,
            instance.title,
            instance._get_role_specific_prompt(),
            _schema(instance.key, tuple(instance.sections)),
            instance.offline,
        )
    )


def unregister_role(key: str) -> None:
    """Remove a registered role (the five stay)."""
    if key not in BUILT_IN and key in ROLES:
        del ROLES[key]
        AGENTS.remove(key)
