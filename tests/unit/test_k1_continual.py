"""Learners: OOM step-down, EWC, replay, and exact resume from a saved state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainlab.k1.continual import EWC, Learner, LearnerConfig, Replay
from trainlab.k1.model import ModelConfig
from trainlab.k1.sparse import SparseConfig
from trainlab.training.device import amp_dtype

CFG = LearnerConfig(
    model=ModelConfig(d_model=16, n_layers=2, n_heads=2, d_ff=32, seq_len=16),
    sparse=SparseConfig(refresh_every=2),
    batch_size=8,
    ewc_batches=2,
    replay_per_domain=4,
)
TOKENS = torch.randint(0, 256, (4000,), generator=torch.Generator().manual_seed(0))
CPU = torch.device("cpu")


def test_cuda_oom_halves_the_batch_records_it_and_goes_on(monkeypatch) -> None:
    learner = Learner("k1", CFG, 0, CPU)
    real_loss = learner.model.loss
    calls = {"n": 0}

    def flaky(batch: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return real_loss(batch)

    monkeypatch.setattr(learner.model, "loss", flaky)
    stats = learner.train(TOKENS, 3)
    assert stats.oom_events == [{"step": 1, "from": 8}]
    assert learner.batch_size == 4 and len(stats.losses) == 3


@pytest.mark.parametrize(
    ("error", "steps_down"),
    [(RuntimeError("CUDA error: out of memory"), True), (RuntimeError("shape mismatch"), False)],
)
def test_oom_is_recognised_as_the_trainer_recognises_it(
    monkeypatch, error: RuntimeError, steps_down: bool
) -> None:
    learner = Learner("k1", CFG, 0, CPU)
    real_loss, calls = learner.model.loss, {"n": 0}

    def flaky(batch: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 1:
            raise error
        return real_loss(batch)

    monkeypatch.setattr(learner.model, "loss", flaky)
    if steps_down:
        assert learner.train(TOKENS, 1).oom_events == [{"step": 0, "from": 8}]
    else:
        with pytest.raises(RuntimeError, match="shape mismatch"):
            learner.train(TOKENS, 1)


def test_oom_at_batch_one_is_raised(monkeypatch) -> None:
    learner = Learner("dense", LearnerConfig(model=CFG.model, batch_size=1), 0, CPU)

    def always(batch: torch.Tensor) -> torch.Tensor:
        raise torch.cuda.OutOfMemoryError("injected")

    monkeypatch.setattr(learner.model, "loss", always)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        learner.train(TOKENS, 1)


def test_ewc_penalty_is_zero_at_anchor_and_grows_with_distance() -> None:
    learner = Learner("ewc", CFG, 0, CPU)
    ewc = learner.ewc
    assert isinstance(ewc, EWC) and ewc.penalty(learner.model) is None
    learner.end_domain(TOKENS)
    assert float(ewc.penalty(learner.model).detach()) == 0.0
    with torch.no_grad():
        for p in learner.model.parameters():
            p.add_(0.01)
    assert float(ewc.penalty(learner.model).detach()) > 0.0


def test_replay_mixes_buffered_windows_into_batches() -> None:
    replay = Replay(per_domain=4, mix=0.5)
    gen = torch.Generator().manual_seed(0)
    batch = torch.zeros(4, 17, dtype=torch.long)
    assert torch.equal(replay.mix_into(batch, gen), batch)
    replay.add(TOKENS + 1, 17, gen)  # +1: buffered windows are never all-zero rows
    mixed = replay.mix_into(batch, gen)
    assert mixed.shape == batch.shape
    assert int((mixed.sum(dim=1) > 0).sum()) == 2


@pytest.mark.parametrize("method", ["k1", "ewc", "replay"])
def test_saved_state_resumes_exactly(tmp_path: Path, method: str) -> None:
    a = Learner(method, CFG, 0, CPU)
    a.train(TOKENS, 3)
    a.end_domain(TOKENS)
    a.save(tmp_path / "s.pt")
    expected = a.train(TOKENS, 3).losses
    b = Learner(method, CFG, 0, CPU)
    b.load(tmp_path / "s.pt")
    assert b.train(TOKENS, 3).losses == expected


def test_same_seed_gives_every_method_the_same_initial_model() -> None:
    a, b = Learner("k1", CFG, 3, CPU), Learner("replay", CFG, 3, CPU)
    pairs = zip(a.model.parameters(), b.model.parameters(), strict=True)
    assert all(torch.equal(x, y) for x, y in pairs)


def test_amp_is_off_on_cpu_and_when_disabled() -> None:
    assert amp_dtype(CPU, enabled=True) is None
    assert amp_dtype(torch.device("cuda"), enabled=False) is None
    assert not Learner("k1", CFG, 0, CPU).scaler.is_enabled()
