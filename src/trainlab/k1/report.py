"""results.json, results.md (the seed's two tables, filled) and the plots for a K-1 run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainlab.k1.plots import (
    plot_curves,
    plot_group_updates,
    plot_heatmaps,
    plot_specialization,
    plot_tree,
    plot_trust,
)
from trainlab.k1.results import Record, build_results, specialization_rows, structure_summary
from trainlab.k1.settings import K1Settings
from trainlab.runstore import atomic_write_bytes, write_json


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
        "Train time (s) | Params (final) | vs k1_structure params |",
        "|---|---|---|---|---|---|---|---|",
    ]
    gaps = res.get("param_gap", {})
    for method, st in s.items():
        gap = f"{gaps[method]:+.1%}" if method in gaps else "n/a"
        lines.append(
            f"| {method} | {_pm(st['final_avg_ppl'])} | {_pm(st['bwt'])} | "
            f"{_pm(st['mean_forgetting'])} | {_pm(st['update_fraction_params'], '{:.1%}')} | "
            f"{_pm(st['train_seconds'], '{:.1f}')} | {_pm(st['param_count'], '{:,.0f}')} | "
            f"{gap} |"
        )
    lines += ["", *goal_markdown(goal), "", "Plots: r_heatmaps.png, loss_curves.png, "
              "group_updates.png", ""]  # fmt: skip
    if res.get("structure_summary"):
        lines += structure_markdown(res)
    if res.get("specialization"):
        lines += specialization_markdown(res)
    return "\n".join(lines)


def _test(t: dict[str, Any] | None) -> str:
    if t is None or t["p"] is None:
        return "n/a"
    return f"{t['mean_diff']:+.4f} (p = {t['p']:.3f}, n = {t['n']})"


def goal_markdown(goal: dict[str, Any]) -> list[str]:
    """Per K-1 variant: BWT gain and ppl change vs dense, paired tests; then the verdict."""
    lines = [f"**Goal** ({goal['criterion']}):"]
    if "variants" in goal:
        lines += [
            "",
            "| Variant | BWT gain vs dense | Final ppl vs dense | BWT − dense (paired) | "
            "BWT − replay (paired) |",
            "|---|---|---|---|---|",
        ]
        for m, v in goal["variants"].items():
            lines.append(
                f"| {m} | {v['bwt_gain_vs_dense']:+.1%} | "
                f"{v['final_avg_ppl_change_vs_dense']:+.1%} | {_test(v['bwt_vs_dense'])} | "
                f"{_test(v['bwt_vs_replay'])} |"
            )
        lines.append("")
    if goal["met"] is None:
        lines.append(f"Verdict: {goal['note']}.")
    else:
        passing = ", ".join(goal["passing"]) or "no variant"
        lines.append(f"Verdict: **{'met' if goal['met'] else 'not met'}** ({passing} passes).")
    return lines


def specialization_markdown(res: dict[str, Any]) -> list[str]:
    """Specialization index per layer after each domain, with the structural events."""
    lines = [
        "### What the agents learned (specialization)",
        "",
        "Index = mutual information between domain and routing / log(#domains), per layer "
        "(0: every domain routed alike, 1: routing tells the domain). After domain k = "
        "before domain k + 1. First seed; accepted structural operations during the domain.",
        "",
        "| Method | After | Index per layer | Accepted structural ops |",
        "|---|---|---|---|",
    ]
    for row in res["specialization"]:
        index = ", ".join("n/a" if x is None else f"{x:.3f}" for x in row["index"])
        lines.append(f"| {row['method']} | {row['after']} | {index} | {row['ops'] or '-'} |")
    lines += ["", "Plots: specialization_<method>.png (domain × agent heatmaps: routing and "
              "gradient share per layer), specialization_index.png", ""]  # fmt: skip
    return lines


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
    own = [r for r in steps if r["method"] == "k1_structure"]
    if own:
        res["structure_summary"] = structure_summary(own)
    res["specialization"] = specialization_rows(evals, steps, settings.seed_list[0])
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
    paths.update(plot_specialization(run_dir, evals, settings.seed_list[0]))
    if own:
        paths.update(write_structure_outputs(run_dir, settings, steps, own))
    return {k: str(v) for k, v in paths.items()}


def write_structure_outputs(
    run_dir: Path, settings: K1Settings, steps: list[Record], own: list[Record]
) -> dict[str, Path]:
    """The event logs (JSONL: structure_events.jsonl for k1_structure,
    structure_events_<method>.jsonl for the others), trust over time, and one agent-tree
    diagram per domain (k1_structure, first seed)."""
    paths: dict[str, Path] = {}
    for method in dict.fromkeys(r["method"] for r in steps):
        suffix = "" if method == "k1_structure" else f"_{method}"
        key = f"structure_events{suffix}"
        paths[key] = run_dir / f"{key}.jsonl"
        lines = [json.dumps({"seed": r["seed"], **e})
                 for r in steps if r["method"] == method for e in r["events"]]  # fmt: skip
        atomic_write_bytes(paths[key], ("\n".join(lines) + "\n").encode())
    seed = own[0]["seed"]
    mine = [r for r in own if r["seed"] == seed]
    paths["trust"] = run_dir / "trust.png"
    plot_trust(mine, settings, paths["trust"])
    for d in settings.domains:
        ends = [r for r in mine if r["domain"] == d]
        if ends:
            key = f"agent_tree_{d}"
            paths[key] = run_dir / f"{key}.png"
            plot_tree(ends, paths[key], f"seed {seed}, after {d}")
    return paths
