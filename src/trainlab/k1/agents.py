"""K-1 agents: small feed-forward experts inside each transformer layer, under managers.

`AgentLM` is `ModularLM` with every `ffn_i` replaced by a two-level mixture:

    root (router_i.managers)  ->  top-k managers per token (gates renormalised over the k)
    manager m                 ->  softmax over the agents it holds (each agent owns its gate row)
    agent a                   ->  LayerNorm'd x -> up -> GELU -> down

    ffn_i(x) = sum_{m in topk(x)} g_m(x) * sum_{a in m} p_{a|m}(x) * f_a(x)

A token reaches only the agents of its k managers, so agents of other managers receive no
gradient from it ("only math agents update when learning math"). The root's load balance is
kept with the Switch-Transformer auxiliary loss  M * sum_m f_m * P_m  (f_m = share of tokens
whose first choice is m, P_m = mean router probability of m; 1.0 when perfectly balanced),
added to the training loss with weight `aux_weight`; `loss()` itself stays the plain
next-token cross-entropy so evaluation is comparable with the other methods.

Every agent, router, attention block, the embedding and the head are separate parameter
groups (`groups`), so the K-1 sparse updater (sparse.py) selects among them by gradient rms
x trust x staleness bonus, as for the plain K-1 model. Agent ids are global and never reused,
so a diagnostic can say "agent 7". The tree (layer -> manager -> agent ids) is plain data
(`structure()`), saved with every checkpoint; `apply_structure()` rebuilds the modules of a
saved tree before its weights are loaded, so resumed runs have the same agents.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.k1.configs import AgentConfig
from trainlab.k1.model import Attention, Embedding, Head, KVCache, ModelConfig, _init_weights


class Agent(nn.Module):
    """One expert: its gate row (logit within its manager) and a small FFN."""

    def __init__(self, d_model: int, hidden: int) -> None:
        super().__init__()
        self.gate = nn.Linear(d_model, 1)
        self.up = nn.Linear(d_model, hidden)
        self.down = nn.Linear(hidden, d_model)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(h)))


class Router(nn.Module):
    """A layer's root: the pre-norm shared by its agents and the manager logits."""

    def __init__(self, d_model: int, managers: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.managers = nn.Linear(d_model, managers)


class AgentLM(nn.Module):
    """Pre-norm transformer whose feed-forward blocks are routed agents (see module doc)."""

    def __init__(self, cfg: ModelConfig, acfg: AgentConfig) -> None:
        super().__init__()
        self.cfg, self.acfg = cfg, acfg
        self.groups = nn.ModuleDict({"embed": Embedding(cfg)})
        self.tree: list[list[list[int]]] = []  # layer -> manager -> agent ids
        self.next_id = 0
        for i in range(cfg.n_layers):
            self.groups[f"attn_{i}"] = Attention(cfg)
            self.groups[f"router_{i}"] = Router(cfg.d_model, acfg.managers)
            layer = []
            for _ in range(acfg.managers):
                layer.append([self.new_agent() for _ in range(acfg.agents_per_manager)])
            self.tree.append(layer)
        self.groups["head"] = Head(cfg)
        self.apply(_init_weights)
        self.aux_loss: torch.Tensor | None = None
        self.usage: dict[int, float] = {}  # agent id -> gate mass in the last forward (tokens)
        self.tokens_seen = 0
        self.token_mass: dict[int, torch.Tensor] | None = None  # probe mode: per-token mass

    # --- tree bookkeeping -----------------------------------------------------------------

    def new_agent(self, hidden: int | None = None) -> int:
        aid = self.next_id
        self.next_id += 1
        agent = Agent(self.cfg.d_model, hidden or self.acfg.agent_hidden)
        agent.apply(_init_weights)
        self.groups[agent_name(aid)] = agent.to(self.groups["embed"].tok.weight.device)
        return aid

    def agent(self, aid: int) -> Agent:
        return self.groups[agent_name(aid)]  # type: ignore[return-value]

    def agent_ids(self) -> list[int]:
        return [a for layer in self.tree for m in layer for a in m]

    def locate(self, aid: int) -> tuple[int, int]:
        for i, layer in enumerate(self.tree):
            for m, agents in enumerate(layer):
                if aid in agents:
                    return i, m
        raise KeyError(f"no agent {aid}")

    @property
    def group_names(self) -> list[str]:
        return list(self.groups.keys())

    def structure(self) -> dict[str, Any]:
        hidden = {a: self.agent(a).up.out_features for a in self.agent_ids()}
        return {"tree": [[list(m) for m in layer] for layer in self.tree],
                "next_id": self.next_id, "hidden": hidden}  # fmt: skip

    def apply_structure(self, structure: dict[str, Any]) -> None:
        """Make the agent modules match a saved tree (weights are loaded afterwards)."""
        hidden = {int(k): v for k, v in structure["hidden"].items()}
        wanted = {a for layer in structure["tree"] for m in layer for a in m}
        for aid in self.agent_ids():
            if aid not in wanted:
                del self.groups[agent_name(aid)]
        have = set(self.agent_ids())
        self.tree = [[list(m) for m in layer] for layer in structure["tree"]]
        self.next_id = structure["next_id"]
        for aid in sorted(wanted - have):
            agent = Agent(self.cfg.d_model, hidden[aid])
            self.groups[agent_name(aid)] = agent.to(self.groups["embed"].tok.weight.device)
        self.reorder()

    def reorder(self) -> None:
        """Canonical group order (embed, per layer attn/router/agents by id, head), so a live
        model, a rolled-back one and a reloaded one list their groups alike."""
        order = ["embed"]
        for i, layer in enumerate(self.tree):
            agents = sorted(a for m in layer for a in m)
            order += [f"attn_{i}", f"router_{i}", *map(agent_name, agents)]
        order.append("head")
        self.groups = nn.ModuleDict({n: self.groups[n] for n in order})

    def param_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # --- forward ----------------------------------------------------------------------------

    def agents_forward(self, i: int, x: torch.Tensor) -> torch.Tensor:
        router: Router = self.groups[f"router_{i}"]  # type: ignore[assignment]
        shape = x.shape
        h = router.norm(x).reshape(-1, shape[-1])
        probs = F.softmax(router.managers(h).float(), dim=-1)
        k = min(self.acfg.top_managers, probs.shape[-1])
        top_p, top_i = probs.topk(k, dim=-1)
        top_p = top_p / top_p.sum(-1, keepdim=True)
        n_managers = probs.shape[-1]
        first = F.one_hot(top_i[:, 0], n_managers).float().mean(0)
        aux = n_managers * (first * probs.mean(0)).sum()
        self.aux_loss = aux if self.aux_loss is None else self.aux_loss + aux
        out = torch.zeros_like(h)
        for m, agents in enumerate(self.tree[i]):
            chosen = top_i == m
            rows = chosen.any(-1).nonzero().squeeze(-1)
            if not agents or rows.numel() == 0:
                continue
            weight = (top_p * chosen).sum(-1)[rows].unsqueeze(-1)
            hm = h[rows]
            logits = torch.cat([self.agent(a).gate(hm) for a in agents], dim=-1)
            p = F.softmax(logits.float(), dim=-1)
            y = torch.zeros_like(hm)
            for j, a in enumerate(agents):
                y = y + p[:, j : j + 1].to(hm.dtype) * self.agent(a)(hm)
                mass = (weight[:, 0] * p[:, j]).detach()
                self.usage[a] = self.usage.get(a, 0.0) + float(mass.sum())
                if self.token_mass is not None:
                    total = self.token_mass.setdefault(a, h.new_zeros(h.shape[0]).float())
                    total.index_add_(0, rows, mass.float())
            out = out.index_add(0, rows, (weight.to(y.dtype) * y))
        return out.reshape(shape)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        self.aux_loss = None
        self.usage = {}
        self.tokens_seen = idx.numel()
        offset = cache.length if cache is not None else 0
        x = self.groups["embed"](idx, offset)
        for i in range(self.cfg.n_layers):
            x = x + self.groups[f"attn_{i}"](x, cache, i, offset)
            x = x + self.agents_forward(i, x)
        return self.groups["head"](x)

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        """Next-token cross-entropy (the aux loss of this forward is left in `aux_loss`)."""
        logits = self(batch[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten())

    def training_aux(self) -> torch.Tensor | None:
        if self.aux_loss is None:
            return None
        return self.acfg.aux_weight * self.aux_loss / self.cfg.n_layers

    def usage_share(self) -> dict[int, float]:
        """Last forward: each agent's gate mass / tokens (sums to 1 per layer)."""
        tokens = max(1, self.tokens_seen)
        return {a: self.usage.get(a, 0.0) / tokens for a in self.agent_ids()}


def agent_name(aid: int) -> str:
    return f"agent_{aid}"
