"""Trial jobs and the execution-backend interface: what a batch of trials is and how it runs.

A job is one configuration to train (hparams + train settings + data settings + its trial
folder). Every backend runs a job through `execute_job`, which records the attempt in the
trial folder's `execution.jsonl` (start: pid, host, slot; one line per epoch; end), so the
driver can follow trials in flight by reading files (`trainlab.execution.progress`) whatever
process or machine trains them. On a cluster the run folder must be on shared storage.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from trainlab.config import DataSettings, TrainSettings
from trainlab.space import HParams
from trainlab.state import TrialSummary

EXECUTION_LOG = "execution.jsonl"


@dataclass(frozen=True)
class TrialJob:
    """One trial to train: everything a worker needs, picklable, no tensors."""

    hparams: HParams
    train: TrainSettings
    data: DataSettings
    trial_dir: Path
    pruning: Any = None  # an object whose callback() is the trainer's should_stop (per worker)


class ExecutionBackend(Protocol):
    """Runs a batch of trials and returns one summary per job, in the jobs' order."""

    def run_batch(
        self, jobs: Sequence[TrialJob], on_progress: ProgressCallback | None = None
    ) -> list[TrialSummary]: ...


ProgressCallback = Callable[[list[Any]], None]  # receives list[TrialProgress]


def execute_job(job: TrialJob, slot: str = "in-process", threads: int | None = None) -> dict:
    """Train `job` (resuming from its checkpoint_last.pt) and return its summary as a dict.

    `threads` caps torch's intra-op threads so concurrent trials do not oversubscribe the CPU.
    Exceptions propagate (the backend records them as a failed trial).
    """
    import torch

    from trainlab.training.data import load_splits
    from trainlab.training.trainer import run_trial

    if threads is not None:
        torch.set_num_threads(threads)
    trial_dir = Path(job.trial_dir)
    log = _event_logger(trial_dir)
    log({"event": "start", "pid": os.getpid(), "host": socket.gethostname(), "slot": slot})
    data = load_splits(job.data, job.train.seed)

    def on_epoch(row: dict) -> None:
        log(
            {
                "event": "epoch",
                "pid": os.getpid(),
                "epoch": int(row["epoch"]),
                "epochs": row["epochs"],
                "val_acc": row["val_acc"],
            }
        )

    should_stop = job.pruning.callback() if job.pruning is not None else None
    summary = run_trial(
        job.hparams, job.train, data, trial_dir, on_epoch=on_epoch, should_stop=should_stop
    )
    log({"event": "end", "pid": os.getpid(), "status": summary.status})
    return summary.model_dump(mode="json")


def failed_summary(job: TrialJob, reason: str) -> TrialSummary:
    """The record of a trial that failed for good (after any retries): the batch goes on."""
    return TrialSummary(
        status="failed",
        reason=reason.splitlines()[0][:300] if reason else "unknown failure",
        requested_hparams=job.hparams,
        effective_hparams=job.hparams,
        val_and_test_same_dataset=job.data.val_split == 0,
        seed=job.train.seed,
        device="none",
        seconds=0.0,
        trial_dir=str(job.trial_dir),
    )


def read_events(trial_dir: Path) -> list[dict[str, Any]]:
    """The execution events of a trial folder (complete lines only: a writer may be mid-line)."""
    path = Path(trial_dir) / EXECUTION_LOG
    if not path.is_file():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def _event_logger(trial_dir: Path) -> Callable[[dict[str, Any]], None]:
    trial_dir.mkdir(parents=True, exist_ok=True)
    path = trial_dir / EXECUTION_LOG

    def log(event: dict[str, Any]) -> None:
        line = json.dumps({**event, "time": time.time()}) + "\n"
        with path.open("a") as handle:  # one write per line: readers skip a partial last one
            handle.write(line)
            handle.flush()

    return log
