"""The proposal schema: ten sections, none empty; the builder; JSON and Markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from trainlab.experiments.config import ExperimentConfig
from trainlab.experiments.stats import compare
from trainlab.proposals.schema import (
    SECTIONS,
    ResearchProposal,
    ResearchProposalBuilder,
    ValidationResult,
)


def builder() -> ResearchProposalBuilder:
    return (
        ResearchProposalBuilder()
        .set_title("Lookahead for small CNNs")
        .set_topic("stability of small CNN training")
        .set_core_concept("Wrap AdamW in Lookahead: k fast steps, then the slow weights follow.")
        .add_benefit("Hypothesis: lower seed-to-seed variance of the final accuracy")
        .add_risk("One more copy of the weights")
        .add_related_work("Zhang et al., NeurIPS 2019")
        .set_novelty("A measurement, not a new method.")
        .set_implementation("registry name `lookahead`", components=["lookahead"])
        .set_validation(
            "3 paired seeds on digits",
            "test_acc",
            "better test accuracy at α = 0.05",
            ExperimentConfig(optimizer="lookahead", seeds=3, epochs=2),
        )
        .set_scalability("State P more than AdamW at 100B parameters.")
        .add_constraint("GPU memory: 12 bytes per parameter")
        .set_reasoning("Observation → hypothesis → test.")
        .add_assumption("The registry rate suits both arms")
        .set_safety("Diverged runs are recorded, not dropped.")
    )


def test_builder_writes_a_valid_proposal_that_round_trips_through_json(tmp_path: Path) -> None:
    proposal = builder().build()
    json_path, md_path = proposal.save(tmp_path, "p")
    again = ResearchProposal.model_validate(json.loads(json_path.read_text()))
    assert again == proposal
    assert again.validation.experiment == ExperimentConfig(optimizer="lookahead", seeds=3, epochs=2)
    assert md_path.read_text() == proposal.to_markdown()


def test_markdown_has_the_ten_numbered_sections_in_order() -> None:
    markdown = builder().build().to_markdown()
    positions = [markdown.index(f"## {k}. {heading}") for k, (heading, _) in enumerate(SECTIONS, 1)]
    assert len(positions) == 10 and positions == sorted(positions)
    assert "`resnet9 / lookahead / cross_entropy` vs `resnet9 / adamw / cross_entropy`" in markdown
    assert "*Verdict:* not validated" in markdown


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("summary", ""),
        ("summary", "   "),
        ("novelty", "TBD"),
        ("scalability", "..."),
        ("safety", "<safety>"),
        ("benefits", []),
        ("constraints", ["fine", ""]),
        ("risks", []),
        ("assumptions", ["n/a"]),
    ],
)
def test_no_section_may_be_empty(field: str, value) -> None:
    data = builder().build().model_dump()
    data[field] = value
    with pytest.raises(ValidationError) as error:
        ResearchProposal.model_validate(data)
    assert error.value.errors()[0]["loc"][0] == field


def test_builder_names_every_missing_section() -> None:
    partial = ResearchProposalBuilder().set_title("Only a title").set_topic("t")
    with pytest.raises(ValidationError) as error:
        partial.build()
    missing = {e["loc"][0] for e in error.value.errors()}
    assert missing == {
        "summary", "benefits", "risks", "related_work", "novelty", "implementation",
        "validation", "scalability", "constraints", "reasoning", "assumptions", "safety",
    }  # fmt: skip


def test_the_deciding_metric_must_be_one_the_framework_measures() -> None:
    with pytest.raises(ValidationError, match="metric must be one of"):
        builder().set_validation("plan", "vibes", "criterion").build()


def test_measured_results_render_their_verdict_and_table() -> None:
    acc = compare("test_acc", [0.90, 0.91, 0.92], [0.93, 0.945, 0.95], higher_is_better=True)
    result = ValidationResult(
        status="measured", metric="test_acc", verdict=acc.verdict,
        accuracy_verdict=acc.verdict, comparisons=[acc], budget="3 seeds", device="cpu",
        seconds=1.5, directory="runs/x",
    )  # fmt: skip
    proposal = builder().build().model_copy(update={"results": result})
    assert proposal.verdict == "better"
    markdown = proposal.to_markdown()
    assert "test_acc better (candidate − baseline 0.03167" in markdown
    assert "| test_acc | 0.91 | 0.9417 |" in markdown
    failed = proposal.model_copy(update={"results": ValidationResult(status="failed", reason="x")})
    assert failed.verdict == "failed" and "failed: x" in failed.to_markdown()
