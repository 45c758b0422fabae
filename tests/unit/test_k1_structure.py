"""K-1 agents and structural operations: routing, function-preserving growth, prune and merge
bookkeeping, rollback on a forced validation drop, save/load after a structural change."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from trainlab.k1 import controller as k1c
from trainlab.k1 import operations as st
from trainlab.k1.agents import AgentConfig, AgentLM, agent_name
from trainlab.k1.continual import Learner, LearnerConfig
from trainlab.k1.model import ModelConfig
from trainlab.k1.sparse import SparseConfig, SparseUpdater

MODEL = ModelConfig(vocab_size=256, d_model=16, n_layers=2, n_heads=2, d_ff=64, seq_len=16)
AGENTS = AgentConfig(managers=3, agents_per_manager=2, agent_hidden=8, top_managers=2)
CFG = LearnerConfig(model=MODEL, agents=AGENTS, batch_size=4, amp=False,
                    sparse=SparseConfig(update_fraction=0.5, refresh_every=2))  # fmt: skip
CPU = torch.device("cpu")


def tokens(n: int = 4000, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed))


def windows(count: int = 4, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (count, MODEL.seq_len + 1),
                         generator=torch.Generator().manual_seed(seed))  # fmt: skip


def trained_learner(steps: int = 3) -> Learner:
    learner = Learner("k1_structure", CFG, seed=0, device=CPU)
    learner.train(tokens(), steps)
    return learner


def agent_params(model: AgentLM, aid: int) -> int:
    return sum(p.numel() for p in model.agent(aid).parameters())


def optim_param_ids(updater: SparseUpdater) -> set[int]:
    return {id(p) for opt in updater.optims.values() for g in opt.param_groups for p in g["params"]}


def test_routing_sends_tokens_to_a_few_managers_and_only_they_get_gradients() -> None:
    torch.manual_seed(0)
    model = AgentLM(MODEL, AgentConfig(managers=4, agents_per_manager=1, agent_hidden=8,
                                       top_managers=1))  # fmt: skip
    idx = windows(1)[:, :3]  # 3 tokens: at most 3 of 4 managers per layer can be used
    model.loss(torch.cat([idx, idx[:, :1]], 1)).backward()
    for i, layer in enumerate(model.tree):
        used = [a for m in layer for a in m if model.usage.get(a, 0.0) > 0]
        with_grad = [a for m in layer for a in m if model.agent(a).up.weight.grad is not None]
        assert 1 <= len(used) <= 3 and sorted(used) == sorted(with_grad), i
        shares = [model.usage_share()[a] for m in layer for a in m]
        assert sum(shares) == pytest.approx(1.0, abs=1e-5)
    assert (
        model.aux_loss is not None and float(model.aux_loss.detach()) >= model.cfg.n_layers - 1e-4
    )


def test_grow_keeps_the_function_and_adds_a_fresh_optimizer() -> None:
    learner = trained_learner()
    model, x = learner.model, windows()
    model.eval()
    before_out, before = model(x[:, :-1]).detach(), model.param_count()
    parent = model.tree[1][0][0]
    event = st.grow(model, learner.updater, parent)
    after_out = model(x[:, :-1]).detach()
    torch.testing.assert_close(after_out, before_out, atol=1e-5, rtol=1e-5)
    child = event["agent"]
    assert model.tree[1][0] == [parent, child, model.tree[1][0][2]]
    assert event["params_after"] - event["params_before"] == agent_params(model, child)
    assert model.param_count() == before + agent_params(model, child)
    assert learner.updater.total_params == model.param_count()
    assert not learner.updater.optims[agent_name(child)].state  # fresh Adam
    assert learner.updater.k == round(0.5 * len(learner.updater.names))
    learner.train(tokens(), 2)  # the child trains: its output projection leaves zero
    assert model.agent(child).down.weight.abs().sum() > 0


def test_prune_removes_parameters_and_optimizer_state() -> None:
    learner = trained_learner()
    model, updater = learner.model, learner.updater
    aid = model.tree[0][1][1]
    gone = set(map(id, model.agent(aid).parameters()))
    size, before = agent_params(model, aid), model.param_count()
    event = st.prune(model, updater, aid, "test")
    assert event["params_before"] - event["params_after"] == size
    assert model.param_count() == before - size == updater.total_params
    assert aid not in model.agent_ids() and agent_name(aid) not in model.groups
    assert agent_name(aid) not in updater.optims and agent_name(aid) not in updater.trust
    assert not gone & optim_param_ids(updater)
    assert optim_param_ids(updater) == set(map(id, model.parameters()))
    with pytest.raises(ValueError, match="last agent"):
        st.prune(model, updater, model.tree[0][1][0])
    learner.train(tokens(), 2)  # still trains after the change


def test_merge_of_identical_agents_is_exact_and_keeps_the_survivor_state() -> None:
    learner = trained_learner()
    model, updater = learner.model, learner.updater
    keep, absorb = model.tree[1][2]
    opt = updater.optims[agent_name(keep)]
    for p in model.agent(keep).parameters():  # make sure the survivor has Adam state
        p.grad = torch.full_like(p, 1e-3)
    opt.step()
    opt.zero_grad(set_to_none=True)
    kept = {i: {k: v.clone() for k, v in s.items()} for i, s in opt.state_dict()["state"].items()}
    assert kept
    model.agent(absorb).load_state_dict(model.agent(keep).state_dict())
    x = windows()
    model.eval()
    out = model(x[:, :-1]).detach()
    probe = st.probe(model, x)
    sim = st.similarity(model, keep, absorb, probe.inputs[1])
    assert sim == pytest.approx(1.0, abs=1e-5)
    size = agent_params(model, absorb)
    event = st.merge(model, updater, keep, absorb, probe.mass, sim)
    torch.testing.assert_close(model(x[:, :-1]).detach(), out, atol=1e-5, rtol=1e-5)
    assert event["params_before"] - event["params_after"] == size
    assert model.tree[1][2] == [keep] and updater.total_params == model.param_count()
    assert agent_name(absorb) not in updater.optims and agent_name(absorb) not in model.groups
    assert optim_param_ids(updater) == set(map(id, model.parameters()))
    now = updater.optims[agent_name(keep)].state_dict()["state"]
    assert now.keys() == kept.keys()
    assert all(torch.equal(now[i][k], v) for i in kept for k, v in kept[i].items())
    with pytest.raises(ValueError, match="same manager"):
        st.merge(model, updater, keep, model.tree[1][0][0], probe.mass, 1.0)


def test_rollback_on_forced_validation_drop_restores_exact_state() -> None:
    learner = trained_learner()
    params = {k: v.clone() for k, v in learner.model.state_dict().items()}
    tree = learner.model.structure()
    opt_before = {n: o.state_dict() for n, o in learner.updater.optims.items()}
    trust = dict(learner.updater.trust)
    losses = iter([1.0, 1.5])  # validation gets 50 % worse: forced drop

    def damage() -> st.Event:
        event = st.prune(learner.model, learner.updater, learner.model.tree[0][0][0])
        with torch.no_grad():
            for p in learner.model.parameters():
                p.add_(1.0)
        return event

    event = st.guarded(learner, damage, lambda: next(losses), tolerance=0.01)
    assert event["rolled_back"] and not event["accepted"]
    assert event["params_restored"] == event["params_before"]
    assert learner.model.structure() == tree
    now = learner.model.state_dict()
    assert now.keys() == params.keys() and all(torch.equal(now[k], params[k]) for k in params)
    assert learner.updater.trust == trust
    for name, opt in learner.updater.optims.items():
        a, b = opt.state_dict()["state"], opt_before[name]["state"]
        assert a.keys() == b.keys()
        assert all(torch.equal(a[i][k], b[i][k]) for i in a for k in a[i])
    assert optim_param_ids(learner.updater) == set(map(id, learner.model.parameters()))
    learner.train(tokens(), 1)
    accepted = st.guarded(learner, lambda: st.grow(learner.model, learner.updater,
                          learner.model.tree[0][0][0]), lambda: 1.0, 0.01)  # fmt: skip
    assert accepted["accepted"] and "rolled_back" not in accepted


def test_save_and_load_after_structural_change_give_the_same_learner(tmp_path: Path) -> None:
    learner = trained_learner()
    st.grow(learner.model, learner.updater, learner.model.tree[1][1][0])
    st.prune(learner.model, learner.updater, learner.model.tree[0][2][1])
    learner.train(tokens(), 2)
    learner.save(tmp_path / "state.pt")
    other = Learner("k1_structure", CFG, seed=0, device=CPU)
    other.load(tmp_path / "state.pt")
    assert other.model.structure() == learner.model.structure()
    assert other.updater.names == learner.updater.names
    a, b = learner.model.state_dict(), other.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    data = tokens()
    assert learner.train(data, 2).losses == other.train(data, 2).losses


def test_controller_prunes_a_dormant_agent_and_diagnoses_it() -> None:
    learner = trained_learner()
    cfg = k1c.StructureConfig(phase2_after=0, dormant_steps=10, merge_similarity=0.999)
    ctl = k1c.StructureController(cfg, base_lr=learner.updater.lr)
    sleeper = learner.model.tree[0][0][1]
    with torch.no_grad():
        learner.model.agent(sleeper).gate.bias.fill_(-30.0)  # never gets gate mass
    held = {"prose": windows(4, 2)}
    events, notes = ctl.step(learner, "prose", held, learner.evaluate, total_steps=5)
    assert not any(e["op"] == "prune" for e in events)  # dormant 5 < 10 steps
    assert any(f"agent {sleeper} (layer 0, manager 0) dormant for 5 steps" in n for n in notes)
    events, notes = ctl.step(learner, "prose", held, learner.evaluate, total_steps=15)
    pruned = [e for e in events if e["op"] == "prune"]
    assert pruned and pruned[0]["agent"] == sleeper and pruned[0]["accepted"]
    assert sleeper not in learner.model.agent_ids()
    assert len(ctl.history) == 2 and ctl.history[-1]["phase"] == 2
    state = ctl.state_dict()
    again = k1c.StructureController(k1c.StructureConfig(), base_lr=1.0)
    again.load_state_dict(state)
    assert again.state_dict() == state


def test_phase_two_tunes_lr_and_thresholds_from_trends() -> None:
    learner = trained_learner()
    ctl = k1c.StructureController(k1c.StructureConfig(phase2_after=0), base_lr=1e-3)
    learner.updater.set_lr(1e-3)
    ctl._tune_lr(learner, trend=-0.05)  # held-out loss rose: lr down
    assert learner.updater.lr == pytest.approx(7e-4)
    ctl._tune_lr(learner, trend=0.1)  # fell by 10 %: lr up
    assert learner.updater.lr == pytest.approx(7.35e-4)
    usage = ctl.cfg.prune_usage
    ctl._adapt("prune", accepted=False)
    assert ctl.cfg.prune_usage == pytest.approx(usage * 0.5)
    sim = ctl.cfg.merge_similarity
    ctl._adapt("merge", accepted=False)
    assert ctl.cfg.merge_similarity == pytest.approx(sim + 0.03)
    phase1 = k1c.StructureController(k1c.StructureConfig(phase2_after=100), base_lr=1e-3)
    events, _ = phase1.step(learner, "prose", {"prose": windows()}, learner.evaluate, 50)
    assert events == [] and phase1.phase == 1 and learner.updater.lr == pytest.approx(7.35e-4)


def test_reorganize_moves_a_misplaced_agent_and_keeps_its_parameters_and_state() -> None:
    learner = trained_learner()
    model, updater = learner.model, learner.updater
    (a0, a1), (stray, mixed), (p0, p1) = model.tree[0]
    ctl = k1c.StructureController(k1c.StructureConfig(), base_lr=updater.lr)
    code, prose = {"code": 1.0, "prose": 0.0}, {"code": 0.0, "prose": 1.0}
    ctl.profiles = {a0: code, a1: code, stray: code, mixed: {"code": 0.2, "prose": 1.0},
                    p0: prose, p1: prose}  # fmt: skip
    ctl.profiles |= {a: {"code": 0.5, "prose": 0.5} for m in model.tree[1] for a in m}
    # stray: cosine 0.20 to the rest of its manager, 1.0 to manager 0 (gap 0.80 > margin 0.2;
    # mixed's best gap, to manager 2, is 0.78); layer 1's flat profiles suggest no move
    assert ctl._best_move(model) == (stray, 0)
    ctl.cfg.reorganize_margin = 0.9
    assert ctl._best_move(model) is None
    ctl.cfg.reorganize_margin = 0.2
    opt = updater.optims[agent_name(stray)]
    for p in model.agent(stray).parameters():  # give the moving agent some Adam state
        p.grad = torch.full_like(p, 1e-3)
    opt.step()
    opt.zero_grad(set_to_none=True)
    state = {i: {k: v.clone() for k, v in s.items()} for i, s in opt.state_dict()["state"].items()}
    weights = {k: v.clone() for k, v in model.agent(stray).state_dict().items()}
    params, ids, names = model.param_count(), set(model.agent_ids()), list(model.groups)
    param_ids = set(map(id, model.parameters()))
    event = st.reorganize(model, stray, 0)
    assert event["op"] == "reorganize" and (event["manager"], event["to_manager"]) == (1, 0)
    assert event["params_before"] == event["params_after"] == params == model.param_count()
    assert model.tree[0] == [[a0, a1, stray], [mixed], [p0, p1]] and model.locate(stray) == (0, 0)
    assert set(model.agent_ids()) == ids and list(model.groups) == names
    now = model.agent(stray).state_dict()
    assert all(torch.equal(now[k], v) for k, v in weights.items())  # moved, not re-initialised
    assert updater.names == names and updater.total_params == model.param_count()
    assert optim_param_ids(updater) == set(map(id, model.parameters())) == param_ids
    after = updater.optims[agent_name(stray)].state_dict()["state"]
    assert after.keys() == state.keys()
    assert all(torch.equal(after[i][k], v) for i in state for k, v in state[i].items())
    assert ctl._best_move(model) is None  # the profile now fits its manager
    x = windows()
    model.loss(x).backward()  # the moved agent still gets gate mass, now under manager 0
    assert model.usage.get(stray, 0.0) > 0
    assert sum(model.usage_share()[a] for m in model.tree[0] for a in m) == pytest.approx(1.0)
    learner.train(tokens(), 2)  # still trains after the change


def test_rejected_reorganize_is_rolled_back_to_the_old_manager() -> None:
    learner = trained_learner()
    tree, aid = learner.model.structure(), learner.model.tree[1][2][0]
    params = {k: v.clone() for k, v in learner.model.state_dict().items()}
    losses = iter([1.0, 1.5])  # validation 50 % worse after the move
    event = st.guarded(
        learner, lambda: st.reorganize(learner.model, aid, 0), lambda: next(losses), 0.01
    )
    assert event["rolled_back"] and event["params_restored"] == event["params_before"]
    assert learner.model.structure() == tree and learner.model.locate(aid) == (1, 2)
    now = learner.model.state_dict()
    assert all(torch.equal(now[k], v) for k, v in params.items())
    assert optim_param_ids(learner.updater) == set(map(id, learner.model.parameters()))


def test_reorganize_refuses_moves_that_would_break_the_tree() -> None:
    model = trained_learner().model
    aid = model.tree[0][0][0]
    tree = copy.deepcopy(model.tree)
    for target in (0, len(model.tree[0])):
        with pytest.raises(ValueError, match="cannot move"):
            st.reorganize(model, aid, target)
    assert model.tree == tree
