"""Search methods at the same epoch budget: the hybrid search engine against plain Optuna.

Every method spends the same number of training epochs (`--budget-epochs`) with the same
trainer, data split, per-trial epoch cap and first trial (the literature prior): Optuna's
random search, TPE, CMA-ES and TPE + Hyperband pruning, and the hybrid (the search engine's
study + allocation rule + offline remedy consultant + ASHA, driven headless by
`trainlab.search.hybrid.run_hybrid`, not through the lab graph). Selection uses the held-out
validation split; the test accuracy reported is the selected trial's (scored once on its best
weights). One row starts TPE from the suggest tool's configuration instead of the prior (its
LR range test and batch probes train outside the epoch budget; `seconds` counts them).
Writes the raw figures as JSON (after every seed, so a partial run is usable), a Markdown
table with median, IQR, trials and paired Wilcoxon tests, and an anytime plot.

    OMP_NUM_THREADS=1 python bench/search_budget.py --seeds 10 --budget-epochs 30
    python bench/search_budget.py --summarize a.json b.json --out bench/results/search_budget.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import optuna
import torch
from scipy.stats import wilcoxon

from trainlab import space
from trainlab.agents.offline import LITERATURE_PRIOR
from trainlab.config import DataSettings, LabSettings, TrainSettings
from trainlab.search.budget import EpochBudget
from trainlab.search.hybrid import HybridSettings, run_hybrid
from trainlab.search.pruning import epoch_callback, make_pruner
from trainlab.search.study import make_sampler, tell_state
from trainlab.state import TrialSummary
from trainlab.training import artifacts
from trainlab.training.data import ImageSplits, load_splits
from trainlab.training.trainer import run_trial

HYBRID = "hybrid (study + 30 % consultants + ASHA)"
LAB_GRAPH = "lab graph (offline, defaults: TPE + 30 % + ASHA)"
LAB_ADOPT = "lab graph + --adopt-components (stagnation 3)"
FULL_TRAIN = DataSettings(dataset="digits", val_split=0.2)
SETTINGS: dict[str, dict[str, Any]] = {
    "digits_w8_cap3": {"width": 8, "cap": 3, "train_fraction": 1.0},
    "digits_25pct_w8_cap4": {"width": 8, "cap": 4, "train_fraction": 0.25},
}


def run_optuna(
    sampler: str,
    pruner: str,
    train: TrainSettings,
    data: ImageSplits,
    budget: int,
    folder: Path,
    first: space.HParams = LITERATURE_PRIOR,
) -> list[TrialSummary]:
    """A plain Optuna loop (ask, train, report per epoch, tell) until the budget is spent,
    starting from `first`."""
    study = optuna.create_study(
        direction="maximize",
        sampler=make_sampler(sampler, train.seed),
        pruner=make_pruner(pruner, train.epochs),
    )
    study.enqueue_trial(first.model_dump())
    spent, summaries = EpochBudget(budget), []
    while not spent.exhausted:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = study.ask(space.optuna_distributions())
        epochs = spent.next_epochs(train.epochs)
        summary = run_trial(
            space.HParams(**trial.params),
            train.model_copy(update={"epochs": epochs, "patience": epochs}),
            data,
            folder / f"trial_{trial.number:03d}",
            should_stop=epoch_callback(trial),
        )
        state = tell_state(summary.status)
        value = summary.best_val_acc if state == optuna.trial.TrialState.COMPLETE else None
        study.tell(trial, value, state=state)
        spent.spend(trial.number, summary.epochs_run)
        summaries.append(summary)
    return summaries


def run_lab(train: TrainSettings, data: ImageSplits, budget: int, folder: Path) -> list:
    settings = HybridSettings(sampler="tpe", pruner="asha", budget_epochs=budget)
    run = run_hybrid(settings, train, data, folder, LITERATURE_PRIOR, persistent=False)
    return [o.summary for o in run.outcomes]


def run_lab_graph(
    train: TrainSettings,
    data: ImageSplits,
    budget: int,
    folder: Path,
    data_settings: DataSettings = FULL_TRAIN,
    adopt: bool = False,
) -> list | tuple[list, dict[str, Any]]:
    """The lab itself: the real graph, its offline agents and defaults, one consultation turn
    (the offline consultants do not change their proposal in a second one) and no research
    proposals (their validation trains outside the budget). It loads its own data from
    `data_settings`: the same split and training subset as `data`.
    `adopt`: --adopt-components with the default --stagnation-rounds 3; also returns what
    the proposals found and what was adopted (their validation epochs are outside the budget)."""
    from trainlab import lab
    from trainlab.graphs.hpo import build_hpo_graph
    from trainlab.graphs.shared import run_config
    from trainlab.lab_history import full_state
    from trainlab.runstore import RunFolder, open_checkpointer

    settings = LabSettings(
        rounds=budget, consult_turns=1, stagnation_rounds=3 if adopt else 0, offline=True,
        output_dir=folder, budget_epochs=budget, train=train, adopt_components=adopt,
        data=data_settings,
    )  # fmt: skip
    run_dir = lab.start_run(settings)
    with open_checkpointer(run_dir) as saver:
        compiled, _ = build_hpo_graph(lab.LabRuntime.offline(settings), saver)
        config = run_config(run_dir.name, lab.hpo_supersteps(settings))
        state = compiled.invoke({"run_dir": str(run_dir)}, config, durability="sync")
    state = full_state(RunFolder(run_dir), state)  # the trials live in their folders
    summaries = [TrialSummary.model_validate(t) for t in state["trials"]]
    if not adopt:
        return summaries
    asked = [f"round {r['lab_round']}: {'+'.join(r['components'])} {r['verdict']}" for r in
             state["research_proposals"]]  # fmt: skip
    adopted = [f"{a['component']} after round {a['lab_round']}" for a in state.get("adopted", [])]
    names = {a["component"] for a in state.get("adopted", [])}
    trained = [
        f"round {k}: {s.requested_hparams.brief()} {s.status} {s.best_val_acc or 0:.4f}"
        for k, s in enumerate(summaries, 1)
        if s.requested_hparams.optimizer in names
    ]
    return summaries, {"proposals": asked, "adopted": adopted, "adopted_trials": trained}


def run_suggest_tpe(train: TrainSettings, data: ImageSplits, budget: int, folder: Path) -> list:
    """TPE whose first trial is the suggest tool's configuration (the lab's --warm-start
    suggest); the tool's seconds are added to the first trial's."""
    from trainlab.tools.suggest import suggest

    found = suggest(data, width=train.model_width, epochs=train.epochs,
                    device=torch.device("cpu"), seed=train.seed)  # fmt: skip
    summaries = run_optuna("tpe", "none", train, data, budget, folder, first=found.hparams)
    summaries[0] = summaries[0].model_copy(update={"seconds": summaries[0].seconds + found.seconds})
    return summaries


Method = Callable[[TrainSettings, ImageSplits, int, Path], Any]  # summaries[, found]
METHODS: dict[str, Method] = {
    "random search": lambda *a: run_optuna("random", "none", *a),
    "optuna TPE": lambda *a: run_optuna("tpe", "none", *a),
    "optuna TPE, first trial from suggest": run_suggest_tpe,
    "optuna CMA-ES": lambda *a: run_optuna("cmaes", "none", *a),
    "optuna TPE + Hyperband": lambda *a: run_optuna("tpe", "hyperband", *a),
    "optuna TPE + ASHA (ablation: hybrid without consultants)": lambda *a: run_optuna(
        "tpe", "asha", *a
    ),
    HYBRID: run_lab,
    LAB_GRAPH: run_lab_graph,
    LAB_ADOPT: lambda *a: run_lab_graph(*a, adopt=True),
}


def score(summaries: list[TrialSummary], budget: int) -> dict[str, Any]:
    """Selected trial (best validation accuracy of the complete trials), counts, anytime."""
    done = [s for s in summaries if s.status == "complete"] or summaries
    best = max(done, key=lambda s: s.best_val_acc or 0.0)
    anytime, spent, so_far = [], 0, 0.0
    for s in summaries:
        spent += s.epochs_run
        if s.status == "complete":
            so_far = max(so_far, s.best_val_acc or 0.0)
        anytime.append([spent, so_far])
    return {
        "best_val_acc": best.best_val_acc or 0.0,
        "test_acc": best.test_acc or 0.0,
        "selected": best.requested_hparams.brief(),
        "trials": len(summaries),
        "pruned": sum(s.status == "pruned" for s in summaries),
        "diverged_or_failed": sum(s.status in ("diverged", "failed") for s in summaries),
        "epochs_spent": spent,
        "anytime": anytime,
        "seconds": sum(s.seconds for s in summaries),
    }


def run_setting(name: str, seed: int, budget: int, methods: list[str]) -> dict[str, dict[str, Any]]:
    cfg = SETTINGS[name]
    train = TrainSettings(
        epochs=cfg["cap"],
        patience=cfg["cap"],
        model_width=cfg["width"],
        seed=seed,
        device="cpu",
        save_checkpoints=False,
        augment="none",
    )
    data_settings = DataSettings(
        dataset="digits", val_split=0.2, train_fraction=cfg["train_fraction"]
    )
    data = load_splits(data_settings, seed)
    results = {}
    for method in methods:
        run = METHODS[method]
        graph = method in (LAB_GRAPH, LAB_ADOPT)  # the lab loads its own data from its settings
        with tempfile.TemporaryDirectory() as tmp:
            extra = (data_settings,) if graph else ()
            out = run(train, data, budget, Path(tmp), *extra)
        summaries, found = out if isinstance(out, tuple) else (out, {})
        results[method] = r = score(summaries, budget) | found
        print(
            f"{name} seed {seed} {method}: val {r['best_val_acc']:.4f} test {r['test_acc']:.4f} "
            f"trials {r['trials']} pruned {r['pruned']}" + (f" {found}" if found else ""),
            flush=True,
        )
    return results


def iqr_text(values: list[float]) -> str:
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return f"{med:.4f} [{q1:.4f}, {q3:.4f}]"


def paired_p(lab: list[float], other: list[float]) -> str:
    """Two-sided Wilcoxon signed-rank p of lab vs other by seed ('n/a' when all ties)."""
    if len(lab) < 2 or all(a == b for a, b in zip(lab, other, strict=True)):
        return "n/a (all ties)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f"{wilcoxon(lab, other, zero_method='zsplit').pvalue:.3f}"


def table(setting: str, runs: dict[str, dict[str, dict]]) -> str:
    """Markdown table for one setting: runs[seed][method] → score()."""
    seeds = sorted(runs, key=int)
    by = {m: [runs[s][m] for s in seeds] for m in METHODS if all(m in runs[s] for s in seeds)}
    reference = LAB_GRAPH if LAB_GRAPH in by else HYBRID  # the lab itself when it ran
    lab = by.get(reference, [])  # absent in a run of other --methods only: no p-values
    lab_val, lab_test = [r["best_val_acc"] for r in lab], [r["test_acc"] for r in lab]
    lines = [
        f"**{setting}**, seeds {', '.join(seeds)}; median [Q1, Q3]; p: {reference} vs method, "
        "two-sided paired Wilcoxon by seed (val / test)",
        "",
        "| method | best val acc | test acc (selected) | worst seed val / test | trials | pruned "
        "| p (val / test) |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, rs in by.items():
        val, test = [r["best_val_acc"] for r in rs], [r["test_acc"] for r in rs]
        paired = method != reference and lab
        p = f"{paired_p(lab_val, val)} / {paired_p(lab_test, test)}" if paired else "—"
        trials = statistics.median(r["trials"] for r in rs)
        pruned = statistics.median(r["pruned"] for r in rs)
        lines.append(
            f"| {method} | {iqr_text(val)} | {iqr_text(test)} | {min(val):.4f} / {min(test):.4f} "
            f"| {trials:g} | {pruned:g} | {p} |"
        )
    return "\n".join(lines)


def anytime_plot(setting: str, runs: dict[str, dict[str, dict]], budget: int, path: Path) -> None:
    """Median over seeds of the best complete trial's val acc against epochs spent."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    epochs = np.arange(1, budget + 1)
    for method in METHODS:
        curves = [_step(runs[s][method]["anytime"], epochs) for s in runs if method in runs[s]]
        if curves:
            ax.plot(epochs, np.median(curves, axis=0), label=method, drawstyle="steps-post")
    ax.set(xlabel="epochs spent", ylabel="best validation accuracy (median over seeds)")
    ax.set_title(f"{setting}: {len(runs)} seeds")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _step(anytime: list[list[float]], epochs: np.ndarray) -> np.ndarray:
    out = np.zeros(len(epochs))
    for spent, best in anytime:
        out[epochs >= spent] = best
    return out


