"""Top-K group selection, frozen groups that do not move, trust and anti-starvation."""

from __future__ import annotations

import torch

from trainlab.k1.model import ModelConfig, ModularLM
from trainlab.k1.sparse import SparseConfig, SparseUpdater, top_k

NO_SCALER = torch.amp.GradScaler("cuda", enabled=False)


def tiny(fraction: float = 0.5, refresh: int = 3) -> tuple[ModularLM, SparseUpdater]:
    torch.manual_seed(0)
    model = ModularLM(ModelConfig(d_model=16, n_layers=4, n_heads=2, d_ff=32, seq_len=16))
    cfg = SparseConfig(update_fraction=fraction, refresh_every=refresh, lr=1e-2)
    return model, SparseUpdater(dict(model.groups.items()), cfg)


def real_step(model: ModularLM, updater: SparseUpdater, batch: torch.Tensor) -> list[str]:
    updater.begin_step()
    loss = model.loss(batch)
    loss.backward()
    return updater.step(float(loss.detach()), NO_SCALER)


def test_top_k_picks_highest_scores_with_deterministic_ties() -> None:
    scores = {"b": 1.0, "a": 1.0, "c": 3.0, "d": 0.5}
    assert top_k(scores, 2) == ["c", "a"]
    assert top_k(scores, 4) == ["c", "a", "b", "d"]


def test_ten_groups_at_four_layers_and_k_from_fraction() -> None:
    model, updater = tiny(0.5)
    assert len(model.group_names) == 10
    assert updater.k == 5
    assert SparseUpdater(dict(model.groups.items()), SparseConfig(update_fraction=0.1)).k == 1


def test_unselected_groups_are_bit_identical_with_adam() -> None:
    model, updater = tiny(0.5, refresh=3)
    gen = torch.Generator().manual_seed(1)
    was_updated: set[str] = set()
    frozen_after_update = 0
    for _ in range(9):
        before = {n: [p.detach().clone() for p in ps] for n, ps in updater.params.items()}
        batch = torch.randint(0, 256, (4, 17), generator=gen)
        updated = real_step(model, updater, batch)
        assert len(updated) == 5
        for name, params in updater.params.items():
            same = all(torch.equal(a, b) for a, b in zip(before[name], params, strict=True))
            assert same == (name not in updated), name
            if name not in updated and name in was_updated:
                frozen_after_update += 1  # has Adam momentum, still must not move
        was_updated |= set(updated)
    assert frozen_after_update > 0


def test_between_refreshes_unselected_groups_get_no_weight_gradients() -> None:
    model, updater = tiny(0.5, refresh=4)
    batch = torch.randint(0, 256, (2, 17), generator=torch.Generator().manual_seed(2))
    real_step(model, updater, batch)  # refresh step: selection made
    updater.begin_step()
    model.loss(batch).backward()
    for name, params in updater.params.items():
        has_grad = all(p.grad is not None for p in params)
        assert has_grad == (name in updater.selected), name
        assert all(p.requires_grad == (name in updater.selected) for p in params)


def test_dense_fraction_updates_every_group() -> None:
    model, updater = tiny(1.0)
    batch = torch.randint(0, 256, (2, 17), generator=torch.Generator().manual_seed(3))
    assert set(real_step(model, updater, batch)) == set(model.group_names)


def fake_step(updater: SparseUpdater, loud: str, loss: float) -> list[str]:
    """A step where group `loud` always has 1000x larger gradients than the others."""
    updater.begin_step()
    for name, params in updater.params.items():
        for p in params:
            p.grad = torch.full_like(p, 1.0 if name == loud else 1e-3)
    return updater.step(loss, NO_SCALER)


def test_no_group_wins_forever_and_trust_stays_bounded() -> None:
    model, updater = tiny(0.2, refresh=1)  # k = 2 of 10
    seen: set[str] = set()
    for i in range(60):
        seen |= set(fake_step(updater, "ffn_0", loss=1.0 - 0.001 * i))
    assert seen == set(model.group_names)
    cfg = updater.cfg
    assert all(cfg.trust_min <= t <= cfg.trust_max for t in updater.trust.values())


def test_trust_rises_when_loss_falls_and_drops_when_it_rises() -> None:
    _, down = tiny(0.5, refresh=100)
    for i in range(10):
        fake_step(down, "head", loss=5.0 - 0.1 * i)
    _, up = tiny(0.5, refresh=100)
    for i in range(10):
        fake_step(up, "head", loss=5.0 + 0.1 * i)
    chosen = down.selected
    assert all(down.trust[n] > 1.0 for n in chosen)
    assert all(up.trust[n] < 1.0 for n in up.selected)
    assert all(down.trust[n] == 1.0 for n in down.names if n not in chosen)


def test_state_dict_round_trip_restores_selection_and_trust() -> None:
    _, updater = tiny(0.5, refresh=2)
    for i in range(3):
        fake_step(updater, "attn_1", loss=2.0 - 0.1 * i)
    _, other = tiny(0.5, refresh=2)
    other.load_state_dict(updater.state_dict())
    assert other.selected == updater.selected
    assert other.trust == updater.trust
    assert other.steps == updater.steps == 3
