"""`main.py experiment` and `main.py components` end to end (tiny synthetic runs, CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainlab.cli import main
from trainlab.components import registry

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--dataset", "synthetic", "--epochs", "1", "--width", "4", "--device", "cpu"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--optimizer", "adamz"], "unknown optimizer 'adamz'"),
        (
            ["--loss", "focal", "--seeds", "1"],
            "--seeds: Input should be greater than or equal to 2",
        ),
        (["--model", "transformer9000"], "unknown architecture 'transformer9000'"),
        (["--all", "--optimizer", "lamb"], "--all runs every component"),
        (["--optimizer", "lamb", "--seeds", "two"], "invalid int value: 'two'"),
        ([], "nothing to compare"),
        (["--optimizer", "lamb", "--lr", "0.5"], "--lr: must be in [0.0001, 0.1], got 0.5"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["experiment", *args, "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing was started


def test_bad_input_through_main_py_has_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "main.py", "experiment", "--optimizer", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: unknown optimizer 'nope'")


def test_experiment_prints_the_comparison_and_saves_json_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["experiment", "--optimizer", "lookahead", "--loss", "focal", "--seeds", "2"]
    assert main([*args, *TINY, "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for text in ("lookahead+focal", "test acc", "test ECE", "verdict"):
        assert text in out
    (experiments,) = tmp_path.glob("*/experiments")
    result = json.loads((experiments / "lookahead+focal" / "experiment.json").read_text())
    assert result["candidate"]["label"] == "resnet9 / lookahead / focal"
    assert result["baseline"]["label"] == "resnet9 / adamw / cross_entropy"
    assert result["verdict"] in ("better", "worse", "no significant difference")
    assert len(result["candidate"]["records"]) == 2
    for plot in ("curves.png", "paired.png"):
        assert (experiments / "lookahead+focal" / plot).stat().st_size > 0


def test_components_lists_every_registered_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["components"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in registry.names())
    assert main(["components", "--kind", "loss", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in listed] == registry.names("loss")
    assert all(c["reference"] and c["idea"] for c in listed)


def test_components_bad_kind_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["components", "--kind", "optimiser"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'optimiser'" in err and len(err.strip().splitlines()) == 1
