"""register_component and ExperimentConfig callables: a user's optimizer, loss or model by
name; bad registrations fail clearly."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from trainlab.components import registry
from trainlab.components.custom import (
    CustomComponentError,
    load_plugins,
    register_component,
    unregister_component,
)
from trainlab.experiments.config import ExperimentConfig
from trainlab.proposals import library


@pytest.fixture
def rmsprop():
    component = register_component(
        "my_rmsprop", "optimizer", torch.optim.RMSprop, idea="running mean of squared gradients"
    )
    yield component
    unregister_component("my_rmsprop")


def test_a_registered_optimizer_builds_and_is_named_like_a_library_one(rmsprop) -> None:
    params = [nn.Parameter(torch.zeros(3))]
    config = ExperimentConfig(optimizer="my_rmsprop")
    hp = config.hparams(config.candidate)
    built = registry.get("my_rmsprop", "optimizer").build(params, hp, registry.BuildContext())
    assert (
        isinstance(built, torch.optim.RMSprop) and built.param_groups[0]["lr"] == hp.learning_rate
    )
    assert library.focus("is my_rmsprop any good?").name == "my_rmsprop"


def test_a_non_callable_fails_clearly() -> None:
    with pytest.raises(CustomComponentError, match="must be callable, got int"):
        register_component("not_a_function", "loss", 42)
    with pytest.raises(ValidationError, match="must be callable"):
        ExperimentConfig(loss_fn=3.5)
    assert "not_a_function" not in registry.REGISTRY


@pytest.mark.parametrize(
    ("name", "kind", "baseline", "message"),
    [
        ("adamw", "optimizer", None, "is a library component"),
        ("Bad Name", "optimizer", None, "lower_snake_case"),
        ("mine", "regularizer", None, "kind must be one of"),
        ("mine", "optimizer", "lookahead", "must be a baseline component"),
    ],
)
def test_bad_registrations_are_refused(name, kind, baseline, message) -> None:
    with pytest.raises(CustomComponentError, match=message):
        register_component(name, kind, torch.optim.SGD, baseline=baseline)


def test_experiment_config_accepts_the_seeds_callables() -> None:
    def my_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(logits, targets)

    def my_model(num_classes: int, in_channels: int) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes))

    config = ExperimentConfig(
        name="my_experiment", model_fn=my_model, optimizer_fn=torch.optim.RMSprop, loss_fn=my_loss
    )
    try:
        assert config.candidate.label == (
            "my_experiment_model / my_experiment_optimizer / my_experiment_loss"
        )
        assert config.baseline.label == "plain_mlp / adamw / cross_entropy"
        assert config.name == "my_experiment_model+my_experiment_optimizer+my_experiment_loss"
        assert ExperimentConfig.model_validate(config.model_dump()) == config  # JSON by name
        loss = registry.get("my_experiment_loss").build(registry.BuildContext())
        assert loss is my_loss
    finally:
        for field in ("model", "optimizer", "loss"):
            unregister_component(f"my_experiment_{field}")


def test_a_loss_class_is_instantiated_per_run() -> None:
    register_component("my_ce", "loss", nn.CrossEntropyLoss)
    try:
        ctx = registry.BuildContext()
        first, second = (registry.get("my_ce").build(ctx) for _ in range(2))
        assert isinstance(first, nn.CrossEntropyLoss) and first is not second
    finally:
        unregister_component("my_ce")


def test_plugins_that_cannot_be_imported_fail_clearly() -> None:
    with pytest.raises(CustomComponentError, match="cannot import 'no_such_module_here'"):
        load_plugins({"TRAINLAB_COMPONENTS": "no_such_module_here"})
    assert load_plugins({}) == []
