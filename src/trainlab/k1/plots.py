"""Plots of a K-1 run: R heatmaps, loss curves, group updates, trust, agent trees."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from trainlab.k1.results import Record, of
from trainlab.k1.settings import K1Settings
from trainlab.runstore import atomic_write_bytes


def plot_heatmaps(res: dict[str, Any], path: Path) -> None:
    methods = list(res["summary"])
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 3.2), squeeze=False)
    doms = res["domains"]
    for ax, method in zip(axes[0], methods, strict=True):
        r = np.asarray(res["summary"][method]["R_loss_mean"])
        ax.imshow(r, cmap="viridis_r")
        for (i, j), v in np.ndenumerate(r):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="w", fontsize=8)
        ax.set(title=method, xticks=range(len(doms)), yticks=range(len(r)))
        ax.set_xticklabels(doms, fontsize=8)
        ax.set_yticklabels([f"after {d}" for d in doms[: len(r)]], fontsize=8)
    fig.suptitle("R: val loss (nats/byte) on column domain after training row domain")
    save_png(fig, path)


def plot_curves(res: dict[str, Any], chunks: list[Record], path: Path) -> None:
    methods = list(res["summary"])
    fig, axes = plt.subplots(1, len(methods), figsize=(4 * len(methods), 3.2), squeeze=False)
    seed = res["seeds"][0]
    per_domain = res["settings"]["steps_per_domain"]
    for ax, method in zip(axes[0], methods, strict=True):
        mine = sorted(of(chunks, method, seed), key=lambda c: (c["domain_index"], c["start"]))
        x = [c["domain_index"] * per_domain + c["end"] for c in mine]
        for d in res["domains"]:
            ax.plot(x, [c["val_loss"][d] for c in mine], marker=".", label=f"val {d}")
        for k in range(1, len(res["domains"])):
            ax.axvline(k * per_domain, color="grey", lw=0.8, ls="--")
        ax.set(title=f"{method} (seed {seed})", xlabel="step", ylabel="val loss")
        ax.legend(fontsize=7)
    save_png(fig, path)


def plot_group_updates(res: dict[str, Any], path: Path) -> None:
    """Share of steps each group was updated during each domain (K-1, mean over seeds)."""
    k1 = [r for r in res["runs"] if r["method"] == "k1"]
    doms = res["domains"]
    groups = list(k1[0]["updates_by_domain"][doms[0]])
    steps = res["settings"]["steps_per_domain"]
    share = np.mean(
        [[[r["updates_by_domain"][d][g] / steps for g in groups] for d in doms] for r in k1],
        axis=0,
    )
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(groups), 1 + 0.6 * len(doms)))
    im = ax.imshow(share, cmap="magma", vmin=0, vmax=1)
    ax.set_xticks(range(len(groups)), groups, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(doms)), doms)
    ax.set_title("K-1: share of steps each group was updated")
    fig.colorbar(im, ax=ax)
    save_png(fig, path)


def save_png(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def plot_trust(steps: list[Record], settings: K1Settings, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    agents = sorted({int(a) for r in steps for a in r["agent_trust"]})
    for a in agents:
        pts = [(r["total_steps"], r["agent_trust"][str(a)]) for r in steps
               if str(a) in r["agent_trust"]]  # fmt: skip
        ax.plot(*zip(*pts, strict=True), lw=0.9, marker=".", ms=3, label=f"agent {a}")
    for k in range(1, len(settings.domains)):
        ax.axvline(k * settings.steps_per_domain, color="grey", lw=0.8, ls="--")
    ax.set(title="Agent trust over time (k1_structure)", xlabel="step", ylabel="trust")
    if len(agents) <= 24:
        ax.legend(fontsize=5, ncol=4)
    save_png(fig, path)


def plot_tree(steps: list[Record], path: Path, title: str) -> None:
    """Root → managers → agents per layer at the end of a domain; colours: how each agent
    came or went during this domain (grown, merged into, reorganised; pruned / absorbed
    agents are drawn crossed out next to their manager)."""
    last = steps[-1]
    events = [e for r in steps for e in r["events"] if not e.get("rolled_back")]
    grown = {e["agent"] for e in events if e["op"] == "grow"}
    merged = {e["agent"] for e in events if e["op"] == "merge"}
    moved = {e["agent"] for e in events if e["op"] == "reorganize"}
    gone = [(e["layer"], e["manager"], e.get("absorbed", e["agent"]), e["op"])
            for e in events if e["op"] in ("prune", "merge")]  # fmt: skip
    tree = last["tree"]
    width = max(sum(max(1, len(m)) for m in layer) for layer in tree) + 4
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * width), 1.6 + 1.7 * len(tree)))
    colours = {"grow": "tab:green", "merge": "tab:purple", "reorganize": "tab:orange"}
    for i, layer in enumerate(tree):
        y = -3 * i
        ax.text(-1.5, y, f"layer {i}\nroot", ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round", "fc": "lightgrey"})  # fmt: skip
        x = 0.0
        for m, agents in enumerate(layer):
            dead = [g for g in gone if g[0] == i and g[1] == m]
            span = max(1, len(agents) + len(dead))
            mx = x + (span - 1) / 2
            ax.plot([-1.5, mx], [y, y - 1], color="grey", lw=0.6)
            ax.text(mx, y - 1, f"M{m}", ha="center", va="center", fontsize=8,
                    bbox={"boxstyle": "round", "fc": "lightblue"})  # fmt: skip
            for j, a in enumerate(agents):
                op = "grow" if a in grown else "merge" if a in merged else (
                    "reorganize" if a in moved else None)  # fmt: skip
                ax.plot([mx, x + j], [y - 1, y - 2], color="grey", lw=0.6)
                ax.text(x + j, y - 2, str(a), ha="center", va="center", fontsize=7,
                        bbox={"boxstyle": "circle", "fc": colours.get(op, "white")})  # fmt: skip
            for j, (_l, _m, a, _op) in enumerate(dead):
                ax.text(x + len(agents) + j, y - 2, f"{a}×", ha="center", va="center",
                        fontsize=7, color="red")  # fmt: skip
            x += span + 0.5
    ax.set_xlim(-2.5, width)
    ax.set_ylim(-3 * len(tree) + 0.3, 0.8)
    ax.axis("off")
    ax.set_title(f"Agent tree, {title}: green grown, purple merged into, orange moved, "
                 "red × pruned/absorbed", fontsize=8)  # fmt: skip
    save_png(fig, path)


def plot_specialization(run_dir: Path, evals: list[Record], seed: int) -> dict[str, Path]:
    """Per agent-model method: domain × agent heatmaps of routing and gradient share per
    layer after the last domain; and the specialization index per layer after each domain."""
    mine = [e for e in evals if e["seed"] == seed and "specialization" in e]
    methods = list(dict.fromkeys(e["method"] for e in mine))
    paths: dict[str, Path] = {}
    for method in methods:
        last = max((e for e in mine if e["method"] == method), key=lambda e: e["after_index"])
        paths[f"specialization_{method}"] = run_dir / f"specialization_{method}.png"
        _share_heatmaps(last["specialization"], f"{method} (seed {seed}, after "
                        f"{last['after']})", paths[f"specialization_{method}"])  # fmt: skip
    if methods:
        paths["specialization_index"] = run_dir / "specialization_index.png"
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for method in methods:
            rows = sorted(
                (e for e in mine if e["method"] == method), key=lambda e: e["after_index"]
            )
            for i in range(len(rows[0]["specialization"]["index"])):
                ys = [r["specialization"]["index"][i] for r in rows]
                ax.plot([r["after"] for r in rows], [np.nan if y is None else y for y in ys],
                        marker="o", label=f"{method} layer {i}")  # fmt: skip
        ax.set(title="Specialization index (0 uniform, 1 domain-separated)", xlabel="after",
               ylim=(0, 1))  # fmt: skip
        ax.legend(fontsize=6, ncol=2)
        save_png(fig, paths["specialization_index"])
    return paths


def _share_heatmaps(spec: dict[str, Any], title: str, path: Path) -> None:
    tree = spec["tree"]
    fig, axes = plt.subplots(2, len(tree), figsize=(3 * len(tree), 5), squeeze=False)
    for row, key in enumerate(("routing", "gradient")):
        table = spec[key]
        doms = list(table)
        for i, layer in enumerate(tree):
            agents = [a for m in layer for a in m]
            share = np.array([[table[d].get(str(a), 0.0) for a in agents] for d in doms])
            ax = axes[row][i]
            ax.imshow(share, cmap="magma", vmin=0, aspect="auto")
            ax.set_xticks(range(len(agents)), [str(a) for a in agents], fontsize=6)
            ax.set_yticks(range(len(doms)), doms, fontsize=7)
            ax.set_title(f"layer {i}: {key} share", fontsize=8)
    fig.suptitle(f"Domain × agent, {title}", fontsize=9)
    save_png(fig, path)
