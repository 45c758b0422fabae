"""The lab's command line around resume and bad input: every settings or environment error is
one line (exit 2) before a run folder exists; --resume continues in the folder it is given
(moved, renamed, from another directory), extends with --rounds and refuses other changes; a
lock keeps a second process out; an empty checkpoint store says what is intact."""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest
import torch
from crashing import KillPoint, preload, run_child

import trainlab.runstore
from trainlab.cli import main
from trainlab.config import DataSettings, LabSettings, TrainSettings
from trainlab.lab import start_run
from trainlab.runstore import RunFolder

pytestmark = pytest.mark.reliability
preload()

TINY = ["--offline", "--dataset", "synthetic", "--rounds", "2", "--consult-turns", "1",
        "--epochs", "1", "--width", "8", "--augment", "none", "--device", "cpu"]  # fmt: skip
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")


def settings(tmp_path: Path) -> LabSettings:
    return LabSettings(
        rounds=2,
        output_dir=tmp_path / "runs",
        offline=True,
        train=TrainSettings(epochs=1, model_width=8, device="cpu"),
        data=DataSettings(dataset="synthetic"),
    )


def one_line_error(capsys: pytest.CaptureFixture[str], status: int) -> str:
    out = capsys.readouterr()
    text = (out.out + out.err).strip()
    assert status == 2 and len(text.splitlines()) == 1 and "Traceback" not in text, text
    return text


def trial_rounds(run_dir: Path) -> list[int]:
    return [int(r["round"]) for r in csv.DictReader((run_dir / "trials_summary.csv").open())]


# --- bad settings and environment: one line, exit 2, no run folder ---------------------------


