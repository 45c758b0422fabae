"""results.json, results.md (the seed's two tables, filled) and plots for a K-1 run."""

from __future__ import annotations

import io
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


def run_result(settings: K1Settings, chunks: list[Record], evals: list[Record], job: Record):
    """Everything measured for one (method, seed): R, metrics, time, update fractions."""
    method, seed = job["method"], job["seed"]
    rows = sorted(_of(evals, method, seed), key=lambda e: e["after_index"])
    r = [[row["losses"][d] for d in settings.domains] for row in rows]
    mine = _of(chunks, method, seed)
    steps = sum(c["end"] - c["start"] for c in mine)
    groups = list(mine[0]["updates"]) if mine else []
    by_domain = {
        d: {g: sum(c["updates"][g] for c in mine if c["domain"] == d) for g in groups}
        for d in settings.domains
    }
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
        "update_fraction_groups": updates / (steps * len(groups)) if steps else 0.0,
        "update_fraction_params": (
            sum(c["updated_params"] for c in mine) / (steps * mine[0]["total_params"])
            if steps
            else 0.0
        ),
        "updates_by_domain": by_domain,
        "peak_memory_mb": max(peaks) if peaks else None,
        "oom_events": [e for c in mine for e in c["oom_events"]],
        "final_batch_size": mine[-1]["batch_size"] if mine else None,
        "final_trust": mine[-1]["trust"] if mine else {},
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
) -> dict[str, Any]:
    runs = [run_result(settings, chunks, evals, job) for job in jobs]
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
        "Train time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for method, st in s.items():
        lines.append(
            f"| {method} | {_pm(st['final_avg_ppl'])} | {_pm(st['bwt'])} | "
            f"{_pm(st['mean_forgetting'])} | {_pm(st['update_fraction_params'], '{:.1%}')} | "
            f"{_pm(st['train_seconds'], '{:.1f}')} |"
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
    return "\n".join(lines)


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
    res = build_results(settings, chunks, evals, jobs, extra)
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
    return {k: str(v) for k, v in paths.items()}
