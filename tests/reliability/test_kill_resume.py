"""Seeded SIGKILL points across a tiny lab run, each followed by `--resume`: the run ends with
exactly `rounds` trials, no epoch recorded twice, a complete report and the same results as an
uninterrupted run; a damaged checkpoint store or checkpoint_last.pt is a clear error or a
clean retrain of that trial, never a crash.

Each kill point is a (kind, target) family below with its occurrence K drawn from a seeded
generator within how often an uninterrupted run reaches it (counted by the reference run).
Runs are forked from this process (imports reused); the kill is a real SIGKILL.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from crashing import KillPoint, preload, run_child

from trainlab.runstore import RunFolder

pytestmark = [pytest.mark.reliability, pytest.mark.slow]
preload()

SEED = 17
ROUNDS, EPOCHS = 2, 2
FLAGS = ["--offline", "--dataset", "synthetic", "--rounds", str(ROUNDS), "--consult-turns", "1",
         "--epochs", str(EPOCHS), "--patience", str(EPOCHS), "--width", "8", "--augment", "none",
         "--device", "cpu", "--stagnation-rounds", "0"]  # fmt: skip
FAMILIES = (  # phase: what has happened when the process dies
    ("after_write", "proposals"),  # consultation: a proposal saved as a pending write
    ("after_write", "finals"),  # the supervisor's decision pending (issue 17's case)
    ("after_call", "trainlab.training.checkpoint.save_last"),  # training: an epoch saved
    ("before_call", "trainlab.training.artifacts.write_trial_artifacts"),  # trained, no summary
    ("after_write", "trials"),  # the executor's summary pending
    ("after_write", "analyses"),  # analysis pending
    ("after_call", "trainlab.lab.write_json"),  # analysis.json / research.json written
    ("after_write", "research"),  # research pending
    ("after_call", "trainlab.reporting.run_report.plot_progress"),  # record: CSV, no best yet
    ("after_write", "best"),  # record pending
    ("before_call", "trainlab.graphs.hpo.write_report"),  # finalize, before report.md
    ("after_put", "-"),  # right after any checkpoint
)


@dataclass(frozen=True)
class Reference:
    results: dict
    counts: dict[str, int]


def results(run_dir: Path) -> dict:
    """What must not depend on interruptions: every trial's row (but its seconds) and the best."""
    rows = list(csv.DictReader((run_dir / "trials_summary.csv").open()))
    best = json.loads((run_dir / "best_overall.json").read_text())
    return {
        "rows": [{k: v for k, v in row.items() if k != "seconds"} for row in rows],
        "best": (best["round"], best["hparams"], best["best_val_acc"]),
    }


def assert_complete(run_dir: Path) -> None:
    trials = sorted(p.name for p in run_dir.glob("trial_*"))
    assert trials == [f"trial_{k}" for k in range(ROUNDS)]
    for trial in trials:
        summary = json.loads((run_dir / trial / "summary.json").read_text())
        rows = list(csv.DictReader((run_dir / trial / "metrics_epoch.csv").open()))
        assert len(rows) == summary["epochs_run"], trial  # no epoch recorded twice
        assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))
    assert (run_dir / "report.md").is_file()
    assert RunFolder(run_dir).finished


def killed_run(tmp_path: Path, point: KillPoint) -> Path:
    log = tmp_path / "kill.log"
    status = run_child([*FLAGS, "--output-dir", str(tmp_path / "runs")], log, point)
    assert status == -9, f"{point} was never reached: {log.read_text()}"
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


def resume(run_dir: Path, log: Path) -> int:
    return run_child(["--resume", str(run_dir)], log)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """An uninterrupted run: its results, and how often it reaches each kill point."""
    out = tmp_path_factory.mktemp("reference")
    counts = out / "counts.json"
    assert run_child([*FLAGS, "--output-dir", str(out / "runs")], out / "log", None, counts) == 0
    (run_dir,) = (out / "runs").iterdir()
    assert_complete(run_dir)
    return Reference(results(run_dir), json.loads(counts.read_text()))


def kill_point(index: int, counts: dict[str, int]) -> KillPoint:
    kind, target = FAMILIES[index]
    reached = counts[KillPoint(kind, target, 1).event()]
    first = 2 if target == "trainlab.lab.write_json" else 1  # the 1st: config.json of start_run
    return KillPoint(kind, target, random.Random(SEED * 1000 + index).randint(first, reached))


@pytest.mark.parametrize("index", range(len(FAMILIES)), ids=[f"{k}:{t}" for k, t in FAMILIES])
def test_a_killed_run_resumes_to_the_uninterrupted_result(index, reference, tmp_path):
    point = kill_point(index, reference.counts)
    run_dir = killed_run(tmp_path, point)
    log = tmp_path / "resume.log"
    assert resume(run_dir, log) == 0, f"{point}: {log.read_text()}"
    assert_complete(run_dir)
    assert results(run_dir) == reference.results, point
    assert "Trials" in log.read_text()  # the table is printed


def test_a_corrupt_last_checkpoint_retrains_that_trial_with_a_warning(reference, tmp_path):
    after_first_epoch = KillPoint("after_call", "trainlab.training.checkpoint.save_last", 1)
    run_dir = killed_run(tmp_path, after_first_epoch)
    (run_dir / "trial_0" / "checkpoint_last.pt").write_bytes(b"not a checkpoint" * 64)
    log = tmp_path / "resume.log"
    assert resume(run_dir, log) == 0, log.read_text()
    assert "Traceback" not in log.read_text()
    summary = json.loads((run_dir / "trial_0" / "summary.json").read_text())
    assert summary["epochs_run"] == EPOCHS and "unreadable" in summary["warnings"][0]
    assert_complete(run_dir)
    assert results(run_dir) == reference.results  # retrained from its start with the same seed


def test_a_truncated_checkpoint_store_is_a_clear_error(tmp_path):
    run_dir = killed_run(tmp_path, KillPoint("after_write", "analyses", 2))
    db = run_dir / "checkpoints.sqlite"
    with sqlite3.connect(db) as conn:  # move the write-ahead log into the file, then cut it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    with db.open("r+b") as handle:
        handle.truncate(size // 3)
    log = tmp_path / "resume.log"
    assert resume(run_dir, log) == 2
    text = log.read_text()
    assert "Traceback" not in text and len(text.strip().splitlines()) == 1, text
    assert "cannot resume from" in text and "trial_0" in text, text