PROPOSE = ["propose", "--topic", "faster convergence", "--offline", "--validate"]
CUDA = ["--device", "cuda"]
OOM_ENV = {"TRAINLAB_SIMULATE_OOM_ABOVE": "abc"}


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--width", "2"], {}, "--width"),
        (["--num-workers", "-1"], {}, "--num-workers"),  # gone (issue 11): an unknown flag
        pytest.param(CUDA, {}, "--device cuda", marks=NO_CUDA),
        pytest.param(["k1", *CUDA], {}, "--device cuda", marks=NO_CUDA),
        pytest.param(["train", *CUDA], {}, "--device cuda", marks=NO_CUDA),
        pytest.param(
            ["experiment", "--optimizer", "lookahead", *CUDA], {}, "--device cuda", marks=NO_CUDA
        ),
        pytest.param([*PROPOSE, *CUDA], {}, "--device cuda", marks=NO_CUDA),
        ([], OOM_ENV, "TRAINLAB_SIMULATE_OOM_ABOVE"),
        (["train"], OOM_ENV, "TRAINLAB_SIMULATE_OOM_ABOVE"),
        (["k1"], OOM_ENV, "TRAINLAB_SIMULATE_OOM_ABOVE"),
    ],
)
def test_a_bad_setting_is_one_line_before_any_folder(
    argv, env, named, tmp_path, capsys, monkeypatch
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "out"
    status = main([*argv, "--output-dir", str(out)])
    assert named in one_line_error(capsys, status)
    assert not out.exists() or not any(out.iterdir())


def test_an_output_dir_naming_a_file_is_one_line(tmp_path, capsys):
    file = tmp_path / "file"
    file.write_text("")
    text = one_line_error(capsys, main([*TINY, "--output-dir", str(file / "runs")]))
    assert "--output-dir" in text and "Not a directory" in text


def test_a_full_output_disk_is_one_line(tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(trainlab.runstore.tempfile, "TemporaryFile", full)
    text = one_line_error(capsys, main([*TINY, "--output-dir", str(tmp_path)]))
    assert "--output-dir" in text and "No space left" in text
    assert not any(tmp_path.iterdir())


def test_a_read_only_output_dir_is_one_line(tmp_path):
    """As root, permissions are not enforced: the check runs in a child that became `nobody`."""
    base = Path(tempfile.mkdtemp())  # under /tmp, which nobody may enter
    base.chmod(0o755)
    read_only = base / "ro"
    read_only.mkdir(mode=0o555)
    read_only.chmod(0o555)
    log = base / "log"
    log.touch(mode=0o666)
    log.chmod(0o666)
    try:
        status = _as_unprivileged([*TINY, "--output-dir", str(read_only)], log)
        text = log.read_text().strip()
        assert status == 2 and len(text.splitlines()) == 1, text
        assert "--output-dir" in text and "Permission denied" in text, text
        assert not any(read_only.iterdir())
    finally:
        shutil.rmtree(base)


def _as_unprivileged(argv: list[str], log: Path) -> int:
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            with log.open("w", buffering=1) as out:
                os.dup2(out.fileno(), 1)
                os.dup2(out.fileno(), 2)
                import sys

                sys.stdout = sys.stderr = out
                if os.geteuid() == 0:
                    os.setgid(65534)
                    os.setuid(65534)  # nobody: the kernel now refuses the write
                status = main(argv)
        finally:
            os._exit(status)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_a_disk_that_fills_mid_run_is_one_line_naming_the_resume(tmp_path, capsys, monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr("trainlab.reporting.run_report.atomic_write_bytes", full)
    assert main([*TINY, "--output-dir", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    (run_dir,) = tmp_path.iterdir()
    last = out.strip().splitlines()[-1]  # after the progress lines
    assert "Traceback" not in out and last.startswith("error: cannot write")
    assert "No space left" in last and f"--resume {run_dir}" in last


# --- resume follows the folder -------------------------------------------------------------


@pytest.mark.slow
def test_a_moved_and_renamed_run_resumes_in_place_from_another_directory(tmp_path, monkeypatch):
    first = tmp_path / "first"
    assert run_child([*TINY, "--output-dir", str(first)], tmp_path / "log",
                     KillPoint("after_write", "analyses", 1)) == -9  # fmt: skip
    (original,) = first.iterdir()
    moved = tmp_path / "drive" / "my-copy"
    moved.parent.mkdir()
    shutil.copytree(original, moved)
    shutil.rmtree(original)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["--resume", "../drive/my-copy"]) == 0
    assert trial_rounds(moved) == [1, 2] and RunFolder(moved).finished
    assert not any(first.iterdir()) and not any(elsewhere.iterdir())
    best = json.loads((moved / "best_overall.json").read_text())
    assert Path(best["trial_dir"]).parent == moved


@pytest.mark.slow
@pytest.mark.parametrize(
    "killed", [None, KillPoint("after_write", "best", 1)], ids=["finished", "killed"]
)
def test_more_rounds_extend_a_run(killed, tmp_path, capsys):
    status = run_child([*TINY, "--output-dir", str(tmp_path)], tmp_path.parent / "log", killed)
    assert status == (-9 if killed else 0)
    (run_dir,) = tmp_path.iterdir()
    assert main(["--resume", str(run_dir), "--rounds", "3"]) == 0
    assert trial_rounds(run_dir) == [1, 2, 3] and RunFolder(run_dir).finished
    assert json.loads((run_dir / "config.json").read_text())["rounds"] == 3
    assert main(["--resume", str(run_dir)]) == 0
    assert "already finished" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "named"), [(["--epochs", "5"], "--epochs"), (["--rounds", "1"], "--rounds 1")]
)
def test_other_changes_on_resume_are_refused(argv, named, tmp_path, capsys):
    run_dir = start_run(settings(tmp_path))
    config = (run_dir / "config.json").read_text()
    text = one_line_error(capsys, main(["--resume", str(run_dir), *argv]))
    assert text.startswith(f"error: {named}")
    assert (run_dir / "config.json").read_text() == config


def test_the_device_may_change_on_resume(tmp_path, capsys):
    run_dir = start_run(settings(tmp_path))
    text = one_line_error(capsys, main(["--resume", str(run_dir), "--device", "auto"]))
    assert "no checkpoints.sqlite" in text  # accepted: it went on to the checkpoints


def test_an_empty_checkpoint_store_says_what_is_intact(tmp_path, capsys):
    run_dir = start_run(settings(tmp_path))
    (run_dir / "trial_0").mkdir()
    (run_dir / "trial_0" / "summary.json").write_text("{}")
    (run_dir / "checkpoints.sqlite").touch()
    text = one_line_error(capsys, main(["--resume", str(run_dir)]))
    assert "empty (0 bytes)" in text and "config.json" in text and "trial_0" in text


# --- one process at a time -----------------------------------------------------------------


def test_a_second_resume_is_refused_while_the_first_holds_the_run(tmp_path, capsys):
    run_dir = start_run(settings(tmp_path))
    with RunFolder(run_dir).lock():
        text = one_line_error(capsys, main(["--resume", str(run_dir)]))
    assert "in use by another trainlab run" in text and f"pid {os.getpid()}" in text


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, capsys):
    run_dir = start_run(settings(tmp_path))
    pid = os.fork()
    if pid == 0:
        with RunFolder(run_dir).lock():
            os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    text = one_line_error(capsys, main(["--resume", str(run_dir)]))
    assert "no checkpoints.sqlite" in text  # past the lock, to the next check


# --- what a run shows ----------------------------------------------------------------------


@pytest.mark.slow
def test_when_every_trial_fails_the_console_names_only_the_files_written(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("TRAINLAB_SIMULATE_OOM_ABOVE", "1")
    assert main([*TINY, "--rounds", "1", "--output-dir", str(tmp_path)]) == 0
    artifacts = capsys.readouterr().out.split("Artifacts:")[1]
    assert "report.md" in artifacts and "best_overall.json" not in artifacts
    (run_dir,) = tmp_path.iterdir()
    assert not (run_dir / "best_overall.json").exists()
