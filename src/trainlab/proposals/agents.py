"""The proposal team: five specialist roles and a critic. Each speaks through its LLM (via
`RoleLLM.decide`: structured output, one retry, offline fallback recorded in `policy`) or, with
no key, through its offline policy (`proposals.offline`). Whatever a model writes is checked:
component names must be the registry's, the experiment must validate as an ExperimentConfig
within the budget; code in its text is stored, never executed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from trainlab.agents.credentials import endpoint_for
from trainlab.agents.factory import chat_model, client_setup, environment
from trainlab.agents.llm import InvalidAnswer, Messages, RoleLLM
from trainlab.components import registry
from trainlab.config import DEFAULT_MODELS
from trainlab.proposals import offline, prompts
from trainlab.proposals.answers import (
    AlgorithmsOut,
    AnswerOut,
    ArchitectureOut,
    CritiqueOut,
    EngineeringOut,
    PipelineOut,
    SystemsOut,
)
from trainlab.proposals.request import Draft
from trainlab.proposals.schema import ValidationPlan

OFFLINE_POLICY = "offline:library"
DEFAULT_MODEL = DEFAULT_MODELS["researcher"]
KEY_ROLE = "researcher"  # the team uses the researcher's endpoint and key (docs/LLM.md)
Out = TypeVar("Out", bound=BaseModel)


class Message(BaseModel):
    """One utterance of the workflow: a contribution, a critique or an answer."""

    speaker: str
    kind: Literal["contribution", "critique", "answer"]
    round: int
    sections: dict[str, Any] = Field(default_factory=dict)
    text: str = ""
    policy: str


def _dump(out: BaseModel, draft: Draft) -> dict[str, Any]:
    return out.model_dump(mode="json")


def _algorithms(out: AlgorithmsOut, draft: Draft) -> dict[str, Any]:
    unknown = [name for name in out.components if name not in registry.REGISTRY]
    if unknown:
        raise InvalidAnswer(
            f"components {unknown} are not in the library ({', '.join(registry.names())})"
        )
    return _dump(out, draft)


def _pipeline(out: PipelineOut, draft: Draft) -> dict[str, Any]:
    design = out.experiment
    plan = ValidationPlan(
        plan=out.plan,
        metric=out.metric,
        success_criterion=out.success_criterion,
        experiment=draft.budget.config(**design.model_dump()) if design else None,
    )  # a bad name or value raises ValidationError: the model is told and asked again
    return {"validation": plan.model_dump(mode="json"), "safety": out.safety}


@dataclass(frozen=True)
class Role:
    """A specialist: what it writes, its answer schema and its offline policy."""

    key: str
    title: str
    focus: str
    schema: type[BaseModel]
    write: Callable[[Draft], dict[str, Any]]  # offline policy
    convert: Callable[[Any, Draft], dict[str, Any]] = _dump  # LLM answer → sections

    @property
    def fields(self) -> list[str]:
        return list(self.schema.model_fields)


ROLES: dict[str, Role] = {
    role.key: role
    for role in (
        Role("algorithms", "AI Algorithms",
             "propose the core concept: the idea, its hypothesized benefits, related work and "
             "novelty, the reasoning path and assumptions, and the library components it uses.",
             AlgorithmsOut, offline.algorithms, _algorithms),
        Role("systems", "Systems Design",
             "evaluate scalability: memory, communication, what happens at 100B parameters and "
             "on trillion-token datasets; list the engineering constraints.",
             SystemsOut, offline.systems),
        Role("engineering", "Python Engineering",
             "write the implementation plan in terms of the component library (registry names, "
             "factories, the experiment framework).",
             EngineeringOut, offline.engineering),
        Role("pipeline", "Training Pipeline",
             "design the minimal validation experiment as library names within the budget, "
             "its deciding metric and success criterion, and the safety considerations.",
             PipelineOut, offline.pipeline, _pipeline),
        Role("architecture", "Architecture Design",
             "analyse the implications: inductive biases, trade-offs and risks.",
             ArchitectureOut, offline.architecture),
    )
}  # fmt: skip


def _speak(
    llm: RoleLLM | None,
    round_: int,
    messages: Callable[[], Messages],
    schema: type[Out],
    build: Callable[[Out], Message],
    fallback: Callable[[], Message],
) -> Message:
    """The model's message (with the offline one as recorded fallback), or the offline one."""
    if llm is None:
        return fallback()
    return llm.decide(round_, messages, schema, build, fallback)


