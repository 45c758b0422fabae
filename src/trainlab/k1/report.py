"""results.json, results.md (the seed's two tables, filled) and plots for a K-1 run."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from trainlab.k1.metrics import mean_std, relative_gain, summarize
from trainlab.k1.settings import K1Settings
from trainlab.runstore import atomic_write_bytes, write_json

GOAL = "K-1 BWT at least 30 % better than dense at no more than 5 % worse final avg perplexity"
TOKENIZER = "UTF-8 bytes (vocabulary 256); perplexities are per byte"
Record = dict[str, Any]


def _of(records: list[Record], method: str, seed: int) -> list[Record]:
    return [r for r in records if r["method"] == method and r["seed"] == seed]


def run_result(
    settings: K1Settings,
    chunks: list[Record],
    evals: list[Record],
    job: Record,
    structure: list[Record] | None = None,
):
    """Everything measured for one (method, seed): R, metrics, time, update fractions.
    `structure`: the structural-step records; the last one holds the evaluated model's size."""
    method, seed = job["method"], job["seed"]
    rows = sorted(_of(evals, method, seed), key=lambda e: e["after_index"])
    r = [[row["losses"][d] for d in settings.domains] for row in rows]
    mine = _of(chunks, method, seed)
    steps = sum(c["end"] - c["start"] for c in mine)
    groups = list(dict.fromkeys(g for c in mine for g in c["updates"]))  # agents may change
    by_domain = {
        d: {g: sum(c["updates"].get(g, 0) for c in mine if c["domain"] == d) for g in groups}
        for d in settings.domains
    }
    group_steps = sum((c["end"] - c["start"]) * len(c["updates"]) for c in mine)
    param_steps = sum((c["end"] - c["start"]) * c["total_params"] for c in mine)
    updates = sum(sum(c["updates"].values()) for c in mine)
    peaks = [c["peak_memory_mb"] for c in mine if c["peak_memory_mb"] is not None]
    return {
        "method": method,
        "seed": seed,
        "R_loss": r,
        "R_ppl": [[math.exp(x) for x in row] for row in r],
        "metrics": summarize(r) if r else {},
        "train_seconds": sum(c["seconds"] for c in mine),
        "train_seconds_by_domain": {
            d: sum(c["seconds"] for c in mine if c["domain"] == d) for d in settings.domains
        },
        "steps": steps,
        "update_fraction_groups": updates / group_steps if steps else 0.0,
        "update_fraction_params": (
            sum(c["updated_params"] for c in mine) / param_steps if steps else 0.0
        ),
        "updates_by_domain": by_domain,
        "peak_memory_mb": max(peaks) if peaks else None,
        "oom_events": [e for c in mine for e in c["oom_events"]],
        "final_batch_size": mine[-1]["batch_size"] if mine else None,
        "final_trust": mine[-1]["trust"] if mine else {},
        "param_count": (
            _of(structure or [], method, seed)[-1]["param_count"]
            if _of(structure or [], method, seed)
            else mine[-1]["total_params"]
            if mine
            else 0
        ),
    }


def summarize_methods(runs: list[Record]) -> dict[str, dict[str, Any]]:
    """Mean ± std over seeds of every scalar metric, per method."""
    out: dict[str, dict[str, Any]] = {}
    for method in dict.fromkeys(r["method"] for r in runs):
        mine = [r for r in runs if r["method"] == method]
        values = {
            "final_avg_ppl": [r["metrics"]["final_avg_ppl"] for r in mine],
            "bwt": [r["metrics"]["bwt"] for r in mine],
            "mean_forgetting": [r["metrics"]["mean_forgetting"] for r in mine],
            "first_domain_ppl": [r["R_ppl"][0][0] for r in mine],
            "first_domain_ppl_at_end": [r["R_ppl"][-1][0] for r in mine],
            "train_seconds": [r["train_seconds"] for r in mine],
            "update_fraction_params": [r["update_fraction_params"] for r in mine],
            "update_fraction_groups": [r["update_fraction_groups"] for r in mine],
            "param_count": [r["param_count"] for r in mine],
        }
        if len(mine[0]["R_ppl"]) > 1:
            values["first_domain_ppl_after_2"] = [r["R_ppl"][1][0] for r in mine]
        out[method] = {k: mean_std(v) for k, v in values.items()}
        out[method]["R_loss_mean"] = np.mean([r["R_loss"] for r in mine], axis=0).tolist()
    return out


