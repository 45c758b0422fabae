"""Sparse (K-1, top-K groups) vs dense training-step time, same process, same model.

Usage: python bench/k1_step_cost.py [--repeats 7] [--steps 30] [--fraction 0.5] [--d-model 64]
                                   [--threads 1] [--device auto]
Each repeat times `steps` steps of each learner (interleaved, after a warm-up); the figure is
the median per-step time over repeats. Target from issue 5: sparse <= 0.9 x dense at 50 %.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from trainlab.k1.continual import Learner
from trainlab.k1.data import encode, load_domain
from trainlab.k1.settings import K1Settings
from trainlab.training.device import resolve_device


def time_steps(learner: Learner, tokens: torch.Tensor, steps: int) -> float:
    start = time.perf_counter()
    learner.train(tokens, steps)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--fraction", type=float, default=0.5)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="0 = torch default")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = K1Settings(update_fraction=args.fraction, d_model=args.d_model, device=args.device)
    device = resolve_device(args.device)
    tokens = torch.from_numpy(encode(load_domain("prose", "embedded", 200_000, 1_000).train))
    tokens = tokens.long()
    learners = {m: Learner(m, settings.learner_config(), 0, device) for m in ("dense", "k1")}
    for learner in learners.values():
        time_steps(learner, tokens, settings.refresh_every)  # warm-up
    times: dict[str, list[float]] = {m: [] for m in learners}
    for _ in range(args.repeats):
        for method, learner in learners.items():
            times[method].append(time_steps(learner, tokens, args.steps))
    median = {m: statistics.median(t) for m, t in times.items()}
    result = {
        "dense_ms": round(median["dense"] * 1e3, 2),
        "sparse_ms": round(median["k1"] * 1e3, 2),
        "ratio": round(median["k1"] / median["dense"], 3),
        "target": "<= 0.9",
        "update_fraction": args.fraction,
        "refresh_every": settings.refresh_every,
        "repeats": args.repeats,
        "steps_per_repeat": args.steps,
        "model": settings.learner_config().model.to_dict(),
        "batch_size": settings.batch_size,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "all_ms": {m: [round(x * 1e3, 2) for x in t] for m, t in times.items()},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
