"""What the gradient monitor costs per training step: plain steps against monitored steps.

ResNet-9 on random CIFAR- or digits-shaped batches, AdamW, one step = forward, backward,
[monitor.observe()], optimizer step. Plain and monitored blocks alternate; each block's time
is per step, the figures are medians over blocks.

    python bench/gradient_monitor_cost.py --width 16 --batch 64 --size 8 --channels 1
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from trainlab.tools.gradients import GradientMonitor
from trainlab.training.models import ResNet9


def block_seconds(model, optimizer, x, y, steps: int, monitored: bool) -> float:
    monitor = GradientMonitor(model) if monitored else None
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        if monitor is not None:
            monitor.observe()
        optimizer.step()
    if monitor is not None:
        monitor.epoch_columns()
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ResNet9(10, args.channels, width=args.width).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(args.batch, args.channels, args.size, args.size)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (args.batch,))
    block_seconds(model, optimizer, x, y, args.steps, monitored=True)  # warm-up
    plain, monitored = [], []
    for _ in range(args.blocks):
        plain.append(block_seconds(model, optimizer, x, y, args.steps, monitored=False))
        monitored.append(block_seconds(model, optimizer, x, y, args.steps, monitored=True))
    p, m = statistics.median(plain), statistics.median(monitored)
    print(
        f"{platform.machine()}, torch {torch.__version__}, {args.threads} thread(s); ResNet-9 "
        f"width {args.width}, batch {args.batch} × {args.channels}×{args.size}×{args.size}, "
        f"{args.blocks} blocks × {args.steps} steps"
    )
    print(
        f"plain {1e3 * p:.2f} ms/step, monitored {1e3 * m:.2f} ms/step, overhead {m / p - 1:+.1%}"
    )


if __name__ == "__main__":
    main()
