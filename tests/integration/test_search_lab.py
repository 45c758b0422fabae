"""The search engine inside the real lab graph: the run's study, the epoch budget, the pruned
status end to end, the flags' validation and a SIGKILL + --resume that continues the study."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest

from tests.integration.test_hpo_lab import lab_command, run_cli, run_graph, tiny_settings
from trainlab.commands import lab as lab_command_module
from trainlab.search import lab_search
from trainlab.search.study import ROUND_ATTR, STUDY_NAME


class PruneAfterFirstTrial(optuna.pruners.BasePruner):
    """Every trial but the study's first is pruned after its first epoch."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number > 0


def load_study(run_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{run_dir / 'optuna.db'}")


def test_every_trial_is_told_to_the_run_study_and_the_budget_ends_the_run(tmp_path):
    settings = tiny_settings(tmp_path, rounds=10, turns=1).model_copy(
        update={"budget_epochs": 5, "pruner": "none"}
    )
    run_dir, state = run_graph(settings)
    assert [t["epochs_run"] for t in state["trials"]] == [2, 2, 1]  # the last gets what is left
    study = load_study(run_dir)
    assert [t.user_attrs[ROUND_ATTR] for t in study.trials] == [1, 2, 3]
    assert [len(t.intermediate_values) for t in study.trials] == [2, 2, 1]
    assert study.trials[0].params == state["finals"][0]["hparams"]  # the literature prior
    best = json.loads((run_dir / "best_overall.json").read_text())
    assert (best["budget_epochs"], best["spent_epochs"], best["trials"]) == (5, 5, 3)
    analysis = json.loads((run_dir / "trial_0" / "analysis.json").read_text())
    assert {"predicted_final_acc", "predicted_final_acc_std"} <= set(analysis["features"])
    assert "Epochs spent: 5 of a budget of 5; 3 trials" in (run_dir / "report.md").read_text()


def test_a_pruned_trial_is_shown_as_such_and_never_the_best(tmp_path, monkeypatch):
    monkeypatch.setattr(lab_search, "make_pruner", lambda *_: PruneAfterFirstTrial())
    settings = tiny_settings(tmp_path, rounds=3, turns=1)
    run_dir, state = run_graph(settings)
    assert [t["status"] for t in state["trials"]] == ["complete", "pruned", "pruned"]
    assert [t.state.name for t in load_study(run_dir).trials] == ["COMPLETE", "PRUNED", "PRUNED"]
    rows = list(csv.DictReader((run_dir / "trials_summary.csv").open()))
    assert [(r["status"], r["epochs_run"]) for r in rows[1:]] == [("pruned", "1")] * 2
    assert "| pruned | 1 |" in (run_dir / "report.md").read_text()
    assert state["best"]["round"] == 1
    assert not (run_dir / "trial_1" / "checkpoint_last.pt").exists()  # never resumed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget-epochs", "0"], "--budget-epochs"),
        (["--budget-epochs", "-3"], "--budget-epochs"),
        (["--agent-share", "1.5"], "--agent-share"),
        (["--agent-share", "-0.1"], "--agent-share"),
        (["--sampler", "grid"], "--sampler"),
        (["--pruner", "sometimes"], "--pruner"),
        (["--train-fraction", "0"], "--train-fraction"),
        (["--train-fraction", "1.5"], "--train-fraction"),
        (["--precise-bn-images", "-1"], "--precise-bn-images"),
    ],
)
def test_bad_search_flags_fail_in_one_line_before_any_run_folder(
    tmp_path, capsys, args, message
) -> None:
    code = lab_command_module.main([*args, "--output-dir", str(tmp_path / "runs")])
    out = capsys.readouterr()
    text = (out.out + out.err).strip()
    assert code == 2 and message in text and len(text.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_sigkill_then_resume_continues_the_study_without_lost_or_duplicated_trials(tmp_path):
    args = [
        "--offline", "--dataset", "digits", "--val-split", "0.2", "--width", "8",
        "--epochs", "2", "--budget-epochs", "5", "--rounds", "20", "--pruner", "asha",
        "--stagnation-rounds", "0",
        "--device", "cpu", "--output-dir", str(tmp_path),
    ]  # fmt: skip
    proc = subprocess.Popen(
        lab_command(*args), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    run_dir = wait_for_third_trial(tmp_path, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = load_study(run_dir).trials
    resumed = run_cli("--resume", str(run_dir), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = list(csv.DictReader((run_dir / "trials_summary.csv").open()))
    trials = load_study(run_dir).trials
    assert [int(r["round"]) for r in rows] == list(range(1, len(rows) + 1))
    assert [t.user_attrs[ROUND_ATTR] for t in trials] == [int(r["round"]) for r in rows]
    assert all(t.state.is_finished() for t in trials)
    assert [t.params for t in trials[: len(before)]] == [asked(t) for t in before]  # continued
    assert sum(int(r["epochs_run"]) for r in rows) == 5
    assert [r["status"] for r in rows] == [t.user_attrs["status"] for t in trials]


def asked(trial: optuna.trial.FrozenTrial) -> dict[str, object]:
    """A trial's parameters; for one killed after enqueue_trial, before ask(), the queued ones."""
    if trial.state == optuna.trial.TrialState.WAITING:
        return trial.system_attrs["fixed_params"]
    return trial.params


def wait_for_third_trial(root: Path, proc: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(root.glob("*/trial_2"))  # killed anywhere in the third trial
        if found:
            return found[0].parent
        time.sleep(0.02)
    proc.kill()
    pytest.fail("the lab never reached its third trial")
