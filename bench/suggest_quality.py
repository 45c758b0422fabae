"""How good is `suggest`'s first configuration? Against the best of a 20-trial random search.

Per seed: the same digits split (val 0.2, seeded), the same trial length; random search
(Optuna's RandomSampler over the space, cosine schedule) selects by validation accuracy; the
suggestion is trained once with its own schedule and once with cosine (the search's), and
its rank among the random trials is counted. Also times the suggestion itself. Prints a
Markdown table and writes every figure with its settings as JSON.

    python bench/suggest_quality.py --seeds 3 --trials 20 --epochs 4
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import optuna
import torch

from trainlab import space
from trainlab.config import DataSettings, TrainSettings
from trainlab.state import TrialSummary
from trainlab.tools.suggest import suggest
from trainlab.training.data import load_splits
from trainlab.training.trainer import run_trial


def random_search(train: TrainSettings, data, trials: int, folder: Path) -> list[TrialSummary]:
    sampler = optuna.samplers.RandomSampler(seed=train.seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    summaries = []
    for k in range(trials):
        trial = study.ask(space.optuna_distributions())
        summary = run_trial(space.HParams(**trial.params), train, data, folder / f"trial_{k}")
        summaries.append(summary)
        study.tell(trial, score(summary))
    return summaries


def score(summary: TrialSummary) -> float:
    return summary.best_val_acc if summary.status == "complete" else 0.0


def one_seed(seed: int, args: argparse.Namespace, folder: Path) -> dict:
    train = TrainSettings(
        epochs=args.epochs,
        patience=args.epochs,
        model_width=args.width,
        seed=seed,
        device="cpu",
        save_checkpoints=False,
        augment="none",
    )
    data = load_splits(DataSettings(dataset="digits", val_split=0.2), seed)
    searched = random_search(train, data, args.trials, folder / "random")
    best = max(searched, key=score)
    advice = suggest(
        data, width=args.width, epochs=args.epochs, device=torch.device("cpu"), seed=seed
    )
    own = run_trial(
        advice.hparams,
        train.model_copy(update={"scheduler": advice.scheduler}),
        data,
        folder / "suggested",
    )
    cosine = run_trial(advice.hparams, train, data, folder / "suggested_cosine")
    return {
        "seed": seed,
        "random_best_val": score(best),
        "random_best_test": best.test_acc,
        "random_median_val": statistics.median(score(s) for s in searched),
        "suggested": advice.hparams.model_dump() | {"scheduler": advice.scheduler},
        "suggest_seconds": advice.seconds,
        "suggested_val": score(own),
        "suggested_test": own.test_acc,
        "suggested_cosine_val": score(cosine),
        "random_trials_better": sum(score(s) > score(own) for s in searched),
    }


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.4f} [{min(values):.4f}, {max(values):.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_suggest_quality.json"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    rows = []
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(one_seed(seed, args, Path(tmp)))
        print(json.dumps(rows[-1]), flush=True)
    print(
        f"\nMachine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; {time.perf_counter() - started:.0f} s"
    )
    print(
        f"digits (val split 0.2, no augmentation), width {args.width}, {args.epochs} epochs per "
        f"trial, random search {args.trials} trials, seeds 0..{args.seeds - 1}; "
        "median [min, max]\n"
    )
    print("| | validation accuracy | test accuracy |")
    print("|---|---|---|")
    for label, key in [
        ("random search, best of the trials", "random_best"),
        ("suggested (its schedule), 1 trial", "suggested"),
    ]:
        vals, tests = [r[f"{key}_val"] for r in rows], [r[f"{key}_test"] for r in rows]
        print(f"| {label} | {spread(vals)} | {spread(tests)} |")
    print(
        f"| suggested with cosine, 1 trial | {spread([r['suggested_cosine_val'] for r in rows])}"
        " | |"
    )
    print(f"| random search, median trial | {spread([r['random_median_val'] for r in rows])} | |")
    gaps = [r["random_best_val"] - r["suggested_val"] for r in rows]
    print(
        f"\ngap best-random − suggested (val): {spread(gaps)}; random trials better than the "
        f"suggestion: {[r['random_trials_better'] for r in rows]} of {args.trials}; "
        f"suggestion time: {spread([r['suggest_seconds'] for r in rows])} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"settings": vars(args) | {"out": str(args.out)}, "results": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
