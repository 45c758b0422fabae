"""What the proposal workflow is asked (`ProposalRequest`), the budget its validation runs under
(`Budget`), and what an agent sees when it speaks (`Draft`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trainlab.components.registry import Component
from trainlab.config import DatasetName, default_data_dir
from trainlab.experiments.config import ExperimentConfig
from trainlab.proposals import library

Pattern = Literal["sequential", "parallel", "iterative", "specialized"]
PATTERNS: tuple[str, ...] = ("sequential", "parallel", "iterative", "specialized")
EXPERIMENT = ExperimentConfig.model_fields  # the budget's fields mean what they mean there
AGENTS: tuple[str, ...] = ("algorithms", "systems", "engineering", "pipeline", "architecture")


class Budget(BaseModel):
    """Where and how long a validation experiment may train; designs may ask for less."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: DatasetName = Field("digits", description=EXPERIMENT["dataset"].description)
    data_dir: Path = Field(
        default_factory=default_data_dir, description=EXPERIMENT["data_dir"].description
    )
    val_split: float = Field(0.2, ge=0.0, lt=1.0, description=EXPERIMENT["val_split"].description)
    device: str = Field("auto", description=EXPERIMENT["device"].description)
    seeds: int = Field(3, ge=2, description="at most this many paired seeds")
    epochs: int = Field(4, ge=1, description="at most this many epochs per arm")
    width: int = Field(16, ge=4, description=EXPERIMENT["width"].description)

    def config(
        self, seeds: int | None = None, epochs: int | None = None, **design: Any
    ) -> ExperimentConfig:
        """An ExperimentConfig of `design` (components, rates) within this budget."""
        return ExperimentConfig(
            **design,
            seeds=self.seeds if seeds is None else min(seeds, self.seeds),
            epochs=self.epochs if epochs is None else min(epochs, self.epochs),
            dataset=self.dataset,
            data_dir=self.data_dir,
            val_split=self.val_split,
            device=self.device,
            width=self.width,
        )

    def config_for(self, component: Component) -> ExperimentConfig:
        """The minimal experiment for one component: it alone against its baseline."""
        return self.config(**{library.FIELD[component.kind]: component.name})

    def describe(self) -> str:
        return (
            f"{self.seeds} paired seeds × {self.epochs} epochs on {self.dataset} "
            f"(width {self.width})"
        )


class ProposalRequest(BaseModel):
    """One run of the workflow: a topic for a proposal, or a question for one agent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str = ""
    pattern: Pattern = "sequential"
    rounds: int = Field(1, ge=1)  # iterative: refinement rounds, each ending in a critique
    agent: str | None = None  # specialized: who is asked
    question: str = ""  # specialized: what is asked
    run_validation: bool = False
    budget: Budget = Field(default_factory=Budget)
    out_dir: Path  # the proposals folder (JSON, Markdown, transcripts, experiments)
    name: str = "proposal"  # file stem
    exclude: tuple[str, ...] = ()  # components proposed before: choose another
    lab_round: int | None = None  # when the HPO lab asks: its round

    @model_validator(mode="after")
    def _complete(self) -> ProposalRequest:
        if self.pattern == "specialized":
            if self.agent not in AGENTS:
                choices = ", ".join(AGENTS)
                raise ValueError(f"the specialized pattern asks one agent ({choices})")
            if not self.question.strip():
                raise ValueError("the question is empty")
        elif not self.topic.strip():
            raise ValueError("the topic is empty")
        return self


@dataclass(frozen=True)
class Draft:
    """What an agent sees: the topic, the sections written so far, the last critique."""

    topic: str
    round: int
    sections: Mapping[str, Any]
    critique: tuple[str, ...]
    budget: Budget
    exclude: tuple[str, ...] = ()
    transcript_round: int = 1  # the round its LLM exchanges are filed under

    def focus(self) -> Component:
        """The component the proposal is about (the draft's choice, else the topic's match)."""
        return library.focus(self.topic, self.sections.get("components", ()), self.exclude)
