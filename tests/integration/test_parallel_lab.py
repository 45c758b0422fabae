"""The lab with --workers 2 on a local Ray runtime it starts itself: SIGKILL mid-batch and
--resume give every trial exactly once, in SQLite (the run folder) and in PostgreSQL."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from trainlab.execution.jobs import read_events
from trainlab.search.study import trial_key

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARGS = ["--offline", "--dataset", "digits", "--val-split", "0.2", "--width", "8",
        "--epochs", "2", "--rounds", "2", "--workers", "2", "--device", "cpu"]  # fmt: skip
ONE_WORKER_FILES = ("config.json", "run.json", "report.md", "report.html", "trials_summary.csv",
                    "best_overall.json", "hpo_progress.png", "graph.png")  # fmt: skip
TRIAL_FILES = ("final.json", "summary.json", "analysis.json", "research.json",
               "metrics_epoch.csv")  # fmt: skip


def lab(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "main.py"), *args]


def kill_mid_batch(out: Path, *extra: str) -> Path:
    """Start the lab, SIGKILL it once the first batch has trained an epoch; its run folder."""
    proc = subprocess.Popen(lab(*ARGS, "--output-dir", str(out), *extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and proc.poll() is None:
        events = [e for d in out.glob("*/trial_[01]") for e in read_events(d)]
        if any(e["event"] == "epoch" for e in events):
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert events, "the lab never started its first batch"
    (run_dir,) = out.iterdir()
    assert not all((run_dir / f"trial_{k}" / "summary.json").is_file() for k in (0, 1))
    wait_until_gone({e["pid"] for e in events})  # the workers die with the lab's Ray runtime
    return run_dir


def wait_until_gone(pids: set[int], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive:
            return
        time.sleep(0.5)
    pytest.fail(f"Ray workers {alive} outlived the killed lab")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def resume(run_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(lab("--resume", str(run_dir)), capture_output=True, text=True,
                            timeout=600, env={**os.environ, **(env or {})})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def assert_exactly_once(run_dir: Path, study: optuna.Study) -> None:
    """Four trials (2 rounds × 2), each once: in the folders, the CSV and the study."""
    assert sorted(p.name for p in run_dir.glob("trial_*")) == [f"trial_{k}" for k in range(4)]
    rows = list(csv.DictReader((run_dir / "trials_summary.csv").open()))
    assert [int(r["round"]) for r in rows] == [1, 1, 2, 2]
    assert sorted(trial_key(t) for t in study.trials) == [1, 2, 3, 4]
    assert all(t.state.is_finished() for t in study.trials)
    finals = [json.loads((run_dir / f"trial_{k}" / "final.json").read_text()) for k in range(4)]
    configs = [json.dumps(f["hparams"], sort_keys=True) for f in finals]
    assert len(set(configs)) == 4 and [f["trial"] for f in finals] == [1, 2, 3, 4]


@pytest.fixture(scope="module")
def resumed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = kill_mid_batch(tmp_path_factory.mktemp("par"), "--draw-graph")
    resume(run_dir)
    return run_dir


def test_sigkill_mid_batch_then_resume_gives_every_trial_once(resumed: Path) -> None:
    study = optuna.load_study(study_name="trainlab", storage=f"sqlite:///{resumed}/optuna.db")
    assert_exactly_once(resumed, study)
    attempts = [len([e for e in read_events(resumed / f"trial_{k}") if e["event"] == "start"])
                for k in (0, 1)]  # fmt: skip
    assert max(attempts) == 2  # the killed batch was taken up again, not started afresh


def test_a_batch_trains_its_trials_at_once(resumed: Path) -> None:
    spans = [[e["time"] for e in read_events(resumed / f"trial_{k}")] for k in (2, 3)]
    (start_a, end_a), (start_b, end_b) = [(s[0], s[-1]) for s in spans]
    assert start_a < end_b and start_b < end_a
    slots = {e.get("slot", "") for k in (2, 3) for e in read_events(resumed / f"trial_{k}")}
    assert any(slot.startswith("node ") for slot in slots)  # a Ray task, not in process


def test_the_run_folder_holds_what_a_one_worker_run_writes(resumed: Path) -> None:
    assert all((resumed / name).is_file() for name in (*ONE_WORKER_FILES, "optuna.db"))
    for k in range(4):
        assert all((resumed / f"trial_{k}" / name).is_file() for name in TRIAL_FILES)
    assert (resumed / "trial_0" / "proposals.json").is_file()


def test_a_postgres_run_survives_sigkill_and_resumes(postgres_url: str, tmp_path: Path) -> None:
    """Checkpoints and study in the session's PostgreSQL server; the resume names the password
    only through TRAINLAB_DB_PASSWORD, and no file or output shows it."""
    password = postgres_url.split(":")[2].split("@")[0]
    url = postgres_url
    run_dir = kill_mid_batch(tmp_path, f"--checkpointer={url}", f"--storage={url}")
    result = resume(run_dir, {"TRAINLAB_DB_PASSWORD": password})
    assert password not in result.stdout + result.stderr
    assert not (run_dir / "checkpoints.sqlite").exists() and not (run_dir / "optuna.db").exists()
    for path in run_dir.rglob("*.json"):
        assert password not in path.read_text(), path
    thread = json.loads((run_dir / "run.json").read_text())["thread_id"]
    storage = url.replace("postgresql://", "postgresql+psycopg://")
    study = optuna.load_study(study_name=f"trainlab-{thread}", storage=storage)
    assert_exactly_once(run_dir, study)
