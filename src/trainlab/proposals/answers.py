"""What each proposal role must answer: pydantic schemas for structured output.

The policies that ask for them are in `proposals.agents`; the text checks (`Text`, `Items`)
are the proposal schema's, so an answer that validates here is a valid proposal section.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from trainlab.proposals.schema import METRICS, Items, Text


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
