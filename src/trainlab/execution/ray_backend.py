"""The Ray backend: each trial is a Ray task with its own CPU/GPU share, retried on a crash.

With no address it starts a local Ray runtime with this machine's CPUs and GPUs (nothing for
the user to start); `auto` joins the cluster this machine belongs to, `ray://host:port` a
remote one through Ray Client. Trial folders are written by the workers, so on a cluster the
run folder must be on storage every node shares (NFS, a shared volume). A worker killed
mid-trial is retried by Ray (`max_retries`) and continues from `checkpoint_last.pt`; a trial
that fails for good becomes a failed TrialSummary and the batch goes on.
"""

from __future__ import annotations

import math
import os
import socket
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from trainlab.execution.jobs import ProgressCallback, TrialJob, execute_job, failed_summary
from trainlab.execution.progress import TrialProgress, poll_progress
from trainlab.state import TrialSummary


class ExecutionSetupError(ValueError):
    """Bad execution options or an unreachable cluster: one line naming the option and fix."""


@dataclass(frozen=True)
class RaySettings:
    """How trials are spread over Ray: how many at once and what each one gets."""

    workers: int = 2  # trials in flight at once
    address: str | None = None  # None: start a local runtime; "auto" or "ray://host:port"
    cpus_per_trial: float = 1.0  # also torch's thread count per trial (at least 1)
    gpus_per_trial: float = 0.0  # fractional: 0.25 puts four trials on one GPU
    max_retries: int = 2  # Ray retries of a trial whose worker process died
    connect_timeout_s: float = 5.0

    @property
    def threads_per_trial(self) -> int:
        return max(1, math.floor(self.cpus_per_trial))


def validate_ray_settings(settings: RaySettings) -> None:
    """Reject bad options before anything starts (one-line ExecutionSetupError)."""
    if settings.workers < 1:
        raise ExecutionSetupError(f"--workers must be at least 1, got {settings.workers}")
    if settings.cpus_per_trial <= 0:
        raise ExecutionSetupError(f"--cpus-per-trial must be > 0, got {settings.cpus_per_trial:g}")
    gpus = settings.gpus_per_trial
    if gpus < 0 or (gpus > 1 and gpus != int(gpus)):
        raise ExecutionSetupError(
            f"--gpus-per-trial must be a fraction in [0, 1] or a whole number, got {gpus:g}"
        )
    if settings.max_retries < 0:
        raise ExecutionSetupError(f"max_retries must be ≥ 0, got {settings.max_retries}")
    address = settings.address
    if address not in (None, "auto") and not str(address).startswith("ray://"):
        raise ExecutionSetupError(
            f"--ray-address must be 'auto' or 'ray://host:port', got {address!r}"
        )


def connect_ray(settings: RaySettings) -> None:
    """Start a local Ray runtime or join the named cluster (no-op when Ray is already up)."""
    import ray

    validate_ray_settings(settings)
    if ray.is_initialized():
        return
    if settings.address is None:
        ray.init(
            num_cpus=os.cpu_count() or 1,
            num_gpus=_local_gpu_count(),
            include_dashboard=False,
            logging_level="WARNING",
        )
        return
    if settings.address.startswith("ray://"):
        _check_reachable(settings.address, settings.connect_timeout_s)
    try:
        ray.init(address=settings.address, logging_level="WARNING")
    except (ConnectionError, RuntimeError) as exc:
        raise ExecutionSetupError(
            f"--ray-address {settings.address}: cannot join the Ray cluster "
            f"({str(exc).splitlines()[0][:160]}); start one with `ray start --head`"
        ) from None


class RayBatch:
    """A batch in flight: `step` tops up to `workers` tasks and collects finished ones."""

    def __init__(self, jobs: Sequence[TrialJob], settings: RaySettings) -> None:
        self.jobs = list(jobs)
        self.settings = settings
        self._pending = deque(range(len(self.jobs)))
        self._inflight: dict[Any, int] = {}
        self._results: list[TrialSummary | None] = [None] * len(self.jobs)

    @property
    def done(self) -> bool:
        return not self._pending and not self._inflight

    def step(self, timeout_s: float = 0.5) -> None:
        import ray

        while self._pending and len(self._inflight) < self.settings.workers:
            index = self._pending.popleft()
            self._inflight[self._submit(self.jobs[index])] = index
        if not self._inflight:
            return
        finished, _ = ray.wait(list(self._inflight), num_returns=1, timeout=timeout_s)
        for ref in finished:
            index = self._inflight.pop(ref)
            self._results[index] = self._collect(ref, self.jobs[index])

    def progress(self) -> list[TrialProgress]:
        return poll_progress(self.jobs)

    def summaries(self) -> list[TrialSummary]:
        """Block until every trial is done; one summary per job, in the jobs' order."""
        while not self.done:
            self.step()
        return [s for s in self._results if s is not None]

    def _submit(self, job: TrialJob) -> Any:
        s = self.settings
        options = {
            "num_cpus": s.cpus_per_trial,
            "num_gpus": s.gpus_per_trial,
            "max_retries": s.max_retries,
        }
        return _remote_task().options(**options).remote(job, s.threads_per_trial)

    def _collect(self, ref: Any, job: TrialJob) -> TrialSummary:
        import ray
        from ray.exceptions import RayError, RayTaskError

        try:
            return TrialSummary.model_validate(ray.get(ref))
        except RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            return failed_summary(job, f"{type(cause).__name__}: {cause}")
        except RayError as exc:
            retries = self.settings.max_retries
            return failed_summary(job, f"{type(exc).__name__} after {retries} retries: {exc}")


class RayBackend:
    """Runs a batch as Ray tasks, at most `workers` at once; see the module doc."""

    def __init__(self, settings: RaySettings) -> None:
        validate_ray_settings(settings)
        self.settings = settings

    def submit(self, jobs: Sequence[TrialJob]) -> RayBatch:
        connect_ray(self.settings)
        batch = RayBatch(jobs, self.settings)
        batch.step(timeout_s=0)
        return batch

    def run_batch(
        self,
        jobs: Sequence[TrialJob],
        on_progress: ProgressCallback | None = None,
        poll_s: float = 0.5,
    ) -> list[TrialSummary]:
        batch = self.submit(jobs)
        while not batch.done:
            batch.step(poll_s)
            if on_progress is not None:
                on_progress(batch.progress())
        return batch.summaries()


def _ray_trial(job: TrialJob, threads: int) -> dict:
    """The Ray task: run the job in this worker, naming the slot it got."""
    import ray

    context = ray.get_runtime_context()
    gpus = context.get_accelerator_ids().get("GPU", [])
    where = f"gpu {','.join(gpus)}" if gpus else f"cpu ×{threads}"
    return execute_job(job, slot=f"node {context.get_node_id()[:8]} {where}", threads=threads)


_REMOTE: list[Any] = []  # the remote function, made on first use (importing ray is slow)


def _remote_task() -> Any:
    import ray

    if not _REMOTE:
        _REMOTE.append(ray.remote(_ray_trial))
    return _REMOTE[0]


def _check_reachable(address: str, timeout_s: float) -> None:
    parts = urlsplit(address)
    host, port = parts.hostname, parts.port or 10001
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ExecutionSetupError(
            f"--ray-address {address}: cannot reach {host}:{port} within {timeout_s:g} s "
            f"({exc.strerror or type(exc).__name__}); is the Ray head running?"
        ) from None


def _local_gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
