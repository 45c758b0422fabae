"""The seed's baselines and the fair comparison: PackNet freezes what earlier domains kept,
progressive columns stay frozen while lateral adapters learn, `--match-params` sizes every
method to the agent model, and the specialization index reads a routing table right."""

from __future__ import annotations

import math

import pytest
import torch

from trainlab.k1.baselines import FREE, ProgressiveLM
from trainlab.k1.continual import Learner, LearnerConfig
from trainlab.k1.matching import agent_count, dense_count, progressive_count
from trainlab.k1.model import ModelConfig
from trainlab.k1.results import goal_check
from trainlab.k1.settings import K1Settings
from trainlab.k1.specialization import specialization_index

MODEL = ModelConfig(d_model=16, n_layers=2, n_heads=2, d_ff=32, seq_len=16)
CFG = LearnerConfig(model=MODEL, batch_size=4, amp=False)
CPU = torch.device("cpu")


def tokens(seed: int) -> torch.Tensor:
    return torch.randint(0, 256, (3000,), generator=torch.Generator().manual_seed(seed))


def test_packnet_keeps_earlier_domains_weights_bit_identical() -> None:
    learner = Learner("packnet", CFG, 0, CPU)
    learner.train(tokens(0), 3)
    learner.end_domain(tokens(0))
    kept = {n: (p.detach().clone(), learner.packnet.owner[n] == 0)
            for n, p in learner.model.named_parameters()}  # fmt: skip
    learner.train(tokens(1), 3)
    moved = False
    for name, p in learner.model.named_parameters():
        before, owned = kept[name]
        assert torch.equal(p[owned], before[owned])  # bit-identical, momentum or not
        moved |= not torch.equal(p[~owned], before[~owned])
    assert moved  # the freed weights did train
    free = learner.packnet.owner["groups.ffn_0.up.weight"] == FREE
    assert 0 < int(free.sum()) < free.numel()  # half of the matrix was freed


def test_progressive_freezes_earlier_columns_and_trains_the_laterals() -> None:
    learner = Learner("progressive", CFG, 0, CPU)
    learner.train(tokens(0), 2)
    learner.end_domain(tokens(0))
    model = learner.model
    assert isinstance(model, ProgressiveLM) and len(model.columns) == 2
    first = [p.detach().clone() for p in model.columns[0].parameters()]
    lateral = [p.detach().clone() for p in model.laterals[1].parameters()]
    learner.train(tokens(1), 3)
    assert all(torch.equal(a, b) for a, b in zip(first, model.columns[0].parameters(), strict=True))
    after = model.laterals[1].parameters()
    assert not all(torch.equal(a, b) for a, b in zip(lateral, after, strict=True))
    assert all(not p.requires_grad for p in model.columns[0].parameters())
    windows = torch.randint(0, 256, (2, 17))
    assert learner.evaluate(windows, task=0) != learner.evaluate(windows, task=1)


def test_match_params_sizes_every_method_within_five_percent() -> None:
    settings = K1Settings(structure=True, baselines=("dense", "progressive"), match_params=True,
                          d_model=32, n_layers=2, seq_len=32)  # fmt: skip
    base = settings.learner_config()
    target = agent_count(base.model, base.agents)
    dense = settings.learner_config("dense").model
    progressive = settings.learner_config("progressive").model
    assert dense.d_ff > base.model.d_ff
    assert abs(dense_count(dense) / target - 1) < 0.05
    assert abs(progressive_count(progressive, 3) / target - 1) < 0.05
    assert settings.learner_config("moe").model == base.model


def test_specialization_index_is_0_for_uniform_and_1_for_separated_routing() -> None:
    uniform = {"code": {0: 0.5, 1: 0.5}, "prose": {0: 0.5, 1: 0.5}}
    separated = {"code": {0: 1.0, 1: 0.0}, "prose": {0: 0.0, 1: 1.0}}
    half = {"code": {0: 1.0, 1: 0.0}, "prose": {0: 0.5, 1: 0.5}}
    assert specialization_index(uniform, [0, 1]) == pytest.approx(0.0)
    assert specialization_index(separated, [0, 1]) == pytest.approx(1.0)
    expected = (0.5 * math.log(1 / 0.75) + 0.25 * math.log(0.5 / 0.75) + 0.25 * math.log(2)) / (
        math.log(2)
    )
    assert specialization_index(half, [0, 1]) == pytest.approx(expected)
    assert specialization_index({"code": {0: 1.0}}, [0]) is None


def _summary(bwt: float, ppl: float) -> dict:
    return {"bwt": {"mean": bwt}, "final_avg_ppl": {"mean": ppl}}


def _runs(k1: list[float], dense: list[float]) -> list[dict]:
    pairs = (("k1", k1), ("dense", dense))
    return [{"method": m, "seed": s, "metrics": {"bwt": b}}
            for m, values in pairs for s, b in enumerate(values)]  # fmt: skip


def test_no_verdict_without_three_seeds_and_a_paired_test() -> None:
    summary = {"k1": _summary(-0.01, 10.0), "dense": _summary(-0.1, 10.0)}
    one = goal_check(summary, _runs([-0.01], [-0.1]))
    assert one["met"] is None and "not enough seeds for a verdict" in one["note"]
    three = goal_check(summary, _runs([-0.01, -0.02, -0.011], [-0.1, -0.12, -0.09]))
    assert three["met"] is True and three["bwt_vs_dense"]["p"] < 0.05
    noisy = goal_check(summary, _runs([-0.01, -0.3, 0.2], [-0.1, -0.12, -0.09]))
    assert noisy["met"] is False  # a 30 % mean gain that the paired test does not back
