"""Parallel trials: wall time of the same trials one at a time (in process) and on Ray.

The same N configurations (digits, ResNet-9 width 8, a few epochs, 1 torch thread per trial)
are run once by the in-process backend (workers 1) and once by the Ray backend on a local Ray
runtime (workers W, 1 CPU per trial). Each backend first runs a one-epoch warm-up batch (Ray:
one trial per worker, so every worker has imported torch and loaded the data, as in a lab's
later rounds); Ray's start-up and the warm-ups are timed apart. Prints a Markdown section for
docs/BENCHMARKS.md.

    python bench/parallel_trials.py --trials 8 --epochs 3 --workers 2 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench.trainer_throughput import machine
from trainlab.config import DataSettings, TrainSettings
from trainlab.execution import InProcessBackend, RayBackend, RaySettings, TrialJob, connect_ray
from trainlab.space import HParams
from trainlab.training.trainer import resolve_device

LEARNING_RATES = (3e-3, 1e-3, 2e-3, 5e-3, 1.5e-3, 4e-3, 2.5e-3, 6e-3)


def jobs(root: Path, trials: int, train: TrainSettings, data: DataSettings) -> list[TrialJob]:
    def hparams(lr: float) -> HParams:
        return HParams(
            optimizer="adam",
            learning_rate=lr,
            train_batch_size=64,
            weight_decay=1e-4,
            label_smoothing=0.0,
        )

    return [
        TrialJob(hparams(lr), train, data, root / f"trial_{i}")
        for i, lr in enumerate(LEARNING_RATES[:trials])
    ]


def warm_up(backend, root: Path, trials: int, train: TrainSettings, data: DataSettings) -> float:
    started = time.perf_counter()
    backend.run_batch(jobs(root, trials, train.model_copy(update={"epochs": 1}), data))
    return time.perf_counter() - started


def timed(backend, batch: list[TrialJob]) -> tuple[float, float, set[str]]:
    """Wall time of the batch, its trials' median training seconds and their statuses."""
    started = time.perf_counter()
    summaries = backend.run_batch(batch)
    wall = time.perf_counter() - started
    return wall, statistics.median(s.seconds for s in summaries), {s.status for s in summaries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, choices=range(1, 9))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = TrainSettings(
        epochs=args.epochs, model_width=args.width, seed=args.seed, augment="none"
    )
    data = DataSettings(dataset="digits", val_split=0.2)
    settings = RaySettings(workers=args.workers, cpus_per_trial=1)
    load_before = os.getloadavg()
    serial, parallel = [], []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        in_process = InProcessBackend(threads=1)
        serial_warm = warm_up(in_process, root / "w1-warm", 1, train, data)
        started = time.perf_counter()
        connect_ray(settings)
        ray_start = time.perf_counter() - started
        ray_backend = RayBackend(settings)
        ray_warm = warm_up(ray_backend, root / "ray-warm", args.workers, train, data)
        for repeat in range(args.repeats):  # alternating: a change of load hits both alike
            serial.append(timed(in_process, jobs(root / f"w1-{repeat}", args.trials, train, data)))
            batch = jobs(root / f"ray-{repeat}", args.trials, train, data)
            parallel.append(timed(ray_backend, batch))
    load_after = os.getloadavg()
    ratios = [s[0] / p[0] for s, p in zip(serial, parallel, strict=True)]
    print(
        f"## Parallel trials (Ray)\n\n"
        f"`python bench/parallel_trials.py --trials {args.trials} --epochs {args.epochs} "
        f"--width {args.width} --workers {args.workers} --repeats {args.repeats} "
        f"--seed {args.seed}`\n\n"
        f"- machine: {machine(resolve_device('auto'))}\n"
        f"- settings: digits (val split 0.2), ResNet-9 width {args.width}, {args.epochs} epochs, "
        f"adam, batch 64, {args.trials} learning rates, seed {args.seed}, "
        f"1 torch thread per trial, {args.repeats} repeats alternating\n"
        f"- load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}\n"
        f"- workers 1 (in process): {_batches(serial)}; warm-up {serial_warm:.1f} s\n"
        f"- workers {args.workers} (Ray tasks, 1 CPU each): {_batches(parallel)}; "
        f"Ray start-up {ray_start:.1f} s and warm-up {ray_warm:.1f} s, not in the batch times\n"
        f"- **speed-up {statistics.median(ratios):.2f}×** (median; per repeat "
        f"{min(ratios):.2f}–{max(ratios):.2f}×)"
    )


def _batches(runs: list[tuple[float, float, set[str]]]) -> str:
    walls = [wall for wall, _, _ in runs]
    statuses = ", ".join(sorted(set().union(*(status for _, _, status in runs))))
    trial = statistics.median(seconds for _, seconds, _ in runs)
    return (
        f"batch {statistics.median(walls):.1f} s (min {min(walls):.1f}, max {max(walls):.1f}), "
        f"median trial training {trial:.1f} s, {statuses}"
    )


def _load(values: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
