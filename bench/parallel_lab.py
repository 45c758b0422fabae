"""The lab itself with --workers 1 against --workers 2: wall time of the same number of trials.

Runs `python main.py --offline --dataset digits …` twice: `--workers 1 --rounds 2R` and
`--workers 2 --rounds R` — the same 2R trials of the same epochs (`--pruner none`, so every
trial trains all its epochs; `--stagnation-rounds 0`, so no proposal workflow runs). The wall
time is what a user waits for: agents, analysis, reports and, with two workers, Ray's start-up.
Prints a Markdown section for docs/BENCHMARKS.md.

    python bench/parallel_lab.py --rounds 3 --epochs 3
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench.trainer_throughput import machine
from trainlab.training.trainer import resolve_device

REPO = Path(__file__).resolve().parents[1]


def run_lab(workers: int, rounds: int, args: argparse.Namespace, out: Path) -> tuple[float, list]:
    """The lab's wall time and its trials' rows (trials_summary.csv)."""
    command = [
        sys.executable, "main.py", "--offline", "--dataset", "digits", "--val-split", "0.2",
        "--width", str(args.width), "--epochs", str(args.epochs), "--rounds", str(rounds),
        "--workers", str(workers), "--cpus-per-trial", "1", "--pruner", "none",
        "--stagnation-rounds", "0", "--consult-turns", "1", "--augment", "none",
        "--seed", str(args.seed), "--device", "cpu", "--output-dir", str(out),
    ]  # fmt: skip
    started = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one torch thread per trial in both runs
    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    (run_dir,) = out.iterdir()
    return wall, list(csv.DictReader((run_dir / "trials_summary.csv").open()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="R: the two-worker run's rounds")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the trials' thread count, as `machine` reports it
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        serial = run_lab(1, 2 * args.rounds, args, Path(folder) / "w1")
        parallel = run_lab(2, args.rounds, args, Path(folder) / "w2")
    load_after = os.getloadavg()
    print(
        f"`python bench/parallel_lab.py --rounds {args.rounds} --epochs {args.epochs} "
        f"--width {args.width} --seed {args.seed}`\n\n"
        f"- machine: {machine(resolve_device('cpu'))}\n"
        f"- settings: the offline lab, digits (val split 0.2), ResNet-9 width {args.width}, "
        f"{args.epochs} epochs per trial, pruner none, 1 consultation turn, augmentation none, "
        f"seed {args.seed}, 1 torch thread per trial\n"
        f"- load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}\n"
        f"- workers 1, {2 * args.rounds} rounds: {_run(serial)}\n"
        f"- workers 2, {args.rounds} rounds: {_run(parallel)} (Ray's start-up included)\n"
        f"- **speed-up {serial[0] / parallel[0]:.2f}×** (lab wall time)"
    )


def _run(result: tuple[float, list]) -> str:
    wall, rows = result
    trial = statistics.median(float(row["seconds"]) for row in rows)
    return f"{len(rows)} trials in {wall:.1f} s, median trial training {trial:.1f} s"


def _load(values: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
