"""`main.py deploy`: bad input is one line and exit 2 before anything is written; end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainlab.cli import main
from trainlab.commands.options import field_help
from trainlab.deploy.settings import DeploySettings


def lab_like_run(tmp_path: Path, epochs: int = 1) -> Path:
    """A run folder made by `main.py train` on the synthetic data (trial_0, checkpoint_best.pt)."""
    flags = ["--dataset", "synthetic", "--epochs", str(epochs), "--width", "4"]
    flags += ["--batch-size", "64", "--augment", "none", "--device", "cpu"]
    code = main(
        ["train", *flags, "--optimizer", "adam", "--lr", "0.01", "--output-dir", str(tmp_path)]
    )
    assert code == 0
    (run_dir,) = tmp_path.iterdir()
    return run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return lab_like_run(tmp_path_factory.mktemp("runs"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sparsity", "1.0"], "--sparsity:"),
        (["--channel-sparsity", "-0.1"], "--channel-sparsity:"),
        (["--steps", "export,shrink"], "unknown step 'shrink'"),
        (["--trial", "5"], "--trial: no checkpoint_best.pt"),
        (["--alpha", "1.5"], "--alpha:"),
    ],
)
def test_bad_options_are_one_line_exit_2_and_write_nothing(run_dir, capsys, extra, message):
    assert main(["deploy", str(run_dir), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (run_dir / "deploy").exists()


def test_a_run_without_a_checkpoint_is_refused(run_dir, tmp_path, capsys):
    bare = tmp_path / "bare"
    (bare / "trial_0").mkdir(parents=True)
    (bare / "config.json").write_text((run_dir / "config.json").read_text())
    (bare / "trial_0" / "summary.json").write_text(
        (run_dir / "trial_0" / "summary.json").read_text()
    )
    assert main(["deploy", str(bare)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no checkpoint_best.pt" in err and "\n" not in err
    assert sorted(p.name for p in bare.iterdir()) == ["config.json", "trial_0"]


def test_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    assert main(["deploy", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_help_lists_run_dir_and_every_option_with_its_default(capsys):
    assert main(["deploy", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "RUN_DIR" in text
    for flag, default in field_help(DeploySettings):
        if flag != "--run-dir":  # the positional RUN_DIR
            shown = ",".join(default) if isinstance(default, tuple) else str(default)
            assert f"{flag} " in text and f"(default: {shown})" in text, flag


def test_quantize_implies_export_and_steps_keep_their_order():
    settings = DeploySettings(run_dir=Path("x"), steps=("distill", "quantize"))
    assert settings.steps == ("export", "quantize", "distill")


@pytest.mark.slow
def test_deploy_writes_the_chosen_steps_artifacts_and_marks_rejections(tmp_path):
    """End to end on three of the five ONNX exports (each costs seconds); prune's parts have
    their unit tests (test_deploy_prune) and its fine-tunes use the same retrain as distill."""
    run_dir = lab_like_run(tmp_path, epochs=1)
    flags = ["--steps", "export,quantize,distill", "--repeats", "3", "--student-epochs", "1"]
    flags += ["--calibration-images", "64", "--device", "cpu", "--max-drop", "0"]
    assert main(["deploy", str(run_dir), *flags]) == 0
    out = run_dir / "deploy"
    for name in (
        "model.onnx",
        "model_int8_static.onnx",
        "model_int8_dynamic.onnx",
        "model_student_distilled.onnx",
        "model_student_plain.onnx",
        "report.md",
        "accuracy_vs_size.png",
        "accuracy_vs_latency.png",
    ):
        assert (out / name).is_file(), name
    assert not list(out.glob("model_pruned_*.onnx"))  # prune was not asked for
    rows = json.loads((out / "results.json").read_text())["artifacts"]
    assert rows[0]["name"] == "float32" and rows[0]["drop_points"] == 0.0
    assert all(r["rejected"] == (r["drop_points"] > 0) for r in rows)
    assert "| artifact |" in (out / "report.md").read_text()
