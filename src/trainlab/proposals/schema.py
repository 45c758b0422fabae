"""The structured research proposal: the seed's ten sections, none of which may be empty.

`ResearchProposal` validates (every text non-empty and no placeholder, every list non-empty)
and renders itself as JSON and Markdown; `ResearchProposalBuilder` writes one by hand:

    proposal = (
        ResearchProposalBuilder()
        .set_title("Lookahead for small CNNs")
        .set_core_concept("Wrap AdamW in Lookahead ...")
        .add_benefit("Hypothesis: lower variance of the final accuracy")
        ...
        .build()
    )
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from trainlab.agents.schemas import require_text
from trainlab.experiments.config import ExperimentConfig
from trainlab.experiments.stats import Comparison
from trainlab.runstore import atomic_write_bytes, write_json


def _text(value: str, info: ValidationInfo) -> str:
    return require_text(value, info.field_name or "text")


Text = Annotated[str, AfterValidator(_text)]
Items = Annotated[list[Text], Field(min_length=1)]

# Metrics the experiment framework compares (peak GPU memory exists on CUDA only).
METRICS: tuple[str, ...] = ("test_acc", "test_f1", "test_ece", "val_nll", "seconds", "state_mb")
ValidationStatus = Literal["measured", "not run", "failed"]


class ValidationPlan(BaseModel):
    """Section 6 as designed: what to run, which metric decides, and when the idea wins."""

    plan: Text
    metric: str = Field(description=f"the deciding metric, one of {', '.join(METRICS)}")
    success_criterion: Text
    experiment: ExperimentConfig | None = None  # None: the library cannot run this idea

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {value!r}")
        return value


class ValidationResult(BaseModel):
    """Section 6 as measured by the experiment framework (or why nothing was measured)."""

    status: ValidationStatus
    reason: str = ""
    metric: str = ""
    verdict: str = ""  # on the plan's metric
    accuracy_verdict: str = ""  # the experiment's own verdict, on test accuracy
    comparisons: list[Comparison] = Field(default_factory=list)
    budget: str = ""
    device: str = ""
    seconds: float = 0.0
    directory: str = ""

    def comparison(self, metric: str) -> Comparison | None:
        return next((c for c in self.comparisons if c.metric == metric), None)

    def summary(self) -> str:
        """One line: the verdict on the deciding metric with its numbers, or why none."""
        decided = self.comparison(self.metric)
        if self.status != "measured" or decided is None:
            return f"{self.status}: {self.reason}"
        return (
            f"{self.metric} {self.verdict} (candidate − baseline {_number(decided.diff_mean)}"
            f" ± {_number(decided.diff_ci)}, p {_p(decided)}, {decided.n} paired seeds); "
            f"test accuracy: {self.accuracy_verdict}"
        )


class ResearchProposal(BaseModel):
    """One research proposal. Field order follows the seed's ten sections."""

    title: Text
    topic: Text
    summary: Text  # 1. core concept and high-level summary
    benefits: Items  # 2. hypothesized benefits
    risks: Items  # 3. trade-offs and risks
    related_work: Items  # 4. related work ...
    novelty: Text  # ... and novelty statement
    implementation: Text  # 5. concrete implementation
    components: list[str] = Field(default_factory=list)  # library names it builds on
    validation: ValidationPlan  # 6. minimal validation experiments ...
    results: ValidationResult | None = None  # ... and what they measured
    scalability: Text  # 7.
    constraints: Items  # 8. engineering constraints
    reasoning: Text  # 9. reasoning path ...
    assumptions: Items  # ... and assumptions
    safety: Text  # 10. safety / alignment considerations
    review: list[str] = Field(default_factory=list)  # the last critique (iterative pattern)
    authors: dict[str, str] = Field(default_factory=dict)  # section field → who wrote it
    created: str = Field(default_factory=lambda: datetime.now().isoformat(timespec="seconds"))

    @property
    def verdict(self) -> str:
        if self.results is None:
            return "not validated"
        return self.results.verdict if self.results.status == "measured" else self.results.status

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_markdown(self) -> str:
        head = f"# {self.title}\n\n*Topic:* {self.topic}  \n*Verdict:* {self.verdict}\n"
        body = render_sections(self.model_dump(mode="json"), numbered=True)
        credits = "".join(f"- {field}: {who}\n" for field, who in self.authors.items())
        return head + "\n" + body + (f"\n## Authors\n\n{credits}" if credits else "")

    def save(self, folder: Path, stem: str) -> tuple[Path, Path]:
        """`<folder>/<stem>.json` and `<stem>.md`, written atomically."""
        json_path, md_path = folder / f"{stem}.json", folder / f"{stem}.md"
        write_json(json_path, self.to_json())
        atomic_write_bytes(md_path, self.to_markdown().encode())
        return json_path, md_path


