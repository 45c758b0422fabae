"""The lab's adoption rule: a component enters the search space only after a significant
validation on the lab's own data, and the extended space accepts it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from trainlab.agents.base import RoundView
from trainlab.components.optimizers import LookAhead
from trainlab.components.registry import BuildContext
from trainlab.config import TrainSettings
from trainlab.experiments.config import ExperimentConfig
from trainlab.experiments.stats import Comparison
from trainlab.lab import adopted_components
from trainlab.proposals.adoption import AdoptedSpace, adopt_round, decide
from trainlab.proposals.schema import ResearchProposal, ResearchProposalBuilder, ValidationResult
from trainlab.proposals.workflow import ProposalRecord
from trainlab.space import HParams, SpaceError

POINT = dict(learning_rate=0.01, train_batch_size=64, weight_decay=1e-4, label_smoothing=0.0)


def validated(
    verdict: str,
    optimizer: str = "lookahead",
    loss: str = "cross_entropy",
    dataset: str = "digits",
    accuracy: str = "no significant difference",
) -> ResearchProposal:
    builder = ResearchProposalBuilder().set_title("t").set_topic("t").set_core_concept("c")
    for add in (
        builder.add_benefit,
        builder.add_risk,
        builder.add_related_work,
        builder.add_constraint,
        builder.add_assumption,
    ):
        add("x")
    config = ExperimentConfig(optimizer=optimizer, loss=loss, dataset=dataset, seeds=2)
    proposal = (
        builder.set_novelty("n")
        .set_implementation("i", [optimizer])
        .set_validation("p", "val_nll", "s", config)
        .set_scalability("s")
        .set_reasoning("r")
        .set_safety("s")
        .build()
    )
    comparison = Comparison(
        metric="val_nll",
        higher_is_better=False,
        n=2,
        baseline_mean=0.5,
        baseline_ci=0.01,
        candidate_mean=0.4,
        candidate_ci=0.01,
        diff_mean=-0.1,
        diff_ci=0.02,
        p_value=0.01,
        verdict=verdict,
    )
    results = ValidationResult(
        status="measured",
        metric="val_nll",
        verdict=verdict,
        accuracy_verdict=accuracy,
        comparisons=[comparison],
        directory="exp",
    )
    return proposal.model_copy(update={"results": results})


def record(lab_round: int = 4) -> ProposalRecord:
    return ProposalRecord(
        kind="proposal",
        name="round_4",
        pattern="sequential",
        topic="t",
        title="t",
        components=["lookahead"],
        verdict="better",
        lab_round=lab_round,
        json_path="round_4.json",
        markdown_path="round_4.md",
    )


def test_a_significantly_better_optimizer_is_adopted_with_its_evidence() -> None:
    adoption = decide(record(), validated("better"), "digits")
    assert adoption.component == "lookahead" and adoption.lab_round == 4
    assert (adoption.metric, adoption.p_value, adoption.seeds) == ("val_nll", 0.01, 2)
    assert adoption.proposal == "round_4.json"


@pytest.mark.parametrize(
    "proposal",
    [
        validated("no significant difference"),
        validated("worse"),
        validated("better", dataset="synthetic"),  # not the lab's own data
        validated("better", accuracy="worse"),
        validated("better", optimizer="adamw", loss="focal"),  # no loss dimension in the space
        validated("better", loss="focal"),  # two components at once: whose effect?
    ],
)
def test_no_adoption_without_a_significant_clean_win_on_the_labs_data(proposal) -> None:
    assert decide(record(), proposal, "digits") is None


def test_not_measured_and_already_adopted_are_not_adopted() -> None:
    unmeasured = validated("better").model_copy(update={"results": None})
    assert decide(record(), unmeasured, "digits") is None
    assert decide(record(), validated("better"), "digits", ("adam", "sgd", "lookahead")) is None


def test_the_space_accepts_an_adopted_optimizer_only_after_adoption() -> None:
    with pytest.raises(SpaceError, match="optimizer must be one of"):
        AdoptedSpace().hparams({"optimizer": "lookahead", **POINT})
    grown = AdoptedSpace().adopt(decide(record(), validated("better"), "digits"))
    point = grown.hparams({"optimizer": "lookahead", **POINT})
    assert grown.distributions()["optimizer"].choices == ("adam", "sgd", "lookahead")
    built = grown.build_optimizer(BuildContext())([nn.Parameter(torch.zeros(2))], point)
    assert isinstance(built, LookAhead)
    plain = grown.build_optimizer(BuildContext())(
        [nn.Parameter(torch.zeros(2))], grown.hparams({"optimizer": "adam", **POINT})
    )
    assert isinstance(plain, torch.optim.AdamW)


def test_a_lab_round_adopts_from_its_proposal_files_once(tmp_path) -> None:
    json_path, _ = validated("better").save(tmp_path, "round_4")
    raw = record().model_copy(update={"json_path": str(json_path)}).model_dump(mode="json")
    (adopted,) = adopt_round([raw], [], "digits")
    assert (adopted["component"], adopted["proposal"]) == ("lookahead", str(json_path))
    assert adopt_round([raw], [adopted], "digits") == [adopted]  # a choice already
    assert adopt_round([raw], [], "synthetic") == []  # measured on other data
    view = RoundView.from_state({"round": 5, "adopted": [adopted]})
    assert view.optimizers == ("adam", "sgd", "lookahead")


def test_the_executor_builds_an_adopted_optimizer_and_nothing_else_changes() -> None:
    data = SimpleNamespace(train_y=torch.zeros(640), num_classes=10)  # what it reads
    hp = HParams(optimizer="lookahead", **POINT)
    built = adopted_components(("lookahead",), hp, data, TrainSettings(epochs=2))
    assert isinstance(built.build_optimizer([nn.Parameter(torch.zeros(2))], hp), LookAhead)
    assert adopted_components((), hp, data, TrainSettings()) is None  # the trainer's defaults
