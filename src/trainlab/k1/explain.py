"""`k1 explain`: which agents served each token of a text, with their trust.

One forward pass of a routed-agent snapshot in probe mode (per-token gate mass of every
agent, agents.py); for each token and layer the agents with the largest mass are listed with
their share of the token and the trust the sparse updater had given them when the snapshot
was taken.
"""

from __future__ import annotations

from pathlib import Path

import torch

from trainlab.k1.agents import AgentLM, agent_name
from trainlab.k1.continual import load_model
from trainlab.k1.data import encode


class NotAnAgentModel(ValueError):
    """The snapshot has no agents (k1, dense, ... methods)."""


@torch.no_grad()
def explain_tokens(checkpoint: Path, text: str, top: int = 2) -> list[dict]:
    """Per token: its text and, per layer, the `top` agents as (id, share, trust)."""
    model = load_model(checkpoint, torch.device("cpu"))
    if not isinstance(model, AgentLM):
        raise NotAnAgentModel(f"--checkpoint {checkpoint}: not a routed-agent model snapshot")
    trust = torch.load(checkpoint, map_location="cpu", weights_only=False).get("trust", {})
    ids = torch.from_numpy(encode(text).astype("int64"))[-model.cfg.seq_len :]
    model.eval()
    model.token_mass = {}
    try:
        model(ids.unsqueeze(0))
        mass = model.token_mass
    finally:
        model.token_mass = None

    def share(aid: int, t: int) -> float:
        return round(float(mass[aid][t]), 3) if aid in mass else 0.0

    rows = []
    for t, token in enumerate(ids.tolist()):
        layers = []
        for layer in model.tree:
            ranked = sorted((a for m in layer for a in m), key=lambda a: -share(a, t))
            layers.append([(a, share(a, t), round(trust.get(agent_name(a), 1.0), 3))
                           for a in ranked[:top]])  # fmt: skip
        rows.append({"token": bytes([token]).decode("utf-8", "replace"), "layers": layers})
    return rows


def render(rows: list[dict]) -> str:
    """One line per token: `'d'  L0: 3 (0.61, trust 1.12), 5 (0.39, ...) | L1: ...`."""
    lines = []
    for row in rows:
        cells = [
            f"L{i}: " + ", ".join(f"agent {a} ({share:.2f}, trust {t:.2f})" for a, share, t in top)
            for i, top in enumerate(row["layers"])
        ]
        lines.append(f"{row['token']!r:>6}  " + " | ".join(cells))
    return "\n".join(lines)
