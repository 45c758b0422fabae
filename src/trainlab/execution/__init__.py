"""Execution backends: run a batch of trials in this process or as Ray tasks."""

from trainlab.execution.inprocess import InProcessBackend
from trainlab.execution.jobs import ExecutionBackend, TrialJob, execute_job, failed_summary
from trainlab.execution.progress import TrialProgress, poll_progress
from trainlab.execution.ray_backend import (
    ExecutionSetupError,
    RayBackend,
    RaySettings,
    connect_ray,
    validate_ray_settings,
)

__all__ = [
    "ExecutionBackend",
    "ExecutionSetupError",
    "InProcessBackend",
    "RayBackend",
    "RaySettings",
    "TrialJob",
    "TrialProgress",
    "connect_ray",
    "execute_job",
    "failed_summary",
    "poll_progress",
    "validate_ray_settings",
]
