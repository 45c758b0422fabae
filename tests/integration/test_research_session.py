"""`main.py research`: the interactive session (through its input stream and a pseudo-
terminal), the example scenarios, curated prompts, and what happens without a terminal."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pexpect
import pytest
from rich.console import Console

from trainlab.cli import main
from trainlab.proposals import examples
from trainlab.proposals.request import Budget
from trainlab.proposals.session import Session, saved_items
from trainlab.proposals.team_api import AgentTeam

ROOT = Path(__file__).resolve().parents[2]
TINY = Budget(seeds=2, epochs=1, width=4, device="cpu")


def session(tmp_path: Path, typed: str) -> tuple[int, str]:
    out = io.StringIO()
    team = AgentTeam(offline=True, output_dir=tmp_path, budget=TINY)
    code = Session(team, Console(file=out, width=200), io.StringIO(typed)).loop()
    return code, out.getvalue()


def test_every_menu_answer_is_saved_and_listed(tmp_path) -> None:
    typed = (
        "5\n"  # nothing saved yet
        "3\nsystems\nHow does lamb scale?\n"
        "2\nlist\ncalibration-loss\nparallel\nn\n"  # a curated prompt by name
        "1\nwhich loss for hard examples?\n"
        "2\n   \n"  # an empty topic: an error, and the menu again
        "5\nq\n"
    )
    code, out = session(tmp_path, typed)
    assert code == 0 and "Nothing saved yet." in out and "error: the topic is empty" in out
    assert "Ideas, most testable first" in out and "literature review:" in out
    kinds = [row[1] for row in saved_items(tmp_path)]
    assert sorted(kinds) == ["answer (systems)", "brainstorm", "proposal"]
    (proposal,) = tmp_path.glob("*/proposals/proposal.json")
    assert json.loads(proposal.read_text())["components"] == ["confidence_penalty"]


def test_the_session_through_a_pseudo_terminal(tmp_path) -> None:
    child = pexpect.spawn(
        sys.executable,
        [str(ROOT / "main.py"), "research", "--offline", "--output-dir", str(tmp_path)],
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=120,
        env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "OMP_NUM_THREADS": "1", "TERM": "dumb"},
    )
    child.expect("Choose")
    child.sendline("3")
    child.expect("Agent")
    child.sendline("architecture")
    child.expect("Question")
    child.sendline("What does moe add?")
    child.expect("Saved in")
    child.expect("Choose")
    child.sendline("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert list(tmp_path.glob("*/proposals/ask-architecture.md"))


def test_without_a_terminal_it_points_at_the_subcommands(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["research", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "needs a terminal" in err and "research --example" in err and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_an_unknown_prompt_is_one_line_exit_2_with_close_names(tmp_path, capsys) -> None:
    assert main(["research", "--prompt", "curriculm", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "close names: curriculum" in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_a_prompt_from_the_cli_brainstormed(tmp_path, capsys) -> None:
    args = ["research", "--prompt", "hard-examples", "--brainstorm", "--offline"]
    assert main([*args, "--output-dir", str(tmp_path)]) == 0
    assert "1. focal" in capsys.readouterr().out
    assert list(tmp_path.glob("*/proposals/brainstorm.md"))


@pytest.mark.slow
def test_the_example_scenarios_run_end_to_end(tmp_path) -> None:
    team = AgentTeam(offline=True, output_dir=tmp_path, budget=TINY)
    written = {p.name for p in examples.run(team, lambda line: None)}
    assert {"proposal.md", "proposal-2.md", "proposal-3.md", "brainstorm.md"} <= written
    assert {f"ask-{key}.md" for key in examples.QUESTIONS} <= written
    measured = [
        json.loads((team.folder / f"{stem}.json").read_text())["results"]["status"]
        for stem in ("proposal", "proposal-2", "proposal-3")
    ]
    assert measured == ["measured", "measured", "not run"]
