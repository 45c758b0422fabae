"""Issue 17, first fault: a run killed inside the checkpoint save that follows round 2's
supervisor write (its decision already saved as a pending write) resumes to the end."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).with_name("crashing.py")
TINY = ["--offline", "--dataset", "synthetic", "--rounds", "3", "--consult-turns", "1",
        "--epochs", "1", "--width", "8", "--augment", "none", "--device", "cpu"]  # fmt: skip

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_kill_after_the_supervisors_pending_write_resumes_every_round(tmp_path):
    killed = subprocess.run(
        [sys.executable, str(HARNESS), "after_write:finals:2", "--", *TINY,
         "--output-dir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stdout + killed.stderr
    (run_dir,) = tmp_path.iterdir()
    assert not (run_dir / "trial_1").exists()  # died before round 2's executor

    resumed = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "--resume", str(run_dir)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "already finished" not in resumed.stdout
    rows = list(csv.DictReader((run_dir / "trials_summary.csv").open()))
    assert [int(r["round"]) for r in rows] == [1, 2, 3]
    assert (run_dir / "report.md").is_file()
