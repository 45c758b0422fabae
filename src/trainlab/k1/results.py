"""What a K-1 run measured: per (method, seed) results, per-method summaries, the goal check."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from trainlab.k1.metrics import mean_std, relative_gain, summarize
from trainlab.k1.settings import K1Settings

GOAL = (
    "a K-1 variant's BWT at least 30 % better than (equal-parameter) dense, significantly "
    "(paired t-test over >= 3 seeds, p < 0.05), at no more than 5 % worse final avg perplexity"
)
MIN_SEEDS = 3
ALPHA = 0.05
K1_VARIANTS: tuple[str, ...] = ("k1", "k1_agents", "k1_structure", "k1_replay")
TOKENIZER = "UTF-8 bytes (vocabulary 256); perplexities are per byte"
Record = dict[str, Any]


def of(records: list[Record], method: str, seed: int) -> list[Record]:
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
    rows = sorted(of(evals, method, seed), key=lambda e: e["after_index"])
    r = [[row["losses"][d] for d in settings.domains] for row in rows]
    mine = of(chunks, method, seed)
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
            of(structure or [], method, seed)[-1]["param_count"]
            if of(structure or [], method, seed)
            else mine[-1].get("param_count", mine[-1]["total_params"])
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


def paired_bwt(runs: list[Record], method: str, against: str) -> dict[str, Any] | None:
    """Paired t-test over seeds, one-sided: is `method`'s BWT higher (less forgetting)?"""
    bwt = {(r["method"], r["seed"]): r["metrics"]["bwt"] for r in runs}
    seeds = sorted(s for m, s in bwt if m == method and (against, s) in bwt)
    if len(seeds) < 2:
        return None
    a, b = [bwt[(method, s)] for s in seeds], [bwt[(against, s)] for s in seeds]
    test = stats.ttest_rel(a, b, alternative="greater")
    p = float(test.pvalue)
    return {"n": len(seeds), "mean_diff": float(np.mean(a) - np.mean(b)),
            "p": None if math.isnan(p) else p}  # fmt: skip


def _variant_check(summary: dict[str, Any], runs: list[Record], method: str) -> dict[str, Any]:
    mine, dense = summary[method], summary["dense"]
    gain = relative_gain(mine["bwt"]["mean"], dense["bwt"]["mean"])
    ppl = mine["final_avg_ppl"]["mean"] / dense["final_avg_ppl"]["mean"] - 1.0
    vs_dense = paired_bwt(runs, method, "dense")
    significant = vs_dense is not None and vs_dense["p"] is not None and vs_dense["p"] < ALPHA
    return {
        "bwt_gain_vs_dense": gain,
        "final_avg_ppl_change_vs_dense": ppl,
        "bwt_vs_dense": vs_dense,
        "bwt_vs_replay": paired_bwt(runs, method, "replay") if "replay" in summary else None,
        "passes": bool(gain >= 0.3 and ppl <= 0.05 and significant),
    }


def goal_check(summary: dict[str, dict[str, Any]], runs: list[Record]) -> dict[str, Any]:
    """The goal per K-1 variant; a verdict only from >= MIN_SEEDS seeds and a paired test."""
    if "dense" not in summary:
        return {"criterion": GOAL, "met": None, "note": "dense baseline not run"}
    variants = {m: _variant_check(summary, runs, m) for m in K1_VARIANTS if m in summary}
    seeds = len({r["seed"] for r in runs})
    out = {"criterion": GOAL, "seeds": seeds, "variants": variants, **variants["k1"]}
    if seeds < MIN_SEEDS:
        note = f"not enough seeds for a verdict ({seeds} < {MIN_SEEDS} seeds, paired test)"
        return out | {"met": None, "note": note}
    passing = [m for m, v in variants.items() if v["passes"]]
    return out | {"met": bool(passing), "passing": passing}


def param_gaps(summary: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Each method's final parameter count relative to k1_structure's (k1_agents' without)."""
    ref = next((m for m in ("k1_structure", "k1_agents") if m in summary), None)
    if ref is None:
        return {}
    target = summary[ref]["param_count"]["mean"]
    return {m: st["param_count"]["mean"] / target - 1.0 for m, st in summary.items()}


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
        "goal": goal_check(summary, runs),
        "param_gap": param_gaps(summary),
    }


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


def specialization_rows(evals: list[Record], steps: list[Record], seed: int) -> list[Record]:
    """Per agent-model method (one seed) and finished domain: the index per layer and the
    structural operations accepted during that domain (what changed the routing)."""
    rows = []
    for e in sorted(evals, key=lambda e: (e["method"], e["after_index"])):
        if e["seed"] != seed or "specialization" not in e:
            continue
        ops: dict[str, int] = {}
        for r in of(steps, e["method"], seed):
            for ev in r["events"]:
                if r["domain"] == e["after"] and ev.get("accepted"):
                    ops[ev["op"]] = ops.get(ev["op"], 0) + 1
        rows.append({"method": e["method"], "after": e["after"],
                     "index": e["specialization"]["index"],
                     "ops": ", ".join(f"{k} {v}" for k, v in sorted(ops.items()))})  # fmt: skip
    return rows
