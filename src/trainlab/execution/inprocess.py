"""The in-process backend: today's behaviour, one trial after the other in this process."""

from __future__ import annotations

from collections.abc import Sequence

from trainlab.execution.jobs import ProgressCallback, TrialJob, execute_job, failed_summary
from trainlab.execution.progress import poll_progress
from trainlab.state import TrialSummary


class InProcessBackend:
    """Runs each job in turn; a job that raises is recorded as failed and the batch goes on."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads  # None: leave torch's thread count as it is

    def run_batch(
        self, jobs: Sequence[TrialJob], on_progress: ProgressCallback | None = None
    ) -> list[TrialSummary]:
        summaries = []
        for job in jobs:
            try:
                summary = TrialSummary.model_validate(execute_job(job, threads=self.threads))
            except Exception as exc:
                summary = failed_summary(job, f"{type(exc).__name__}: {exc}")
            summaries.append(summary)
            if on_progress is not None:
                on_progress(poll_progress(jobs))
        return summaries
