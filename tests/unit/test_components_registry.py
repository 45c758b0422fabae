"""The registry: every entry is described, buildable and trainable for one step."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainlab.components import registry
from trainlab.components.classifiers import (
    count_parameters,
    plain_mlp,
    plain_mlp_parameters,
)
from trainlab.space import HParams

CTX = registry.BuildContext(num_classes=4, total_steps=8, steps_per_epoch=2, width=4)
HP = HParams(
    optimizer="adam",
    learning_rate=1e-2,
    train_batch_size=32,
    weight_decay=1e-4,
    label_smoothing=0.0,
)


def test_every_entry_is_described_and_measured_against_a_baseline_of_its_kind() -> None:
    for c in registry.REGISTRY.values():
        assert c.idea and c.reference and c.memory and c.time, c.name
        if c.baseline is not None:
            assert registry.get(c.baseline).kind == c.kind
            assert registry.get(c.baseline).baseline is None
            assert c.expected, f"{c.name} lacks the seed's expected claim"
    assert set(registry.names()) == set(registry.REGISTRY)
    assert len(registry.describe("architecture")) == len(registry.names("architecture"))
    assert "build" not in registry.describe()[0]


def test_unknown_or_wrong_kind_names_are_refused_with_the_choices() -> None:
    with pytest.raises(registry.UnknownComponentError, match="choose from: adamw, sgd"):
        registry.get("adamz", "optimizer")
    with pytest.raises(registry.UnknownComponentError, match="unknown loss 'lamb'"):
        registry.get("lamb", "loss")


@pytest.mark.parametrize("name", registry.names("architecture"))
def test_every_architecture_classifies_images_of_any_size(name: str) -> None:
    model = registry.get(name).build(4, 3, CTX)
    for size in (8, 16):
        assert model(torch.randn(2, 3, size, size)).shape == (2, 4)


@pytest.mark.parametrize("name", registry.names("optimizer"))
def test_every_optimizer_takes_a_step(name: str) -> None:
    model = registry.get("plain_mlp").build(4, 1, CTX)
    optimizer = registry.get(name).build(list(model.parameters()), HP, CTX)
    before = [p.detach().clone() for p in model.parameters()]
    F.cross_entropy(model(torch.randn(8, 1, 8, 8)), torch.arange(8) % 4).backward()
    optimizer.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("name", registry.names("loss"))
def test_every_loss_gives_a_finite_differentiable_scalar(name: str) -> None:
    logits = torch.randn(8, 4, requires_grad=True)
    loss = registry.get(name).build(CTX)(logits, torch.arange(8) % 4)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert logits.grad.abs().sum() > 0


def test_plain_mlp_parameter_formula_matches_the_module() -> None:
    for hidden in (1, 7, 64):
        assert plain_mlp_parameters(10, 3, hidden) == count_parameters(plain_mlp(10, 3, hidden))