def goal_check(summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if "dense" not in summary:
        return {"criterion": GOAL, "met": None, "note": "dense baseline not run"}
    k1, dense = summary["k1"], summary["dense"]
    gain = relative_gain(k1["bwt"]["mean"], dense["bwt"]["mean"])
    ppl = k1["final_avg_ppl"]["mean"] / dense["final_avg_ppl"]["mean"] - 1.0
    return {
        "criterion": GOAL,
        "bwt_gain_vs_dense": gain,
        "final_avg_ppl_change_vs_dense": ppl,
        "met": bool(gain >= 0.3 and ppl <= 0.05),
    }


def build_results(
    settings: K1Settings,
    chunks: list[Record],
    evals: list[Record],
    jobs: list[Record],
    extra: dict[str, Any],
    structure: list[Record] | None = None,
) -> dict[str, Any]:
    runs = [run_result(settings, chunks, evals, job, structure) for job in jobs]
    summary = summarize_methods(runs)
    return {
        "settings": settings.model_dump(mode="json"),
        "tokenizer": TOKENIZER,
        "seeds": settings.seed_list,
        "domains": list(settings.domains),
        **extra,
        "runs": runs,
        "summary": summary,
        "goal": goal_check(summary),
    }


# --- markdown -----------------------------------------------------------------------------


def _pm(stat: dict[str, float] | None, fmt: str = "{:.3f}") -> str:
    if stat is None:
        return "n/a"
    text = fmt.format(stat["mean"])
    return f"{text} ± {fmt.format(stat['std'])}" if stat["n"] > 1 else text


def _better(k1: dict[str, float], base: dict[str, float] | None, higher: bool) -> str:
    if base is None:
        return "n/a"
    won = k1["mean"] > base["mean"] if higher else k1["mean"] < base["mean"]
    return "yes" if won else "no"


def _seed_tables(res: dict[str, Any]) -> list[str]:
    """The seed's two result tables: dense is its "Baseline", values mean ± std over seeds."""
    k1, base = res["summary"]["k1"], res["summary"].get("dense")
    doms = res["domains"]
    peaks = [r["peak_memory_mb"] for r in res["runs"] if r["peak_memory_mb"] is not None]
    memory = f"{max(peaks):.0f} MB (CUDA peak, all runs)" if peaks else "n/a on CPU"

    def cell(key: str, stats: dict[str, Any] | None, fmt: str = "{:.3f}") -> str:
        return _pm(stats[key], fmt) if stats else "n/a"

    def diff(key: str) -> str:
        return f"{(k1[key]['mean'] / base[key]['mean'] - 1):+.1%}" if base else "n/a"

    def versus(label: str, key: str, higher: bool = False) -> str:
        better = _better(k1[key], base[key] if base else None, higher)
        return f"| {label} | {cell(key, base)} | {cell(key, k1)} | {better} |"

    rows = [("Dataset 1 final (ppl)", "first_domain_ppl")]
    if "first_domain_ppl_after_2" in k1:
        rows.append(("Dataset 1 after 2 (ppl)", "first_domain_ppl_after_2"))
    rows.append((f"Dataset 1 after {len(doms)} (ppl)", "first_domain_ppl_at_end"))
    return [
        f"### Baseline vs K-1 (first domain: {doms[0]}; Baseline = dense)",
        "",
        "| Metric | Baseline | K-1 | Difference |",
        "|---|---|---|---|",
        f"| Final Perplexity ({doms[0]}, per byte) | {cell('first_domain_ppl', base)} | "
        f"{cell('first_domain_ppl', k1)} | {diff('first_domain_ppl')} |",
        f"| Parameter Updates | {cell('update_fraction_params', base, '{:.1%}')} | "
        f"{cell('update_fraction_params', k1, '{:.1%}')} | "
        f"groups: {k1['update_fraction_groups']['mean']:.0%} |",
        f"| Training Time (s, all domains) | {cell('train_seconds', base, '{:.1f}')} | "
        f"{cell('train_seconds', k1, '{:.1f}')} | {diff('train_seconds')} |",
        f"| Memory Usage | {memory} | {memory} | - |",
        "",
        f"### Continual Learning ({len(doms)} domains: {', '.join(doms)})",
        "",
        "| Metric | Baseline | K-1 | Better? |",
        "|---|---|---|---|",
        *(versus(label, key) for label, key in rows),
        versus("Backward Transfer (loss; < 0 = forgetting)", "bwt", higher=True),
    ]


def markdown(res: dict[str, Any]) -> str:
    s = res["summary"]
    goal = res["goal"]
    lines = [
        "# K-1 continual-learning results",
        "",
        f"Domains in order: {' → '.join(res['domains'])}; seeds: {res['seeds']}; "
        f"{res['settings']['steps_per_domain']} steps per domain; update fraction "
        f"{res['settings']['update_fraction']}; tokenizer: {res['tokenizer']}.",
        f"Machine: {res['machine']['processor']}, torch {res['machine']['torch']}, "
        f"device {res['device']}. Values are mean ± sample std over seeds.",
        "",
        *_seed_tables(res),
        "",
        "### All methods",
        "",
        "| Method | Final avg ppl | BWT (loss) | Mean forgetting (loss) | Param updates | "
        "Train time (s) | Params (final) |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, st in s.items():
        lines.append(
            f"| {method} | {_pm(st['final_avg_ppl'])} | {_pm(st['bwt'])} | "
            f"{_pm(st['mean_forgetting'])} | {_pm(st['update_fraction_params'], '{:.1%}')} | "
            f"{_pm(st['train_seconds'], '{:.1f}')} | {_pm(st['param_count'], '{:,.0f}')} |"
        )
    lines += ["", f"**Goal** ({goal['criterion']}): "]
    if goal["met"] is None:
        lines[-1] += goal["note"]
    else:
        verdict = "met" if goal["met"] else "not met"
        lines[-1] += (
            f"BWT gain vs dense {goal['bwt_gain_vs_dense']:+.1%}, final avg ppl change "
            f"{goal['final_avg_ppl_change_vs_dense']:+.1%} → **{verdict}**."
        )
    lines += ["", "Plots: r_heatmaps.png, loss_curves.png, group_updates.png", ""]
    if res.get("structure_summary"):
        lines += structure_markdown(res)
    return "\n".join(lines)


def structure_markdown(res: dict[str, Any]) -> list[str]:
    """K-1 structure: operations per seed (accepted / rolled back) and the last diagnostics."""
    lines = [
        "### K-1 structure (k1_structure)",
        "",
        "k1_agents = the same routed-agent model with a fixed tree; k1_structure adds the "
        "structural steps. Both train on 95 % of each train split (the tail is the held-out "
        "data for structural validation).",
        "",
        "| Seed | Operation | Accepted | Rolled back |",
        "|---|---|---|---|",
    ]
    for seed, ops in res["structure_summary"].items():
        for op, c in ops["ops"].items():
            lines.append(f"| {seed} | {op} | {c['accepted']} | {c['rolled_back']} |")
    for seed, ops in res["structure_summary"].items():
        lines += ["", f"Seed {seed}: final agents {ops['agents']}, lr {ops['lr']:.2e}; "
                  "last diagnostics: " + ("; ".join(ops["diagnostics"]) or "none")]  # fmt: skip
    lines += ["", "Outputs: structure_events.jsonl, trust.png, agent_tree_<domain>.png", ""]
    return lines


# --- plots --------------------------------------------------------------------------------


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
    _save(fig, path)


def plot_curves(res: dict[str, Any], chunks: list[Record], path: Path) -> None:
    methods = list(res["summary"])
    fig, axes = plt.subplots(1, len(methods), figsize=(4 * len(methods), 3.2), squeeze=False)
    seed = res["seeds"][0]
    per_domain = res["settings"]["steps_per_domain"]
    for ax, method in zip(axes[0], methods, strict=True):
        mine = sorted(_of(chunks, method, seed), key=lambda c: (c["domain_index"], c["start"]))
        x = [c["domain_index"] * per_domain + c["end"] for c in mine]
        for d in res["domains"]:
            ax.plot(x, [c["val_loss"][d] for c in mine], marker=".", label=f"val {d}")
        for k in range(1, len(res["domains"])):
            ax.axvline(k * per_domain, color="grey", lw=0.8, ls="--")
        ax.set(title=f"{method} (seed {seed})", xlabel="step", ylabel="val loss")
        ax.legend(fontsize=7)
    _save(fig, path)


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
    _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def write_report(
    run_dir: Path,
    settings: K1Settings,
    chunks: list[Record],
    evals: list[Record],
    jobs: list[Record],
    extra: dict[str, Any],
) -> dict[str, str]:
    steps = extra.pop("structure", [])
    res = build_results(settings, chunks, evals, jobs, extra, steps)
    if steps:
        res["structure_summary"] = structure_summary(steps)
    paths = {
        "results_json": run_dir / "results.json",
        "results_md": run_dir / "results.md",
        "r_heatmaps": run_dir / "r_heatmaps.png",
        "loss_curves": run_dir / "loss_curves.png",
        "group_updates": run_dir / "group_updates.png",
    }
    write_json(paths["results_json"], res)
    atomic_write_bytes(paths["results_md"], markdown(res).encode())
    plot_heatmaps(res, paths["r_heatmaps"])
    plot_curves(res, chunks, paths["loss_curves"])
    plot_group_updates(res, paths["group_updates"])
    if steps:
        paths.update(write_structure_outputs(run_dir, settings, steps))
    return {k: str(v) for k, v in paths.items()}


# --- structure outputs ---------------------------------------------------------------------


def structure_summary(steps: list[Record]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for seed in dict.fromkeys(r["seed"] for r in steps):
        mine = [r for r in steps if r["seed"] == seed]
        ops: dict[str, dict[str, int]] = {}
        for e in (e for r in mine for e in r["events"]):
            c = ops.setdefault(e["op"], {"accepted": 0, "rolled_back": 0})
            c["rolled_back" if e.get("rolled_back") else "accepted"] += 1
        last = mine[-1]
        out[str(seed)] = {
            "ops": ops,
            "agents": sum(len(m) for layer in last["tree"] for m in layer),
            "lr": last["lr"],
            "thresholds": last["thresholds"],
            "diagnostics": last["diagnostics"],
        }
    return out


def write_structure_outputs(
    run_dir: Path, settings: K1Settings, steps: list[Record]
) -> dict[str, Path]:
    """The event log (JSONL), trust over time, and one agent-tree diagram per domain."""
    paths: dict[str, Path] = {"structure_events": run_dir / "structure_events.jsonl"}
    lines = [
        json.dumps({"seed": r["seed"], **e}) for r in steps for e in r["events"]
    ]  # fmt: skip
    atomic_write_bytes(paths["structure_events"], ("\n".join(lines) + "\n").encode())
    seed = steps[0]["seed"]
    mine = [r for r in steps if r["seed"] == seed]
    paths["trust"] = run_dir / "trust.png"
    plot_trust(mine, settings, paths["trust"])
    for d in settings.domains:
        ends = [r for r in mine if r["domain"] == d]
        if ends:
            key = f"agent_tree_{d}"
            paths[key] = run_dir / f"{key}.png"
            plot_tree(ends, paths[key], f"seed {seed}, after {d}")
    return paths


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
    _save(fig, path)


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
    _save(fig, path)
