"""Structural operations on K-1 agents (grow, prune, merge, reorganize), probes and rollback.

Every operation is a logged event with the parameter count before and after, and runs inside
`guarded()`: snapshot (tree, weights, optimizer state, trust) → operation → validation loss on
held-out windows of the domains seen so far → roll back to the snapshot if the loss rose by
more than `tolerance` (relative). A rollback restores the exact parameters and is recorded.

Operations (agents.py for the routing they act on):
  grow(parent)   A child agent joins the parent's manager, Net2Net-style with no change of
                 function: the child copies the parent's gate row, both gate biases drop by
                 log 2 (so the two share exactly the parent's softmax mass), the parent's
                 output projection is doubled, the child's output projection is zero (its
                 input projection is freshly initialised, so it breaks symmetry as it learns).
                 Where: the agent with the largest *error mass* on the current domain's
                 held-out windows: sum over tokens of (its gate mass x the token's loss).
  prune(agent)   Removes a dormant agent (share of its manager's gate mass below
                 `prune_usage` for `dormant_steps` steps) or a low-trust one (updater trust
                 at most `prune_trust`); its Adam state and trust go with it. A manager keeps
                 at least one agent. The manager's softmax renormalises over the rest.
  merge(a, b)    Similarity = cosine of the two agents' outputs f_a(h), f_b(h) on the same
                 held-out tokens h (flattened over tokens and features). If it is at least
                 `merge_similarity` (same manager only), the more-used agent survives and
                 absorbs the other's gate mass: bias = logsumexp of the two biases, gate row =
                 usage-weighted mean. Since f_a ≈ f_b, p_a f_a + p_b f_b ≈ (p_a + p_b) f_a.
                 The absorbed agent's parameters and Adam state are removed; the survivor
                 keeps its own.
  reorganize     An agent moves to another manager of its layer when its per-domain usage
                 profile (gate mass per seen domain) is closer (cosine) to that manager's
                 profile than to its own by `reorganize_margin`.

The controller that decides when to run them is `trainlab.k1.controller`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from trainlab.k1.agents import AgentLM, agent_name
from trainlab.k1.sparse import SparseUpdater

Event = dict[str, Any]


# --- probes -----------------------------------------------------------------------------------


@dataclass
class Probe:
    """One no-grad pass over windows: per-agent gate mass, error mass and layer inputs."""

    mass: dict[int, float] = field(default_factory=dict)
    error: dict[int, float] = field(default_factory=dict)
    inputs: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> normed h
    loss: float = 0.0


@torch.no_grad()
def probe(model: AgentLM, windows: torch.Tensor, max_tokens: int = 2048) -> Probe:
    model.eval()
    out = Probe()
    captured: dict[int, torch.Tensor] = {}
    hooks = [
        model.groups[f"router_{i}"].norm.register_forward_hook(
            lambda _m, _i, y, i=i: captured.__setitem__(i, y.reshape(-1, y.shape[-1]))
        )
        for i in range(model.cfg.n_layers)
    ]
    try:
        model.token_mass = {}
        logits = model(windows[:, :-1])
        token_loss = F.cross_entropy(
            logits.flatten(0, 1).float(), windows[:, 1:].flatten(), reduction="none"
        )
    finally:
        for hook in hooks:
            hook.remove()
        masses, model.token_mass = model.token_mass, None
    n = token_loss.numel()
    out.loss = float(token_loss.mean())
    for aid, m in masses.items():
        out.mass[aid] = float(m.sum()) / n
        out.error[aid] = float((m * token_loss).sum()) / n
    out.inputs = {i: h[:max_tokens] for i, h in captured.items()}
    return out


def manager_share(model: AgentLM, mass: dict[int, float]) -> dict[int, float]:
    """Each agent's share of its manager's gate mass (1.0 for a manager's only agent)."""
    share = {}
    for layer in model.tree:
        for agents in layer:
            total = sum(mass.get(a, 0.0) for a in agents)
            for a in agents:
                share[a] = mass.get(a, 0.0) / total if total > 0 else 1.0 / len(agents)
    return share


@torch.no_grad()
def similarity(model: AgentLM, a: int, b: int, h: torch.Tensor) -> float:
    """Cosine of the two agents' outputs on the same inputs, flattened."""
    ya, yb = model.agent(a)(h).flatten(), model.agent(b)(h).flatten()
    return float(F.cosine_similarity(ya, yb, dim=0, eps=1e-12))


# --- operations ----------------------------------------------------------------------------


def _event(kind: str, model: AgentLM, before: int, **info: Any) -> Event:
    return {"op": kind, "params_before": before, "params_after": model.param_count(), **info}


@torch.no_grad()
def grow(model: AgentLM, updater: SparseUpdater, parent: int) -> Event:
    before = model.param_count()
    layer, manager = model.locate(parent)
    src = model.agent(parent)
    child_id = model.new_agent(src.up.out_features)
    child = model.agent(child_id)
    child.gate.load_state_dict(src.gate.state_dict())
    for gate in (src.gate, child.gate):
        gate.bias -= math.log(2.0)
    src.down.weight *= 2.0
    src.down.bias *= 2.0
    child.down.weight.zero_()
    child.down.bias.zero_()
    agents = model.tree[layer][manager]
    agents.insert(agents.index(parent) + 1, child_id)
    model.reorder()
    updater.add_group(agent_name(child_id), child)
    updater.names = [n for n in model.groups if n in updater.params]
    return _event("grow", model, before, agent=child_id, parent=parent, layer=layer,
                  manager=manager)  # fmt: skip


def prune(model: AgentLM, updater: SparseUpdater, aid: int, reason: str = "") -> Event:
    before = model.param_count()
    layer, manager = model.locate(aid)
    if len(model.tree[layer][manager]) < 2:
        raise ValueError(f"agent {aid} is the last agent of manager {manager}")
    model.tree[layer][manager].remove(aid)
    del model.groups[agent_name(aid)]
    updater.remove_group(agent_name(aid))
    return _event("prune", model, before, agent=aid, layer=layer, manager=manager, reason=reason)


@torch.no_grad()
def merge(
    model: AgentLM, updater: SparseUpdater, keep: int, absorb: int, mass: dict[int, float],
    sim: float,
) -> Event:  # fmt: skip
    before = model.param_count()
    layer, manager = model.locate(keep)
    if model.locate(absorb) != (layer, manager):
        raise ValueError("merge needs two agents of the same manager")
    a, b = model.agent(keep).gate, model.agent(absorb).gate
    wa, wb = mass.get(keep, 0.0), mass.get(absorb, 0.0)
    share = wa / (wa + wb) if wa + wb > 0 else 0.5
    a.weight.copy_(share * a.weight + (1 - share) * b.weight)
    a.bias.copy_(torch.logaddexp(a.bias, b.bias))
    model.tree[layer][manager].remove(absorb)
    del model.groups[agent_name(absorb)]
    updater.remove_group(agent_name(absorb))
    return _event("merge", model, before, agent=keep, absorbed=absorb, layer=layer,
                  manager=manager, similarity=round(sim, 4))  # fmt: skip


def reorganize(model: AgentLM, aid: int, target: int) -> Event:
    """Move agent `aid` to manager `target` of its layer (weights and router unchanged)."""
    before = model.param_count()
    layer, manager = model.locate(aid)
    managers = model.tree[layer]
    if not 0 <= target < len(managers) or target == manager:
        raise ValueError(f"agent {aid} cannot move from manager {manager} to {target}")
    if len(managers[manager]) < 2:
        raise ValueError(f"moving agent {aid} would leave manager {manager} empty")
    model.tree[layer][manager].remove(aid)
    model.tree[layer][target].append(aid)
    return _event("reorganize", model, before, agent=aid, layer=layer, manager=manager,
                  to_manager=target)  # fmt: skip


# --- snapshots ---------------------------------------------------------------------------------


class Host:
    """What the operations act on: a model and the updater that owns its optimizers."""

    model: AgentLM
    updater: SparseUpdater


def snapshot(host: Host) -> dict[str, Any]:
    return {
        "structure": copy.deepcopy(host.model.structure()),
        "model": {k: v.detach().clone() for k, v in host.model.state_dict().items()},
        "updater": copy.deepcopy(host.updater.state_dict()),
    }


def restore(host: Host, snap: dict[str, Any]) -> None:
    """Back to the snapshot exactly: tree, weights, per-agent Adam state, trust, selection."""
    host.model.apply_structure(snap["structure"])
    host.model.load_state_dict(snap["model"])
    host.updater = SparseUpdater(dict(host.model.groups.items()), host.updater.cfg)
    host.updater.load_state_dict(copy.deepcopy(snap["updater"]))


def guarded(
    host: Host, operation: Callable[[], Event], validate: Callable[[], float], tolerance: float
) -> Event:
    """Snapshot, operate, validate; roll back when held-out loss rose beyond tolerance."""
    snap = snapshot(host)
    val_before = validate()
    event = operation()
    val_after = validate()
    event["val_before"], event["val_after"] = round(val_before, 5), round(val_after, 5)
    event["accepted"] = val_after <= val_before * (1.0 + tolerance)
    if not event["accepted"]:
        restore(host, snap)
        event["rolled_back"] = True
        event["params_restored"] = host.model.param_count()
    return event
