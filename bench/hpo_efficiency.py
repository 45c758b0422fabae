"""Does the lab beat plain search? Offline lab vs random search vs Optuna TPE, same budget.

Each method gets the same number of trials of the same length on the same data split, for
several seeds. Selection uses the held-out validation split; the test accuracy reported is
that of the selected configuration, scored once. Prints a Markdown table and writes the raw
figures (with every setting) as JSON.

    python bench/hpo_efficiency.py --trials 10 --seeds 5 --epochs 4

Equal trials, not equal epochs: the budget-matched comparison with pruning (issue 12) is
`bench/search_budget.py`.
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

import optuna
import torch

from trainlab import space
from trainlab.config import DataSettings, LabSettings, TrainSettings
from trainlab.graphs.hpo import build_hpo_graph, recursion_limit
from trainlab.lab import LabRuntime
from trainlab.lab_history import full_state
from trainlab.runstore import RunFolder
from trainlab.state import TrialSummary
from trainlab.training.data import load_splits
from trainlab.training.trainer import run_trial

Result = tuple[float, float]  # (best validation accuracy, test accuracy of that trial)


def selected(summaries: list[TrialSummary]) -> Result:
    done = [s for s in summaries if s.status == "complete"]
    best = max(done, key=lambda s: s.best_val_acc or 0.0)
    return best.best_val_acc or 0.0, best.test_acc or 0.0


def run_lab(train: TrainSettings, data: DataSettings, trials: int, folder: Path) -> Result:
    settings = LabSettings(
        rounds=trials, consult_turns=1, output_dir=folder, offline=True, train=train, data=data
    )
    compiled, _ = build_hpo_graph(LabRuntime.offline(settings))
    state = compiled.invoke({}, {"recursion_limit": recursion_limit(trials, 1)})
    state = full_state(RunFolder(state["run_dir"]), state)  # the trials live in their folders
    return selected([TrialSummary.model_validate(t) for t in state["trials"]])


def run_sampler(
    make_sampler: Callable[[int], optuna.samplers.BaseSampler],
    train: TrainSettings,
    data: DataSettings,
    trials: int,
    folder: Path,
) -> Result:
    study = optuna.create_study(direction="maximize", sampler=make_sampler(train.seed))
    splits = load_splits(data, train.seed)
    summaries = []
    for k in range(trials):
        trial = study.ask(space.optuna_distributions())
        summary = run_trial(space.HParams(**trial.params), train, splits, folder / f"trial_{k}")
        summaries.append(summary)
        study.tell(trial, summary.best_val_acc if summary.status == "complete" else 0.0)
    return selected(summaries)


def tpe(seed: int) -> optuna.samplers.BaseSampler:
    """TPE as consultant A uses it (3 random start-up trials, multivariate)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=3, multivariate=True)


METHODS: dict[str, Callable[..., Result]] = {
    "lab (offline)": run_lab,
    "random search": lambda *a: run_sampler(lambda s: optuna.samplers.RandomSampler(s), *a),
    "optuna TPE": lambda *a: run_sampler(tpe, *a),
}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.4f} [{min(values):.4f}, {max(values):.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_hpo_efficiency.json"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(args.threads)
    data = DataSettings(dataset="digits", val_split=0.2)
    results: dict[str, list[Result]] = {name: [] for name in METHODS}
    started = time.perf_counter()
    for seed in range(args.seeds):
        train = TrainSettings(
            epochs=args.epochs,
            patience=args.epochs,
            model_width=args.width,
            seed=seed,
            device="cpu",
            save_checkpoints=False,
            augment="none",
        )
        for name, method in METHODS.items():
            with tempfile.TemporaryDirectory() as tmp:
                results[name].append(method(train, data, args.trials, Path(tmp)))
            val, test = results[name][-1]
            print(f"seed {seed} {name}: val {val:.4f} test {test:.4f}")
    print(
        f"\nMachine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; {time.perf_counter() - started:.0f} s"
    )
    print(
        f"digits (val split 0.2, no augmentation), {args.trials} trials × {args.epochs} "
        f"epochs, width {args.width}, seeds 0..{args.seeds - 1}; median [min, max]\n"
    )
    print("| method | best validation accuracy | test accuracy of the selected trial |")
    print("|---|---|---|")
    for name, pairs in results.items():
        print(f"| {name} | {spread([v for v, _ in pairs])} | {spread([t for _, t in pairs])} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"settings": vars(args) | {"out": str(args.out)}, "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
