"""The lab's terminal output: live progress reaches the end; the final table marks the best."""

from __future__ import annotations

import io

from lab_records import trial_summary
from rich.console import Console

from trainlab.config import DataSettings, LabSettings, TrainSettings
from trainlab.reporting.console import (
    PlainLabDisplay,
    RichLabDisplay,
    policy_label,
    run_banner,
    trials_table,
)
from trainlab.space import HParams
from trainlab.state import TrialSummary

HP = HParams(
    optimizer="adam",
    learning_rate=0.00393,
    train_batch_size=32,
    weight_decay=0.000138,
    label_smoothing=0.134,
)
SPEED = {"images_per_sec": 100.0}


def summary(acc: float) -> TrialSummary:
    return trial_summary(HP, best_val_acc=acc)


def test_round_bar_is_full_after_the_last_round_and_tracks_the_best():
    display = RichLabDisplay(Console(file=None, width=80, quiet=True), rounds=2)
    for round_, acc in ((1, 0.5), (2, 0.75)):
        for phase in ("consultant_a", "executor"):
            display.phase(round_, phase)
        display.trial_done(round_, summary(acc))
        display.phase(round_, "researcher")
    assert display.progress.tasks[display.round_task].completed == 2
    assert display.best == 0.75


def test_trials_table_fits_80_columns_and_marks_the_best_round():
    row = {
        **HP.model_dump(),
        "status": "complete",
        "best_val_acc": 0.9,
        "test_acc": None,
        "oom_adjusted": True,
        "seconds": 12.0,
    }
    console = Console(width=80, record=True)
    console.print(trials_table([{**row, "round": 1}, {**row, "round": 2}], best_round=2))
    text = console.export_text()
    assert "…" not in text
    best_line = next(line for line in text.splitlines() if "★" in line)
    assert best_line.split()[1] == "2"
    assert best_line.split()[4] == "32↓" and "—" in best_line


def test_finished_display_leaves_no_stale_epochs_line():
    console = Console(file=io.StringIO(), width=100, record=True)
    with RichLabDisplay(console, rounds=1) as display:
        display.phase(1, "executor")
        display.epoch({"epoch": 1, "epochs": 4, "train_loss": 1.0, "val_acc": 0.5, **SPEED})
        display.trial_done(1, summary(0.5))
    text = console.export_text()
    assert "round 1/1" in text and "epochs" not in text


def test_trials_table_says_when_test_acc_is_measured_on_the_validation_split():
    row = {**HP.model_dump(), "status": "complete", "best_val_acc": 0.9, "test_acc": 0.9}
    row |= {"oom_adjusted": False, "seconds": 1.0, "round": 1}
    for same, expected in ((True, True), (False, False)):
        console = Console(width=80, record=True)
        console.print(trials_table([{**row, "val_and_test_same_dataset": same}], best_round=1))
        assert ("validation = test split (--val-split 0)" in console.export_text()) is expected


def test_banner_names_dataset_rounds_epochs_device_and_the_folder_to_resume(tmp_path):
    settings = LabSettings(
        rounds=3,
        train=TrainSettings(epochs=4, device="cpu"),
        data=DataSettings(dataset="digits"),
    )
    text = run_banner(settings, tmp_path / "run", resuming=False)
    first, second = text.splitlines()
    assert "digits" in first and "3 rounds" in first and "4 epochs" in first
    assert "device cpu" in first and "validation = test split" in first
    assert f"--resume {tmp_path / 'run'}" in second


def test_trials_table_shows_a_pruned_trial_and_its_epochs():
    row = {
        **HP.model_dump(), "round": 1, "status": "pruned", "epochs_run": 2, "best_val_acc": 0.4,
        "test_acc": 0.4, "oom_adjusted": False, "seconds": 1.0,
    }  # fmt: skip
    console = Console(width=80, record=True)
    console.print(trials_table([row], best_round=None))
    text = console.export_text()
    assert "pruned@2" in text and "…" not in text


def test_policy_label_names_the_model_the_offline_policy_or_why_offline():
    assert policy_label("llm:gemini-2.5-flash") == "LLM gemini-2.5-flash"
    assert policy_label("offline:track-record") == "offline track-record"
    failed = "offline:expert (fallback: InvalidAnswer: after a retry)"
    assert policy_label(failed) == "offline expert (LLM call failed)"
    opened = "offline:expert (circuit open: ConnectError: refused)"
    assert policy_label(opened) == "offline expert (circuit breaker open)"


def test_live_display_shows_which_policy_served_each_decision():
    console = Console(file=io.StringIO(), width=120, record=True)
    with RichLabDisplay(console, rounds=1) as display:
        display.phase(1, "supervisor")
        display.decision(1, "supervisor", "offline:track-record (circuit open: timeout)")
        console.print(display.progress.get_renderable())
    assert "supervisor: offline track-record (circuit breaker open)" in console.export_text()
    plain = Console(file=io.StringIO(), width=120, record=True)
    PlainLabDisplay(plain, rounds=1).decision(1, "consultant_a", "llm:model-x")
    assert "consultant_a: LLM model-x" in plain.export_text()
