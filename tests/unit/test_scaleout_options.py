"""The lab's scale-out options: bad input is one line, exit 2, before any run folder exists,
never printing a password; database URLs are kept redacted in every dump."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from trainlab.cli import main
from trainlab.commands.options import UsageError
from trainlab.config import LabSettings

SECRET = "s3cret-pw"


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers: must be a positive integer"),
        (["--workers", "2", "--gpus-per-trial", "1.5"], "--gpus-per-trial must be a fraction"),
        (["--workers", "2", "--ray-address", "head:6379"], "--ray-address must be 'auto'"),
        (["--workers", "2", "--device", "cuda"], "needs --gpus-per-trial > 0"),
        (["--ray-address", f"ray://127.0.0.1:{closed_port()}"], "cannot reach 127.0.0.1"),
        ([f"--checkpointer=mysql://me:{SECRET}@db/runs"], "--checkpointer: must be 'sqlite'"),
        ([f"--storage=postgresql://me:{SECRET}@127.0.0.1:{closed_port()}/runs"], "--storage"),
        ([f"--checkpointer=postgresql://me:{SECRET}@127.0.0.1:{closed_port()}/r"], "me:***@"),
        (["--workers", "2", "--adopt-components"], "--adopt-components with --workers 2"),
        (["--workers", "2", "--objective", "accuracy,latency"], "with --workers 2: it runs one"),
        (["--workers", "2", "--time-budget", "5"], "--time-budget with --workers 2"),
        (["--workers", "2", "--max-memory-mb", "900"], "--max-memory-mb with --workers 2"),
        (["--adopt-components", "--objective", "accuracy,params"], "adoption compares accuracy"),
    ],
)
def test_bad_scale_out_input_is_one_line_before_any_run_folder(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    assert main(["--offline", "--output-dir", str(out), *args]) == 2
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert message in text, text
    assert SECRET not in text and len(text.strip().splitlines()) == 1, text
    assert not out.exists() or not any(out.iterdir())


def test_database_urls_are_redacted_in_every_dump() -> None:
    url = f"postgresql://me:{SECRET}@db.example:5432/runs"
    settings = LabSettings(checkpointer=url, storage=url)
    assert settings.checkpointer == url  # in memory, for the connection
    dumped = settings.model_dump(mode="json")
    assert dumped["checkpointer"] == dumped["storage"] == "postgresql://me:***@db.example:5432/runs"
    assert SECRET not in repr(settings) and SECRET not in settings.model_dump_json()


def test_one_worker_keeps_the_default_budget_and_more_workers_scale_it() -> None:
    assert LabSettings(rounds=3).epoch_budget == 3 * 20
    assert LabSettings(rounds=3, workers=2).epoch_budget == 3 * 2 * 20


def test_resume_accepts_the_database_url_given_again_with_its_password(tmp_path: Path) -> None:
    from trainlab.commands.lab import build_parser, resume_settings
    from trainlab.lab import start_run

    url = f"postgresql://me:{SECRET}@db.example/runs"
    run_dir = start_run(LabSettings(output_dir=tmp_path, workers=2, checkpointer=url))
    assert SECRET not in (run_dir / "config.json").read_text()
    parser, flags = build_parser()
    argv = ["--resume", str(run_dir), f"--checkpointer={url}"]
    assert resume_settings(parser, flags, argv, run_dir).checkpointer == url
    with pytest.raises(UsageError, match="--workers"):
        resume_settings(parser, flags, ["--resume", str(run_dir), "--workers", "3"], run_dir)


def test_the_display_shows_every_trial_in_flight(tmp_path: Path) -> None:
    from rich.console import Console

    from trainlab.execution.progress import TrialProgress
    from trainlab.reporting.console import PlainLabDisplay

    console = Console(record=True, width=120)
    display = PlainLabDisplay(console, rounds=2)
    running = TrialProgress(tmp_path / "trial_0", "running", 1, 3, 0.5, "node ab12 cpu ×1")
    display.batch([running, TrialProgress(tmp_path / "trial_1", "queued")])
    display.batch([running])  # unchanged: not printed again
    lines = console.export_text().splitlines()
    assert lines == [
        "  trial_0: running · epoch 1/3 · val acc 0.5000 · node ab12 cpu ×1",
        "  trial_1: queued",
    ]