def summarize(record: dict[str, Any], out: Path) -> str:
    budget = record["settings"]["budget_epochs"]
    parts = []
    for setting, runs in record["results"].items():
        if runs:
            anytime_plot(setting, runs, budget, out.with_name(f"{out.stem}_{setting}.png"))
            parts.append(table(setting, runs))
    return "\n\n".join(parts)


def merged(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of the same settings (e.g. seeds 0 and 1–9) as one record."""
    budgets = {r["settings"]["budget_epochs"] for r in records}
    if len(budgets) != 1:
        raise SystemExit(f"--summarize: the files have different budgets {sorted(budgets)}")
    out = {"settings": records[0]["settings"], "results": {}}
    for record in records:
        for setting, runs in record["results"].items():
            out["results"].setdefault(setting, {}).update(runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget-epochs", type=int, default=24)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("bench/results/search_budget.json"))
    parser.add_argument(
        "--summarize", type=Path, nargs="+", help="merge these JSON files into --out, print"
    )
    args = parser.parse_args()
    if args.summarize:
        record = merged([json.loads(p.read_text()) for p in args.summarize])
        args.out.write_text(json.dumps(record, indent=1))
        print(summarize(record, args.out))
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(args.threads)
    artifacts.plot_trial = lambda *a, **k: None  # per-trial PNGs: ~1 s a trial, no effect on scores
    record = {
        "settings": {
            "budget_epochs": args.budget_epochs,
            "per_setting": {s: SETTINGS[s] for s in args.settings},
            "data": "digits, val split 0.2 (selection), test scored on the selected trial",
            "precise_bn_images": TrainSettings().precise_bn_images,
            "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
            f"{args.threads} thread(s)",
        },
        "results": {s: {} for s in args.settings},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for setting in args.settings:  # interleaved: a partial run covers both settings
            record["results"][setting][str(seed)] = run_setting(
                setting, seed, args.budget_epochs, args.methods
            )
            record["settings"]["wall_seconds"] = round(time.perf_counter() - started)
            args.out.write_text(json.dumps(record, indent=1))
    print(summarize(record, args.out))


if __name__ == "__main__":
    main()
