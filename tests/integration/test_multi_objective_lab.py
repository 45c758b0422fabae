"""The lab with several objectives and constraints (the Pareto front end to end) and with a
time budget that ends it cleanly, resume included (digits, width 8, 1 epoch)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from tests.integration.test_hpo_lab import run_cli, run_graph
from trainlab import space
from trainlab.config import DataSettings, LabSettings, TrainSettings
from trainlab.search.study import STUDY_NAME

pytestmark = pytest.mark.slow


def test_accuracy_and_latency_give_a_pareto_front_and_marked_constraints(tmp_path: Path):
    settings = LabSettings(
        rounds=3, consult_turns=1, output_dir=tmp_path, offline=True,
        objective=("accuracy", "latency"), max_latency_ms=5.0,
        train=TrainSettings(epochs=1, patience=1, model_width=8, seed=0, device="cpu"),
        data=DataSettings(dataset="digits", data_dir=tmp_path / "data"),
    )  # fmt: skip
    run_dir, state = run_graph(settings)
    summaries = state["trials"]
    assert all(t["latency_ms"] > 0 and t["param_count"] > 0 for t in summaries)
    widths = [f["model_width"] for f in state["finals"]]
    assert widths[0] == 8 and set(widths) <= set(space.WIDTHS)
    latencies = {w: {t["latency_ms"] for t, v in zip(summaries, widths, strict=True) if v == w}
                 for w in widths}  # fmt: skip
    assert all(len(measured) == 1 for measured in latencies.values())  # one per width
    study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{run_dir / 'optuna.db'}")
    assert len(study.directions) == 2 and [t.params["model_width"] for t in study.trials] == widths
    assert [t.values[1] for t in study.trials] == [t["latency_ms"] for t in summaries]
    report = (run_dir / "report.md").read_text()
    assert "## Objectives and constraints" in report and (run_dir / "pareto.png").is_file()
    section = report.split("## Objectives and constraints")[1].splitlines()
    rows = [line for line in section if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 3
    slow = [t["latency_ms"] > 5.0 for t in summaries]
    assert [("breaks" in row) for row in rows] == slow
    front = {t.user_attrs["round"] for t in study.best_trials}
    assert front == {int(r.split("|")[1]) for r in rows if "| yes |" in r}
    assert 'id="tradeoffs"' in (run_dir / "report.html").read_text()


def test_the_time_budget_ends_the_run_after_the_trial_in_flight_and_resume_keeps_it(tmp_path):
    args = ["--offline", "--dataset", "digits", "--rounds", "3", "--epochs", "1", "--width", "8",
            "--device", "cpu", "--consult-turns", "1", "--output-dir", str(tmp_path)]  # fmt: skip
    done = run_cli(*args, "--time-budget", "0.001", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = [p for p in tmp_path.iterdir() if (p / "config.json").is_file()]
    assert json.loads((run_dir / "run.json").read_text())["finished"] is True
    assert (run_dir / "report.md").is_file() and (run_dir / "report.html").is_file()
    trials = [p for p in run_dir.iterdir() if (p / "summary.json").is_file()]
    assert len(trials) == 1  # 0.06 s: spent by the first round, the other two never start
    again = run_cli("--resume", str(run_dir), cwd=tmp_path)
    assert again.returncode == 0 and "already finished" in again.stdout
    assert len([p for p in run_dir.iterdir() if (p / "summary.json").is_file()]) == 1
