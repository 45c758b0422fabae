"""Run folders: the recorded thread, the writability probe, settings parsed over a saved run,
and an unreadable checkpoint_last.pt set aside."""

from __future__ import annotations

import sqlite3

import pytest

from trainlab.commands.lab import build_parser
from trainlab.commands.options import changed_fields, flag_values, settings_from
from trainlab.config import LabSettings, TrainSettings
from trainlab.runstore import RunFolder, check_writable, open_checkpointer
from trainlab.space import HParams
from trainlab.training.checkpoint import CHECKPOINT_LAST, UNREADABLE_SUFFIX
from trainlab.training.trainer import run_trial

HP = HParams(
    optimizer="sgd", learning_rate=0.05, train_batch_size=64, weight_decay=5e-4, label_smoothing=0.0
)


def test_a_run_without_run_json_resumes_its_one_thread_whatever_the_folder_is_called(tmp_path):
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    with open_checkpointer(renamed) as saver:
        saver.conn.execute(
            "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id) VALUES (?, '', ?)",
            ("20261125-101500", "1"),
        )
        assert RunFolder(renamed).thread_id(saver) == "20261125-101500"
    RunFolder(renamed).begin("recorded")
    with open_checkpointer(renamed) as saver:
        assert RunFolder(renamed).thread_id(saver) == "recorded"


def test_a_path_naming_a_file_is_not_writable(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="file, not a folder"):
        check_writable(tmp_path / "file")
    with pytest.raises(ValueError, match="Not a directory"):
        check_writable(tmp_path / "file" / "runs")
    check_writable(tmp_path / "new" / "runs")
    assert (tmp_path / "new" / "runs").is_dir()


def test_flags_parse_over_a_saved_runs_settings():
    saved = LabSettings(rounds=3, train=TrainSettings(epochs=2, model_width=8))
    parser, _ = build_parser()
    parser.set_defaults(**flag_values(saved))
    assert settings_from(LabSettings, parser.parse_args([])) == saved
    asked = settings_from(LabSettings, parser.parse_args(["--epochs", "5", "--rounds", "4"]))
    assert changed_fields(saved, asked) == ["rounds", "train.epochs"]


def test_an_unreadable_last_checkpoint_is_set_aside_and_the_trial_retrained(tiny_splits, tmp_path):
    trial = tmp_path / "trial_0"
    trial.mkdir()
    (trial / CHECKPOINT_LAST).write_bytes(b"\x00garbage" * 100)
    settings = TrainSettings(epochs=2, model_width=8, device="cpu", augment="none")
    summary = run_trial(HP, settings, tiny_splits, trial)
    assert summary.epochs_run == 2 and "unreadable" in summary.warnings[0]
    assert (trial / (CHECKPOINT_LAST + UNREADABLE_SUFFIX)).is_file()


def test_a_database_without_checkpoints_is_not_resumable(tmp_path):
    sqlite3.connect(tmp_path / "checkpoints.sqlite").execute(
        "CREATE TABLE t (x)"
    ).connection.commit()
    with (
        pytest.raises(RuntimeError, match="holds no checkpoint"),
        open_checkpointer(tmp_path, True),
    ):
        pass
