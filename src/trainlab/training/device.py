"""Where training runs: device choice, AMP, atomic saves, out-of-memory and machine facts.

One module for every trainer (the lab's run_trial and K-1's learners), so the AMP rule, the
OOM test and the save format are decided once:
    AMP on CUDA: bf16 where the GPU has it natively (Ampere and later), else fp16 with a
    GradScaler; none on CPU. Emulated bf16 (pre-Ampere GPUs such as Colab's T4) is slow, so
    it does not count as support.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from trainlab.runstore import atomic_write_bytes

SIMULATE_OOM_ENV = "TRAINLAB_SIMULATE_OOM_ABOVE"


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; an unusable explicit choice is a ValueError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {name!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available here")
    return device


# --- mixed precision ------------------------------------------------------------------------


def amp_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """bf16 where the GPU supports it natively, else fp16 (with a GradScaler); None on CPU/off."""
    if not enabled or device.type != "cuda":
        return None
    native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.bfloat16 if native_bf16 else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to `dtype` on `device`; a no-op when AMP is off (dtype None)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A GradScaler that scales only under fp16 (bf16 and fp32 need none)."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


# --- saving ---------------------------------------------------------------------------------


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save through a temporary file: a crash never leaves a half-written file."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


# --- out of memory --------------------------------------------------------------------------


def simulated_oom_limit() -> int | None:
    """The batch size above which TRAINLAB_SIMULATE_OOM_ABOVE makes training fail, if set."""
    raw = os.environ.get(SIMULATE_OOM_ENV, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{SIMULATE_OOM_ENV} must be an integer, got {raw!r}") from None


def raise_simulated_oom(batch_size: int, limit: int | None) -> None:
    """Fault injection: behave like a GPU that cannot fit more than `limit` examples."""
    if limit is not None and batch_size > limit:
        raise torch.cuda.OutOfMemoryError(
            f"simulated: batch {batch_size} > {SIMULATE_OOM_ENV}={limit}"
        )


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc)
    )


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# --- timing and machine facts ---------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float | None:
    """CUDA: peak allocated by torch. CPU: peak resident set size of the process."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What a benchmark figure needs beside it: platform, CPU, versions, threads, GPU."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": cpu_name(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def machine_description() -> str:
    """CPU count, architecture, torch version and threads; the GPU when there is one."""
    text = (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return text
