"""Progress of trials in flight, read from their trial folders' execution logs.

Workers append to `<trial>/execution.jsonl` (see jobs.execute_job); the driver polls
`poll_progress` (cheap: small files) to show every trial in flight, wherever it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from trainlab.execution.jobs import TrialJob, read_events

Phase = Literal["queued", "running", "done"]


@dataclass(frozen=True)
class TrialProgress:
    """Where one trial stands: its phase, last epoch and accuracy, and where it runs."""

    trial_dir: Path
    phase: Phase
    epoch: int = 0
    epochs: int = 0
    val_acc: float | None = None
    slot: str = ""
    host: str = ""
    pid: int | None = None
    attempts: int = 0  # how many times a worker started it (> 1: retried after a crash)


def trial_progress(trial_dir: Path) -> TrialProgress:
    events = read_events(trial_dir)
    starts = [e for e in events if e["event"] == "start"]
    if not starts:
        return TrialProgress(Path(trial_dir), "queued")
    last_start = starts[-1]
    epochs = [e for e in events if e["event"] == "epoch"]
    last_epoch = epochs[-1] if epochs else {}
    finished = events[-1]["event"] == "end"
    return TrialProgress(
        trial_dir=Path(trial_dir),
        phase="done" if finished else "running",
        epoch=int(last_epoch.get("epoch", 0)),
        epochs=int(last_epoch.get("epochs", 0)),
        val_acc=last_epoch.get("val_acc"),
        slot=last_start.get("slot", ""),
        host=last_start.get("host", ""),
        pid=last_start.get("pid"),
        attempts=len(starts),
    )


def poll_progress(jobs: Sequence[TrialJob]) -> list[TrialProgress]:
    """The progress of every job of a batch, in the jobs' order."""
    return [trial_progress(job.trial_dir) for job in jobs]
