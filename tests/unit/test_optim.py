"""training/optim.py: the one meaning of "adam" and "sgd", shared by the trainer and registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainlab import space
from trainlab.components import registry
from trainlab.training.optim import SGD_MOMENTUM, build_optimizer, default_optimizer


def params() -> list[nn.Parameter]:
    return list(nn.Linear(3, 2).parameters())


def test_sgd_is_nesterov_momentum_and_adam_is_adamw() -> None:
    sgd = build_optimizer("sgd", params(), lr=0.1, weight_decay=1e-4)
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.defaults["momentum"] == SGD_MOMENTUM and sgd.defaults["nesterov"]
    assert isinstance(
        build_optimizer("adam", params(), lr=0.1, weight_decay=1e-4), torch.optim.AdamW
    )


@pytest.mark.parametrize(("space_name", "registry_name"), [("sgd", "sgd"), ("adam", "adamw")])
def test_the_registry_builds_what_the_trainer_builds(space_name: str, registry_name: str) -> None:
    hp = space.defaults().model_copy(update={"optimizer": space_name})
    trainer_opt = default_optimizer(params(), hp)
    registry_opt = registry.get(registry_name, "optimizer").build(
        params(), hp, registry.BuildContext()
    )
    assert type(trainer_opt) is type(registry_opt)
    assert trainer_opt.defaults == registry_opt.defaults


def test_an_unknown_optimizer_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        build_optimizer("lion", params(), lr=0.1, weight_decay=0.0)  # type: ignore[arg-type]
