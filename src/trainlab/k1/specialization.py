"""What the agents learned: routing and gradient share per domain, a specialization index.

After each domain (evaluate step) every agent-model method measures, on each domain's
validation windows, each agent's share of the tokens routed (its gate mass / tokens, so the
agents of one layer sum to 1 per domain) and its share of the layer's agent gradient
(squared gradient norm of its parameters on those windows / the layer's total).

Specialization index of a layer: the mutual information between domain D and agent A under
p(d, a) = p(d) p(a | d), with p(d) uniform over the domains and p(a | d) the routing share,
normalized by H(D) = log(#domains). 0 when every domain is routed alike, 1 when the agents
that serve one domain serve no other (routing tells the domain).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from trainlab.k1.agents import AgentLM, agent_name
from trainlab.k1.operations import probe

Table = dict[str, dict[int, float]]  # domain -> agent id -> share


def specialization_index(table: Table, agents: list[int]) -> float | None:
    """Normalized mutual information between domain and routing over `agents` (one layer);
    None with fewer than two domains."""
    domains = list(table)
    if len(domains) < 2:
        return None
    rows = []
    for d in domains:
        total = sum(table[d].get(a, 0.0) for a in agents)
        rows.append([table[d].get(a, 0.0) / total if total > 0 else 0.0 for a in agents])
    p_d = 1.0 / len(domains)
    p_a = [sum(row[j] for row in rows) * p_d for j in range(len(agents))]
    info = sum(
        p_d * row[j] * math.log(row[j] / p_a[j])
        for row in rows
        for j in range(len(agents))
        if row[j] > 0
    )
    return max(0.0, min(1.0, info / math.log(len(domains))))


def layer_indices(table: Table, tree: list[list[list[int]]]) -> list[float | None]:
    return [specialization_index(table, [a for m in layer for a in m]) for layer in tree]


def routing_table(model: AgentLM, windows: dict[str, torch.Tensor]) -> Table:
    """Domain -> agent -> share of the layer's tokens (gate mass per token)."""
    return {
        d: {a: round(m, 5) for a, m in probe(model, w).mass.items()} for d, w in windows.items()
    }


def gradient_table(model: AgentLM, windows: dict[str, torch.Tensor]) -> Table:
    """Domain -> agent -> share of its layer's squared agent-gradient norm."""
    out: Table = {}
    flags = {p: p.requires_grad for p in model.parameters()}
    model.train()
    model.requires_grad_(True)
    try:
        for d, w in windows.items():
            model.zero_grad(set_to_none=True)
            model.loss(w).backward()
            norms = {a: _grad_sq(model, a) for a in model.agent_ids()}
            share = {}
            for layer in model.tree:
                ids = [a for m in layer for a in m]
                total = sum(norms[a] for a in ids)
                share |= {a: round(norms[a] / total, 5) if total > 0 else 0.0 for a in ids}
            out[d] = share
    finally:
        model.zero_grad(set_to_none=True)
        for p, flag in flags.items():
            p.requires_grad_(flag)
    return out


def _grad_sq(model: AgentLM, aid: int) -> float:
    grads = [p.grad for p in model.groups[agent_name(aid)].parameters() if p.grad is not None]
    return float(sum(g.float().pow(2).sum() for g in grads)) if grads else 0.0


def specialization_record(model: AgentLM, windows: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Routing and gradient tables and the per-layer index, for one evaluate step."""
    routing = routing_table(model, windows)
    return {
        "tree": model.structure()["tree"],
        "routing": {d: {str(a): v for a, v in row.items()} for d, row in routing.items()},
        "gradient": {
            d: {str(a): v for a, v in row.items()}
            for d, row in gradient_table(model, windows).items()
        },
        "index": layer_indices(routing, model.tree),
    }