class Agent:
    """One role, with its LLM when there is one."""

    def __init__(self, role: Role, llm: RoleLLM | None = None) -> None:
        self.role, self.llm = role, llm

    def contribute(self, draft: Draft) -> Message:
        """This role's sections of the draft."""

        def message(sections: dict[str, Any], policy: str) -> Message:
            return Message(
                speaker=self.role.key,
                kind="contribution",
                round=draft.round,
                sections=sections,
                text=f"wrote {', '.join(sections)}",
                policy=policy,
            )

        return _speak(
            self.llm,
            draft.transcript_round,
            lambda: prompts.contribute(self.role.title, self.role.focus, self.role.fields, draft),
            self.role.schema,
            lambda out: message(self.role.convert(out, draft), self.llm.policy),
            lambda: message(self.role.write(draft), OFFLINE_POLICY),
        )

    def answer(self, question: str, draft: Draft) -> Message:
        """One question, answered from this role's specialty (the specialized pattern)."""

        def message(text: str, policy: str) -> Message:
            return Message(speaker=self.role.key, kind="answer", round=1, text=text, policy=policy)

        return _speak(
            self.llm,
            draft.transcript_round,
            lambda: prompts.answer(self.role.title, question),
            AnswerOut,
            lambda out: message(out.answer, self.llm.policy),
            lambda: message(offline.answer(self.role.write, draft), OFFLINE_POLICY),
        )


class Critic:
    """Reviews a draft between iterative rounds: the checklist offline, the model online."""

    def __init__(self, llm: RoleLLM | None = None) -> None:
        self.llm = llm

    def critique(self, draft: Draft) -> Message:
        def message(points: list[str], policy: str) -> Message:
            return Message(
                speaker="critic",
                kind="critique",
                round=draft.round,
                sections={"points": points},
                text="; ".join(points),
                policy=policy,
            )

        return _speak(
            self.llm,
            draft.transcript_round,
            lambda: prompts.critique(draft),
            CritiqueOut,
            lambda out: message(out.points, self.llm.policy),
            lambda: message(offline.critique(draft), "offline:checklist"),
        )


@dataclass(frozen=True)
class Team:
    agents: Mapping[str, Agent]
    critic: Critic
    mode: str  # one line: which policies speak

    @property
    def offline(self) -> bool:
        return self.critic.llm is None


def offline_team(reason: str) -> Team:
    return Team(
        {key: Agent(role) for key, role in ROLES.items()},
        Critic(),
        f"Proposal team: offline policies (component library records); {reason}.",
    )


def build_team(
    offline: bool = False,
    model: str = DEFAULT_MODEL,
    run_dir: Callable[[], Path | None] = lambda: None,
    anonymize: bool = True,
    extra_terms: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
) -> Team:
    """LLM roles on the researcher's endpoint when a key is set, else the offline team.

    Transcripts go to `run_dir()/transcripts/`; keys are read here and only handed to the
    client (see docs/LLM.md for the variables)."""
    env = environment(env)
    if offline:
        return offline_team("--offline given")
    endpoint = endpoint_for(KEY_ROLE, env)
    if endpoint is None:
        return offline_team("no API key set (GEMINI_API_KEY, see docs/LLM.md)")
    chat = chat_model(model, endpoint, env)
    setup = client_setup(env, anonymize, list(extra_terms), run_dir)

    def llm(role: str) -> RoleLLM:
        return setup.role_llm(f"proposal:{role}", model, chat)

    anonymized = "anonymized" if anonymize else "NOT anonymized"
    return Team(
        {key: Agent(role, llm(key)) for key, role in ROLES.items()},
        Critic(llm("critic")),
        f"Proposal team: LLM {model} via {endpoint.base_url} (key: {endpoint.key_var}) for "
        f"the five roles and the critic; prompts {anonymized}.",
    )