# The ten sections: heading and the fields shown under it (label None: the field's own text).
SECTIONS: tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...] = (
    ("Concept and summary", (("summary", None),)),
    ("Hypothesized benefits", (("benefits", None),)),
    ("Trade-offs and risks", (("risks", None),)),
    ("Related work and novelty", (("related_work", None), ("novelty", "Novelty"))),
    ("Implementation", (("implementation", None), ("components", "Library components"))),
    ("Minimal validation experiments", (("validation", None), ("results", "Measured"))),
    ("Scalability", (("scalability", None),)),
    ("Engineering constraints", (("constraints", None),)),
    (
        "Reasoning path and assumptions",
        (("reasoning", None), ("assumptions", "Assumptions"), ("review", "Last critique")),
    ),
    ("Safety considerations", (("safety", None),)),
)


def render_sections(sections: Mapping[str, Any], numbered: bool = False) -> str:
    """Markdown of the sections present in `sections` (a proposal's JSON, or part of one)."""
    parts = []
    for number, (heading, fields) in enumerate(SECTIONS, 1):
        blocks = [_block(sections[f], label) for f, label in fields if sections.get(f)]
        if blocks:
            title = f"{number}. {heading}" if numbered else heading
            parts.append(f"## {title}\n\n" + "\n\n".join(blocks) + "\n")
    return "\n".join(parts)


def _block(value: Any, label: str | None) -> str:
    if isinstance(value, dict):
        text = _result(value) if "status" in value else _plan(value)
    elif isinstance(value, list):
        text = "\n".join(f"- {item}" for item in value)
    else:
        text = str(value)
    return f"**{label}:**\n\n{text}" if label else text


def _plan(plan: Mapping[str, Any]) -> str:
    lines = [plan["plan"], "", f"- Deciding metric: `{plan['metric']}`"]
    lines.append(f"- Success criterion: {plan['success_criterion']}")
    config = plan.get("experiment")
    if config is None:
        lines.append("- Experiment: none the component library can run")
    else:
        experiment = ExperimentConfig.model_validate(config)
        lines.append(
            f"- Experiment: `{experiment.candidate.label}` vs `{experiment.baseline.label}`, "
            f"{experiment.seeds} seeds × {experiment.epochs} epochs on {experiment.dataset} "
            f"(width {experiment.width}, batch {experiment.batch_size})"
        )
    return "\n".join(lines)


def _result(data: Mapping[str, Any]) -> str:
    result = ValidationResult.model_validate(data)
    if result.status != "measured":
        return f"{result.status}: {result.reason}"
    rows = [
        "| metric | baseline | candidate | difference | p | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for c in result.comparisons:
        rows.append(
            f"| {c.metric} | {_number(c.baseline_mean)} | {_number(c.candidate_mean)} | "
            f"{_number(c.diff_mean)} ± {_number(c.diff_ci)} | {_p(c)} | {c.verdict} |"
        )
    return (
        f"{result.summary()}.\n\n{result.budget} on {result.device}, "
        f"{result.seconds:.1f} s; trials and plots in `{result.directory}`.\n\n" + "\n".join(rows)
    )


def _number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4g}"


def _p(comparison: Comparison) -> str:
    return "exact" if comparison.p_value is None else f"{comparison.p_value:.3g}"


class ResearchProposalBuilder:
    """Writes a proposal by hand; `build()` validates it (every section must be filled)."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    def _set(self, field: str, value: Any) -> ResearchProposalBuilder:
        self._data[field] = value
        return self

    def _add(self, field: str, item: str) -> ResearchProposalBuilder:
        self._data.setdefault(field, []).append(item)
        return self

    def set_title(self, text: str) -> ResearchProposalBuilder:
        return self._set("title", text)

    def set_topic(self, text: str) -> ResearchProposalBuilder:
        return self._set("topic", text)

    def set_core_concept(self, text: str) -> ResearchProposalBuilder:
        return self._set("summary", text)

    def add_benefit(self, text: str) -> ResearchProposalBuilder:
        return self._add("benefits", text)

    def add_risk(self, text: str) -> ResearchProposalBuilder:
        return self._add("risks", text)

    def add_related_work(self, text: str) -> ResearchProposalBuilder:
        return self._add("related_work", text)

    def set_novelty(self, text: str) -> ResearchProposalBuilder:
        return self._set("novelty", text)

    def set_implementation(
        self, text: str, components: list[str] | None = None
    ) -> ResearchProposalBuilder:
        self._set("components", list(components or []))
        return self._set("implementation", text)

    def set_validation(
        self,
        plan: str,
        metric: str,
        success_criterion: str,
        experiment: ExperimentConfig | None = None,
    ) -> ResearchProposalBuilder:
        return self._set(
            "validation",
            {
                "plan": plan,
                "metric": metric,
                "success_criterion": success_criterion,
                "experiment": experiment,
            },
        )

    def set_scalability(self, text: str) -> ResearchProposalBuilder:
        return self._set("scalability", text)

    def add_constraint(self, text: str) -> ResearchProposalBuilder:
        return self._add("constraints", text)

    def set_reasoning(self, text: str) -> ResearchProposalBuilder:
        return self._set("reasoning", text)

    def add_assumption(self, text: str) -> ResearchProposalBuilder:
        return self._add("assumptions", text)

    def set_safety(self, text: str) -> ResearchProposalBuilder:
        return self._set("safety", text)

    def build(self) -> ResearchProposal:
        """The proposal; a pydantic ValidationError names every missing or empty section."""
        return ResearchProposal.model_validate(self._data)
