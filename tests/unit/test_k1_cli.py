"""Bad input to `main.py k1` is one clear line on stderr and exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainlab.cli import main

BAD = [
    (["--domains", "prose,math"], "unknown name 'math'"),
    (["--domains", "prose,prose"], "repeated name"),
    (["--update-fraction", "0"], "(0, 1]"),
    (["--update-fraction", "1.01"], "(0, 1]"),
    (["--update-fraction", "half"], "expected a number"),
    (["--steps-per-domain", "0"], "must be > 0"),
    (["--steps-per-domain", "-5"], "must be > 0"),
    (["--baselines", "dense,lwf"], "unknown name 'lwf'"),
    (["--baselines", "dense,packnets"], "unknown name 'packnets'"),
    (["--baselines", "", "--match-params"], "--match-params compares methods"),
    (["--seeds", "0"], "must be > 0"),
    (["--resume", "/definitely/not/here"], "not a resumable K-1 run folder"),
    (["generate", "--checkpoint", "/no/such.pt"], "no such file"),
]


@pytest.mark.parametrize(("argv", "message"), BAD)
def test_bad_input_exits_2_with_one_line(argv: list[str], message: str, capsys) -> None:
    assert main(["k1", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_resume_of_a_folder_without_a_checkpoint_db_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "k1").mkdir()
    (tmp_path / "k1" / "settings.json").write_text("{}")
    assert main(["k1", "--resume", str(tmp_path)]) == 2
    assert "not a resumable" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["--baselines", "dense,packnets"], ["--baselines", "", "--match-params"]]
)
def test_bad_input_creates_no_run_folder(argv: list[str], tmp_path: Path) -> None:
    assert main(["k1", *argv, "--output-dir", str(tmp_path / "runs")]) == 2
    assert not (tmp_path / "runs").exists()
