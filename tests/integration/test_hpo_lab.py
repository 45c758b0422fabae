"""The real HPO lab graph, end to end on tiny data, with a real SQLite checkpointer."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainlab.config import DataSettings, LabSettings, TrainSettings
from trainlab.graphs.hpo import build_hpo_graph, recursion_limit
from trainlab.lab import LabRuntime, NullDisplay, start_run
from trainlab.lab_history import full_state
from trainlab.runstore import RunFolder, open_checkpointer

REPO = Path(__file__).resolve().parents[2]
HISTORY_KEYS = ("finals", "trials", "analyses", "research")


def tiny_settings(tmp_path: Path, rounds: int = 3, turns: int = 2, seed: int = 0) -> LabSettings:
    return LabSettings(
        rounds=rounds,
        consult_turns=turns,
        output_dir=tmp_path,
        offline=True,
        draw_graph=True,
        train=TrainSettings(epochs=2, patience=2, model_width=8, seed=seed, device="cpu"),
        data=DataSettings(dataset="synthetic", data_dir=tmp_path / "data"),
    )


def run_graph(settings: LabSettings) -> tuple[Path, dict]:
    run_dir = start_run(settings)
    with open_checkpointer(run_dir) as saver:
        compiled, _ = build_hpo_graph(LabRuntime.offline(settings), saver)
        config = {
            "configurable": {"thread_id": run_dir.name},
            "recursion_limit": recursion_limit(settings.rounds, settings.consult_turns),
        }
        state = compiled.invoke({"run_dir": str(run_dir)}, config, durability="sync")
    return run_dir, full_state(RunFolder(run_dir), state)  # the histories live on disk


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, dict]:
    return run_graph(tiny_settings(tmp_path_factory.mktemp("lab")))


def test_history_lists_grow_by_exactly_one_item_per_round(finished_run):
    _, state = finished_run
    assert all(len(state[key]) == 3 for key in HISTORY_KEYS)
    assert len(state["proposals"]) == 3 * 2 * 2  # rounds × turns × consultants
    assert [f["round"] for f in state["finals"]] == [1, 2, 3]


def test_every_round_trains_a_distinct_configuration(finished_run):
    _, state = finished_run
    configs = {json.dumps(t["effective_hparams"], sort_keys=True) for t in state["trials"]}
    assert len(configs) == 3


def test_run_folder_holds_every_artifact(finished_run):
    run_dir, _ = finished_run
    for name in (
        "config.json",
        "trials_summary.csv",
        "best_overall.json",
        "hpo_progress.png",
        "report.md",
        "checkpoints.sqlite",
    ):
        assert (run_dir / name).is_file(), name
    for k in range(3):
        for name in ("summary.json", "metrics_epoch.csv", "analysis.json", "research.json"):
            assert (run_dir / f"trial_{k}" / name).is_file(), (k, name)
    rows = list(csv.DictReader((run_dir / "trials_summary.csv").open()))
    assert [int(r["round"]) for r in rows] == [1, 2, 3]
    best = json.loads((run_dir / "best_overall.json").read_text())
    assert best["best_val_acc"] == max(float(r["best_val_acc"] or 0) for r in rows)
    assert best["seed"] == 0 and best["val_and_test_same_dataset"] is True


def test_hundred_rounds_fit_the_recursion_limit():
    assert recursion_limit(100, 2) >= 100 * (2 * 2 + 5)


def test_same_seed_gives_the_same_decisions(tmp_path):
    first = run_graph(tiny_settings(tmp_path / "a", rounds=2, turns=1, seed=4))[1]
    second = run_graph(tiny_settings(tmp_path / "b", rounds=2, turns=1, seed=4))[1]
    assert [f["hparams"] for f in first["finals"]] == [f["hparams"] for f in second["finals"]]
    assert [t["best_val_acc"] for t in first["trials"]] == [
        t["best_val_acc"] for t in second["trials"]
    ]


def lab_command(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "main.py"), *args]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(lab_command(*args), cwd=cwd, capture_output=True, text=True, timeout=600)


def test_sigkill_mid_trial_then_resume_gives_exactly_rounds_trials(tmp_path):
    args = [
        "--offline",
        "--dataset",
        "digits",
        "--rounds",
        "3",
        "--epochs",
        "4",
        "--width",
        "32",
        "--device",
        "cpu",
        "--output-dir",
        str(tmp_path),
        "--draw-graph",
    ]
    proc = subprocess.Popen(
        lab_command(*args), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoint = wait_for_mid_trial_checkpoint(tmp_path, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run_dir = checkpoint.parent.parent
    first_summary = run_dir / "trial_0" / "summary.json"
    first_mtime = first_summary.stat().st_mtime_ns
    assert not (checkpoint.parent / "summary.json").exists()  # killed in the middle of trial 2
    assert (run_dir / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # drawn offline

    resumed = run_cli("--resume", str(run_dir), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = list(csv.DictReader((run_dir / "trials_summary.csv").open()))
    assert [int(r["round"]) for r in rows] == [1, 2, 3]
    assert sorted(p.name for p in run_dir.glob("trial_*")) == ["trial_0", "trial_1", "trial_2"]
    assert first_summary.stat().st_mtime_ns == first_mtime  # the finished trial was not rerun
    resumed_trial = json.loads((checkpoint.parent / "summary.json").read_text())
    assert resumed_trial["epochs_run"] >= 1

    again = run_cli("--resume", str(run_dir), cwd=tmp_path)
    assert again.returncode == 0 and "already finished" in again.stdout


def wait_for_mid_trial_checkpoint(root: Path, proc: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(root.glob("*/trial_1/checkpoint_last.pt"))
        if found:
            return found[0]
        time.sleep(0.02)
    proc.kill()
    pytest.fail("the lab never reached the middle of its second trial")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rounds", "-1"], "must be a positive integer"),
        (["--dataset", "imagenet"], "invalid choice"),
        (["--resume", "no/such/run"], "no config.json"),
    ],
)
def test_bad_cli_input_fails_with_a_clear_message(tmp_path, args, message):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_checkpoint_database_is_a_clear_error(tmp_path):
    run_dir = start_run(tiny_settings(tmp_path))
    (run_dir / "checkpoints.sqlite").write_bytes(b"this is not sqlite" * 100)
    result = run_cli("--resume", str(run_dir), cwd=tmp_path)
    assert result.returncode == 2
    assert "not a readable checkpoint database" in result.stdout


class RecordingDisplay(NullDisplay):
    def __init__(self) -> None:
        self.decisions: list[tuple[int, str, str]] = []

    def decision(self, round_: int, role: str, policy: str) -> None:
        self.decisions.append((round_, role, policy))


def test_the_display_is_told_which_policy_served_each_decision(tmp_path):
    settings = tiny_settings(tmp_path, rounds=1, turns=1)
    display, run_dir = RecordingDisplay(), start_run(settings)
    with open_checkpointer(run_dir) as saver:
        compiled, _ = build_hpo_graph(LabRuntime.offline(settings, display), saver)
        config = {"configurable": {"thread_id": "t"}, "recursion_limit": recursion_limit(1, 1)}
        compiled.invoke({"run_dir": str(run_dir)}, config, durability="sync")
    roles = [role for _, role, _ in display.decisions]
    assert roles == ["consultant_a", "consultant_b", "supervisor", "analyst", "researcher"]
    assert all(policy.startswith("offline:") for _, _, policy in display.decisions)


@pytest.mark.slow
def test_the_state_stays_bounded_and_checkpoints_grow_linearly(tmp_path):
    """6 rounds: checkpoints.sqlite under 6/100 of issue 17's bound (5 MB at 100 rounds)."""
    settings = tiny_settings(tmp_path, rounds=6, turns=2)
    one_epoch = settings.train.model_copy(update={"epochs": 1})
    settings = settings.model_copy(
        update={"draw_graph": False, "stagnation_rounds": 0, "train": one_epoch}
    )
    run_dir = start_run(settings)
    with open_checkpointer(run_dir) as saver:
        compiled, _ = build_hpo_graph(LabRuntime.offline(settings), saver)
        config = {"configurable": {"thread_id": "t"}, "recursion_limit": recursion_limit(6, 2)}
        state = compiled.invoke({"run_dir": str(run_dir)}, config, durability="sync")
    assert (state["trials_done"], state["round"]) == (6, 7)
    assert not any(state.get(key) for key in ("proposals", *HISTORY_KEYS))  # all on disk
    history = full_state(RunFolder(run_dir), state)
    assert [f["round"] for f in history["finals"]] == list(range(1, 7))
    assert len(history["proposals"]) == 6 * 2 * 2
    assert (run_dir / "checkpoints.sqlite").stat().st_size < 6 / 100 * 5_000_000
