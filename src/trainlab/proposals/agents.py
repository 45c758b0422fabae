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

from trainlab.agents.anonymize import Anonymizer
from trainlab.agents.credentials import Redactor, endpoint_for, load_env, secret_values
from trainlab.agents.factory import chat_model
from trainlab.agents.llm import InvalidAnswer, Messages, RoleLLM
from trainlab.agents.resilience import CallPolicy, breaker_for
from trainlab.agents.transcripts import TranscriptSink
from trainlab.components import registry
from trainlab.config import DEFAULT_MODELS
from trainlab.proposals import offline, prompts
from trainlab.proposals.request import Draft
from trainlab.proposals.schema import METRICS, Items, Text, ValidationPlan

OFFLINE_POLICY = "offline:library"
DEFAULT_MODEL = DEFAULT_MODELS["researcher"]
KEY_ROLE = "researcher"  # the team uses the researcher's endpoint and key (docs/LLM.md)
Out = TypeVar("Out", bound=BaseModel)


class AlgorithmsOut(BaseModel):
    title: Text
    summary: Text = Field(description="the core concept and a high-level summary")
    benefits: Items = Field(description="hypothesized benefits (speed, stability, ...)")
    related_work: Items = Field(description="related work, one reference per item")
    novelty: Text
    reasoning: Text = Field(description="observation → hypothesis → theory → test")
    assumptions: Items
    components: list[str] = Field(description="library component names it uses ([] if none)")


class SystemsOut(BaseModel):
    scalability: Text = Field(
        description="memory, communication, 100B-parameter and trillion-token implications"
    )
    constraints: Items = Field(description="engineering constraints")


class EngineeringOut(BaseModel):
    implementation: Text = Field(
        description="implementation plan in terms of the component library (code as text)"
    )


class ExperimentDesign(BaseModel):
    """What the validation compares, by library name; budget fields are the lab's."""

    model: str = "resnet9"
    optimizer: str = "adamw"
    loss: str = "cross_entropy"
    base_optimizer: str = "adamw"
    learning_rate: float | None = None
    seeds: int = Field(description="paired seeds, at least 2")
    epochs: int


class PipelineOut(BaseModel):
    plan: Text = Field(description="the minimal validation experiment")
    metric: str = Field(description=f"the deciding metric: one of {', '.join(METRICS)}")
    success_criterion: Text
    experiment: ExperimentDesign | None = Field(
        description="null when no library component can test the idea"
    )
    safety: Text = Field(description="safety and alignment considerations")


class ArchitectureOut(BaseModel):
    risks: Items = Field(description="trade-offs and risks, inductive-bias implications first")


class CritiqueOut(BaseModel):
    points: Items


class AnswerOut(BaseModel):
    answer: Text


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
    env = load_env() if env is None else env
    if offline:
        return offline_team("--offline given")
    endpoint = endpoint_for(KEY_ROLE, env)
    if endpoint is None:
        return offline_team("no API key set (GEMINI_API_KEY, see docs/LLM.md)")
    redact = Redactor(secret_values(env))
    chat = chat_model(model, endpoint, env)
    sanitize = Anonymizer(anonymize, extra_terms)
    sink = TranscriptSink(run_dir, redact)
    breaker = breaker_for(endpoint.base_url, CallPolicy.from_env(env))

    def llm(role: str) -> RoleLLM:
        return RoleLLM(f"proposal:{role}", model, chat, sanitize, redact, sink, breaker)

    anonymized = "anonymized" if anonymize else "NOT anonymized"
    return Team(
        {key: Agent(role, llm(key)) for key, role in ROLES.items()},
        Critic(llm("critic")),
        f"Proposal team: LLM {model} via {endpoint.base_url} (key: {endpoint.key_var}) for "
        f"the five roles and the critic; prompts {anonymized}.",
    )
