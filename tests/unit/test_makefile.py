"""The Makefile: a first `make` says that the silent PyTorch install is coming; tests get a
browser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(target: str, tmp_path: Path) -> list[str]:
    """The commands `make` would run for `target` in a fresh venv, in order."""
    command = ["make", "-n", "-B", "-C", str(REPO), target, f"VENV={tmp_path / 'venv'}"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()


def test_first_setup_says_pytorch_takes_minutes_before_pip_starts(tmp_path):
    lines = dry_run("setup", tmp_path)
    notice = next(i for i, line in enumerate(lines) if "PyTorch" in line)
    pip = next(i for i, line in enumerate(lines) if "pip install" in line)
    assert lines[notice].startswith("echo") and notice < pip
    assert "minutes" in " ".join(lines[notice : notice + 2])


def test_make_test_installs_a_browser_only_where_none_is_and_apt_runs_as_root(tmp_path):
    lines = dry_run("test", tmp_path)
    guard = next(i for i, line in enumerate(lines) if "command -v chromium" in line)
    install = next(i for i, line in enumerate(lines) if "apt-get install -y" in line)
    pytest_run = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert guard < install < pytest_run
    assert any('"$(id -u)" = 0' in line for line in lines[guard:install])
