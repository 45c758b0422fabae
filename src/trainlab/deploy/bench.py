"""CPU latency: median of timed repeats, one thread, batch 1 (ms/image) and batch 64 (images/s)."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from trainlab.deploy.export import INPUT, OUTPUT, session

THROUGHPUT_BATCH = 64
WARMUP = 3


@dataclass(frozen=True)
class Latency:
    ms_per_image_b1: float
    images_per_s_b64: float


def median_seconds(call: Callable[[], object], repeats: int) -> float:
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _measure(run: Callable[[torch.Tensor], object], x: torch.Tensor, repeats: int) -> Latency:
    one, batch = x[:1], x[:THROUGHPUT_BATCH]
    b1 = median_seconds(lambda: run(one), repeats)
    b64 = median_seconds(lambda: run(batch), repeats)
    return Latency(ms_per_image_b1=1000 * b1, images_per_s_b64=len(batch) / b64)


def onnx_latency(path: Path, x: torch.Tensor, repeats: int) -> Latency:
    sess = session(path)
    return _measure(lambda b: sess.run([OUTPUT], {INPUT: b.numpy()}), x, repeats)


def torch_latency(model: nn.Module, x: torch.Tensor, repeats: int) -> Latency:
    """PyTorch eager on CPU with torch.set_num_threads(1) (restored afterwards)."""
    model = model.cpu().eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            return _measure(model, x, repeats)
    finally:
        torch.set_num_threads(threads)


def load_average() -> float | None:
    """The 1-minute load average when measured (latency is noisy on a busy machine)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # not available on Windows
        return None


def machine() -> str:
    """The CPU this ran on, its core count and the GPU (if any), in words."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}; latency on CPU, 1 thread"
