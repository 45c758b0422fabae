"""The lab learns from its proposals: when a proposal's validation on the lab's own data finds
an optimizer significantly better than its baseline, the search space gains it as a new
optimizer choice for the remaining rounds, recorded with the evidence.

Decision rule (`decide`): the proposal was measured; its experiment ran on the lab's dataset
and tested exactly one component, an optimizer (the space's only categorical component
dimension); the verdict on the deciding metric is "better" (paired t-test at the experiment's
α) and test accuracy is not "worse"; the component is not a choice already. Losses and
architectures are not adopted: the space has no dimension for them.

`AdoptedSpace` is the space plus the adopted optimizers: their Optuna distributions, points
that carry them, and an optimizer factory for the trainer. `adopt_round` is what the lab's
record node calls (`--adopt-components`): the round's proposals' adoptions, whose evidence
goes to RUN_DIR/adopted.json and the report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from pydantic import BaseModel
from torch import nn

from trainlab import space
from trainlab.components import registry
from trainlab.proposals.schema import ResearchProposal
from trainlab.proposals.workflow import ProposalRecord
from trainlab.runstore import read_json, write_json
from trainlab.space import HParams
from trainlab.training.optim import default_optimizer

ADOPTED = "adopted.json"  # in the run folder: every adoption with its evidence


class Adoption(BaseModel):
    """A component that entered the search space, and why."""

    component: str
    kind: str
    lab_round: int | None
    metric: str
    verdict: str
    diff_mean: float  # candidate − baseline on the deciding metric
    p_value: float | None
    seeds: int
    accuracy_verdict: str
    proposal: str  # the proposal's JSON
    experiment: str  # its experiment folder


def decide(
    record: ProposalRecord,
    proposal: ResearchProposal,
    dataset: str,
    choices: Sequence[str] = space.OPTIMIZERS,
) -> Adoption | None:
    """The adoption a validated proposal earns, or None (see the module's rule)."""
    results, config = proposal.results, proposal.validation.experiment
    if results is None or results.status != "measured" or config is None:
        return None
    tested = config.name.split("+")
    decided = results.comparison(results.metric)
    if (
        config.dataset != dataset
        or len(tested) != 1
        or not space.adoptable(tested[0])  # a registry optimizer with a baseline
        or tested[0] in choices
        or decided is None
        or decided.verdict != "better"
        or results.accuracy_verdict == "worse"
    ):
        return None
    return Adoption(
        component=tested[0],
        kind="optimizer",
        lab_round=record.lab_round,
        metric=results.metric,
        verdict=decided.verdict,
        diff_mean=decided.diff_mean,
        p_value=decided.p_value,
        seeds=decided.n,
        accuracy_verdict=results.accuracy_verdict,
        proposal=record.json_path,
        experiment=results.directory,
    )


@dataclass(frozen=True)
class AdoptedSpace:
    """The search space with the optimizers adopted so far."""

    adopted: tuple[str, ...] = ()

    @property
    def optimizers(self) -> tuple[str, ...]:
        return (*space.OPTIMIZERS, *self.adopted)

    def adopt(self, adoption: Adoption) -> AdoptedSpace:
        registry.get(adoption.component, "optimizer")
        return AdoptedSpace((*self.adopted, adoption.component))

    @classmethod
    def of(cls, adoptions: Sequence[Mapping[str, Any]]) -> AdoptedSpace:
        """The space of the lab state's `adopted` records (Adoption JSON)."""
        return cls(tuple(a["component"] for a in adoptions))

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """space.optuna_distributions() with the optimizer choice extended (Optuna refuses
        to change a distribution inside one study: search/study.py opens a new one)."""
        return space.optuna_distributions(self.optimizers)

    def hparams(self, values: Mapping[str, Any]) -> HParams:
        """A point of this space (HParams accepts every adoptable optimizer; this space only
        the adopted ones)."""
        name = values.get("optimizer")
        if name not in self.optimizers:
            choices = list(self.optimizers)
            raise space.SpaceError(f"optimizer must be one of {choices}, got {name!r}")
        return HParams.model_validate(values)

    def build_optimizer(
        self, ctx: registry.BuildContext
    ) -> Callable[[list[nn.Parameter], HParams], torch.optim.Optimizer]:
        """TrialComponents.build_optimizer: an adopted name from the registry (wrappers wrap
        ctx.base_optimizer), adam / sgd as the trainer builds them."""

        def build(params: list[nn.Parameter], hparams: HParams) -> torch.optim.Optimizer:
            if hparams.optimizer in self.adopted:
                return registry.get(hparams.optimizer).build(params, hparams, ctx)
            return default_optimizer(params, hparams)

        return build


def adopt_round(
    records: Sequence[Mapping[str, Any]], adopted: Sequence[Mapping[str, Any]], dataset: str
) -> list[dict[str, Any]]:
    """The adoptions (JSON) after a lab round: `adopted` plus what the round's proposals
    (ProposalRecord JSON, their proposal files read back) earn by `decide`."""
    grown = list(adopted)
    for raw in records:
        record = ProposalRecord.model_validate(raw)
        proposal = ResearchProposal.model_validate(read_json(Path(record.json_path)))
        adoption = decide(record, proposal, dataset, AdoptedSpace.of(grown).optimizers)
        if adoption is not None:
            grown.append(adoption.model_dump(mode="json"))
    return grown


def write_adopted(run_dir: Path, adopted: Sequence[Mapping[str, Any]]) -> None:
    """RUN_DIR/adopted.json: every adoption with its evidence (rewritten whole)."""
    write_json(run_dir / ADOPTED, list(adopted))
