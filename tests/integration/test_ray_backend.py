"""The Ray backend on a real local Ray runtime: concurrency, a killed worker, a failing trial."""

from __future__ import annotations

import csv
import os
import signal
import time
from pathlib import Path

import pytest

from trainlab.config import DataSettings, TrainSettings
from trainlab.execution import RayBackend, RaySettings, TrialJob, poll_progress
from trainlab.execution.jobs import read_events
from trainlab.space import HParams
from trainlab.state import TrialSummary

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

EPOCHS = 6
HPARAMS = HParams(
    optimizer="adam",
    learning_rate=1e-3,
    train_batch_size=64,
    weight_decay=1e-4,
    label_smoothing=0.0,
)
TRAIN = TrainSettings(epochs=EPOCHS, patience=EPOCHS, model_width=8, augment="none", seed=0)


@pytest.fixture(scope="module")
def ray_runtime():
    """One local Ray runtime (2 CPUs) for this module, shut down after it."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level="WARNING",
        object_store_memory=100 * 2**20,
    )
    yield
    ray.shutdown()


def job(folder: Path) -> TrialJob:
    return TrialJob(HPARAMS, TRAIN, DataSettings(dataset="synthetic"), folder)


def run_and_kill(
    backend: RayBackend, jobs: list[TrialJob], victim: int
) -> tuple[int | None, list[TrialSummary]]:
    """Run the batch; SIGKILL the worker of `jobs[victim]` once its first epoch is logged."""
    batch = backend.submit(jobs)
    killed_pid = None
    deadline = time.monotonic() + 120
    while not batch.done and time.monotonic() < deadline:
        batch.step(timeout_s=0.05)
        progress = poll_progress(jobs)[victim]
        if killed_pid is None and progress.phase == "running" and progress.epoch >= 1:
            killed_pid = progress.pid
            os.kill(killed_pid, signal.SIGKILL)
    return killed_pid, batch.summaries()


@pytest.fixture(scope="module")
def batch_run(ray_runtime, tmp_path_factory: pytest.TempPathFactory):
    """Three trials, two at a time: `a` plain, `b` whose worker is SIGKILLed after its first
    epoch, `c` that raises (its trial folder is a file). Runs once for the module's tests."""
    root = tmp_path_factory.mktemp("batch")
    (root / "c").write_text("not a folder")
    jobs = [job(root / "a"), job(root / "b"), job(root / "c")]
    backend = RayBackend(RaySettings(workers=2, cpus_per_trial=1, max_retries=2))
    killed_pid, summaries = run_and_kill(backend, jobs, victim=1)
    return {"jobs": jobs, "summaries": summaries, "killed_pid": killed_pid}


def interval(folder: Path) -> tuple[float, float]:
    events = read_events(folder)
    return events[0]["time"], events[-1]["time"]


def test_two_trials_run_concurrently(batch_run):
    (a_start, a_end), (b_start, b_end) = (interval(j.trial_dir) for j in batch_run["jobs"][:2])
    assert a_start < b_end and b_start < a_end


def test_killed_worker_is_retried_and_resumes_from_checkpoint(batch_run):
    summary = batch_run["summaries"][1]
    events = read_events(batch_run["jobs"][1].trial_dir)
    starts = [e for e in events if e["event"] == "start"]
    trained = [e["epoch"] for e in events if e["event"] == "epoch"]
    assert batch_run["killed_pid"] is not None and starts[0]["pid"] == batch_run["killed_pid"]
    assert len(starts) == 2 and summary.status == "complete"
    assert summary.epochs_run == EPOCHS
    assert sorted(trained) == list(range(1, EPOCHS + 1))  # no epoch trained twice


def test_killed_trial_csv_has_one_row_per_epoch(batch_run):
    folder = batch_run["jobs"][1].trial_dir
    with (folder / "metrics_epoch.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == batch_run["summaries"][1].epochs_run


def test_failing_trial_is_recorded_and_others_complete(batch_run):
    a, b, c = batch_run["summaries"]
    assert c.status == "failed" and "FileExistsError" in (c.reason or "")
    assert a.status == "complete" and b.status == "complete"


def test_progress_reports_done_trials_with_their_slot(batch_run):
    a = poll_progress(batch_run["jobs"])[0]
    assert a.phase == "done" and a.epoch == EPOCHS and a.slot.endswith("cpu ×1")


def test_killed_worker_without_retries_is_a_failed_trial(ray_runtime, tmp_path: Path):
    backend = RayBackend(RaySettings(workers=1, max_retries=0))
    killed_pid, [summary] = run_and_kill(backend, [job(tmp_path / "t")], victim=0)
    assert killed_pid is not None
    assert summary.status == "failed" and "after 0 retries" in (summary.reason or "")
