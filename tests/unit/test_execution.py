"""Execution backends without Ray: bad options, an unreachable cluster, the in-process batch."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from trainlab.config import DataSettings, TrainSettings
from trainlab.execution import (
    ExecutionSetupError,
    InProcessBackend,
    RaySettings,
    TrialJob,
    connect_ray,
    poll_progress,
    validate_ray_settings,
)
from trainlab.space import HParams

HPARAMS = HParams(
    optimizer="adam",
    learning_rate=1e-3,
    train_batch_size=64,
    weight_decay=1e-4,
    label_smoothing=0.0,
)


def job(folder: Path, epochs: int = 1) -> TrialJob:
    train = TrainSettings(epochs=epochs, model_width=4, augment="none", seed=0)
    return TrialJob(HPARAMS, train, DataSettings(dataset="synthetic"), folder)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("settings", "option"),
    [
        (RaySettings(workers=0), "--workers"),
        (RaySettings(cpus_per_trial=0), "--cpus-per-trial"),
        (RaySettings(gpus_per_trial=1.5), "--gpus-per-trial"),
        (RaySettings(address="10.0.0.1:6379"), "--ray-address"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_option(settings, option):
    with pytest.raises(ExecutionSetupError) as info:
        validate_ray_settings(settings)
    assert str(info.value).startswith(option) and "\n" not in str(info.value)


def test_unreachable_ray_address_fails_fast_with_one_line():
    address = f"ray://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ExecutionSetupError, match=r"cannot reach 127\.0\.0\.1") as info:
        connect_ray(RaySettings(address=address, connect_timeout_s=1))
    assert time.monotonic() - started < 5 and "\n" not in str(info.value)


def test_in_process_backend_records_a_failure_and_goes_on(tmp_path: Path):
    (tmp_path / "bad").write_text("a file where the trial folder should be")
    summaries = InProcessBackend(threads=1).run_batch([job(tmp_path / "bad"), job(tmp_path / "ok")])
    assert [s.status for s in summaries] == ["failed", "complete"]


def test_in_process_progress_shows_every_epoch_done(tmp_path: Path):
    jobs = [job(tmp_path / "t", epochs=2)]
    InProcessBackend(threads=1).run_batch(jobs)
    progress = poll_progress(jobs)[0]
    assert (progress.phase, progress.epoch, progress.attempts) == ("done", 2, 1)


def test_queued_trial_has_no_progress_yet(tmp_path: Path):
    assert poll_progress([job(tmp_path / "never")])[0].phase == "queued"
