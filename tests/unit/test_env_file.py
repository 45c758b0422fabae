"""`.env` is read once per process: an undecodable file is one line naming it (exit 2 from the
CLI entry, before any subcommand is imported), unparsable lines are one warning, once."""

from __future__ import annotations

import logging

import pytest

from trainlab import cli
from trainlab.agents.credentials import EnvError, load_env

NAMES = ("TRAINLAB_TEST_A", "TRAINLAB_TEST_B", "TRAINLAB_TEST_C")


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """A fresh folder as working directory; the variables a `.env` sets are restored after."""
    for name in NAMES:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_utf16_env_is_one_line_naming_the_file_and_exit_2(cwd, capsys):
    (cwd / ".env").write_text("TRAINLAB_TEST_A=1\n", encoding="utf-16")
    assert cli.main(["--help"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert str(cwd / ".env") in err and "UTF-16" in err and "save it as UTF-8" in err
    with pytest.raises(EnvError):
        load_env()


def test_a_bad_policy_variable_is_one_line_naming_it(cwd, capsys, monkeypatch):
    monkeypatch.setenv("TRAINLAB_LLM_TIMEOUT", "abc")
    assert cli.main(["--help"]) == 2
    assert "TRAINLAB_LLM_TIMEOUT must be a positive number, got 'abc'" in capsys.readouterr().err


def test_unparsable_lines_are_reported_once_with_their_numbers(cwd, caplog, monkeypatch):
    monkeypatch.setenv("TRAINLAB_TEST_C", "from-environment")
    (cwd / ".env").write_text(
        "# keys\nTRAINLAB_TEST_A=one\nnot a binding\nTRAINLAB_TEST_B='two'\n"
        "'broken\nTRAINLAB_TEST_C=from-file\n"
    )
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            env = load_env()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings
    assert "line(s) 3, 5" in warnings[0] and str(cwd / ".env") in warnings[0]
    assert (env["TRAINLAB_TEST_A"], env["TRAINLAB_TEST_B"]) == ("one", "two")
    assert env["TRAINLAB_TEST_C"] == "from-environment"  # the environment wins
