"""Sampling speed of the K-1 LM with and without the KV-cache, same process, same model.

Usage: python bench/k1_kv_cache.py [--repeats 5] [--tokens 120] [--d-model 64]
                                   [--positions learned] [--threads 1] [--device auto]
An untrained model of the default K-1 shape (4 layers, window 128) samples `tokens` new
tokens greedily from a 4-byte prompt (so every step fits the window and the cache serves);
each repeat times both ways (interleaved); the figure is the median tokens/s over repeats.
The two outputs are checked to be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from trainlab.k1.model import ModularLM, sample
from trainlab.k1.settings import K1Settings
from trainlab.training.device import resolve_device


def tokens_per_second(model: ModularLM, prompt: torch.Tensor, n: int, cache: bool):
    start = time.perf_counter()
    out = sample(model, prompt, n, temperature=0.0, use_cache=cache)
    return n / (time.perf_counter() - start), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=120)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--positions", choices=("learned", "rope"), default="learned")
    parser.add_argument("--threads", type=int, default=1, help="0 = torch default")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = K1Settings(d_model=args.d_model, positions=args.positions, device=args.device)
    device = resolve_device(args.device)
    torch.manual_seed(0)
    model = ModularLM(settings.learner_config().model).to(device)
    prompt = torch.tensor([100, 101, 102, 32], device=device)
    tokens_per_second(model, prompt, 8, True)  # warm-up
    speed: dict[str, list[float]] = {"cache": [], "no_cache": []}
    for _ in range(args.repeats):
        fast, a = tokens_per_second(model, prompt, args.tokens, True)
        slow, b = tokens_per_second(model, prompt, args.tokens, False)
        assert torch.equal(a, b), "cached and uncached sampling differ"
        speed["cache"].append(fast)
        speed["no_cache"].append(slow)
    median = {k: statistics.median(v) for k, v in speed.items()}
    print(json.dumps({
        "tokens_per_s_cache": round(median["cache"], 1),
        "tokens_per_s_no_cache": round(median["no_cache"], 1),
        "speedup": round(median["cache"] / median["no_cache"], 2),
        "new_tokens": args.tokens, "repeats": args.repeats,
        "model": settings.learner_config().model.to_dict(), "device": str(device),
        "threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "identical_outputs": True,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
