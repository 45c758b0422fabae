"""The lab learns from its proposals: when a proposal's validation on the lab's own data finds
an optimizer significantly better than its baseline, the search space gains it as a new
optimizer choice for the remaining rounds, recorded with the evidence.

Decision rule (`decide`): the proposal was measured; its experiment ran on the lab's dataset
and tested exactly one component, an optimizer (the space's only categorical component
dimension); the verdict on the deciding metric is "better" (paired t-test at the experiment's
α) and test accuracy is not "worse"; the component is not a choice already. Losses and
architectures are not adopted: the space has no dimension for them.

`AdoptedSpace` is the space plus the adopted optimizers: their Optuna distributions, points
that carry them (HParams itself is unchanged), and an optimizer factory for the trainer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
import torch
from pydantic import BaseModel
from torch import nn

from trainlab import space
from trainlab.components import registry
from trainlab.proposals.schema import ResearchProposal
from trainlab.proposals.workflow import ProposalRecord
from trainlab.space import HParams
from trainlab.training.optim import default_optimizer


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
        or registry.get(tested[0]).kind != "optimizer"
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

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """space.optuna_distributions() with the optimizer choice extended.

        Optuna refuses to change a distribution inside one study: a study that adopts starts
        a new study (or keeps the old trials as `enqueue`d points) from the adoption on."""
        dists = space.optuna_distributions()
        dists["optimizer"] = optuna.distributions.CategoricalDistribution(self.optimizers)
        return dists

    def hparams(self, values: Mapping[str, Any]) -> HParams:
        """A point of this space: every other field checked by HParams itself; an adopted
        optimizer set on the validated point (HParams' own choices stay adam / sgd)."""
        name = values.get("optimizer")
        if name not in self.optimizers:
            choices = list(self.optimizers)
            raise space.SpaceError(f"optimizer must be one of {choices}, got {name!r}")
        if name not in self.adopted:
            return HParams.model_validate(values)
        point = HParams.model_validate({**values, "optimizer": space.OPTIMIZERS[0]})
        return point.model_copy(update={"optimizer": name})

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
