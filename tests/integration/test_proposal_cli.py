"""`main.py propose` and `main.py ask` offline: a validated proposal on digits end to end,
validation outcomes that are not measurements, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainlab.cli import main
from trainlab.experiments.runner import ExperimentRunner
from trainlab.proposals.request import Budget
from trainlab.proposals.schema import ResearchProposal, ResearchProposalBuilder
from trainlab.proposals.validate import validate

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--offline", "--seeds", "2", "--epochs", "1", "--width", "4", "--device", "cpu"]


def saved(tmp_path: Path, name: str) -> Path:
    (folder,) = tmp_path.glob("*/proposals")
    return folder / name


def test_offline_validated_proposal_on_digits(tmp_path, capsys) -> None:
    topic = "faster convergence for small CNNs"
    args = ["propose", "--topic", topic, "--validate", *SMALL, "--output-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "offline policies" in out and "Verdict: val_nll " in out
    proposal = ResearchProposal.model_validate_json(saved(tmp_path, "proposal.json").read_text())
    results = proposal.results
    assert results.status == "measured" and results.metric == "val_nll"
    assert {c.metric for c in results.comparisons} >= {"test_acc", "val_nll", "state_mb"}
    acc = results.comparison("test_acc")
    assert acc.n == 2 and 0.0 < acc.baseline_mean <= 1.0 and 0.0 < acc.candidate_mean <= 1.0
    assert results.comparison("state_mb").verdict == "worse"  # 4P of state against AdamW's 2P
    assert Path(results.directory, "experiment.json").is_file()
    assert "## 6. Minimal validation experiments" in saved(tmp_path, "proposal.md").read_text()


def test_a_proposal_outside_the_library_is_not_run_and_a_crash_is_recorded(
    tmp_path, monkeypatch
) -> None:
    proposal = _hand_written(components=["my_new_optimizer"])
    result = validate(proposal, Budget(seeds=2, epochs=1), tmp_path).results
    assert result.status == "not run" and "names no library component" in result.reason

    def crash(self, config):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(ExperimentRunner, "run", crash)
    named = _hand_written(components=["lamb"])
    failed = validate(named, Budget(seeds=2, epochs=1), tmp_path).results
    assert failed.status == "failed" and failed.reason == "RuntimeError: CUDA error: out of memory"
    assert named.model_copy(update={"results": failed}).verdict == "failed"


def _hand_written(components: list[str]) -> ResearchProposal:
    builder = ResearchProposalBuilder().set_title("t").set_topic("t").set_core_concept("c")
    for add in (builder.add_benefit, builder.add_risk, builder.add_related_work,
                builder.add_constraint, builder.add_assumption):  # fmt: skip
        add("x")
    return (
        builder.set_novelty("n")
        .set_implementation("i", components)
        .set_validation("p", "test_acc", "s")
        .set_scalability("s")
        .set_reasoning("r")
        .set_safety("s")
        .build()
    )


def test_ask_prints_and_saves_the_agents_answer(tmp_path, capsys) -> None:
    question = ["How", "does", "lamb", "scale", "to", "100B", "parameters?"]
    args = ["ask", "--agent", "systems", *question, "--offline", "--output-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Systems Design answers: How does lamb scale" in out and "0.8 TB" in out
    answer = json.loads(saved(tmp_path, "ask-systems.json").read_text())
    assert answer["speaker"] == "systems" and answer["kind"] == "answer"


def test_offline_an_off_library_topic_gets_a_proposal_marked_not_validated(
    tmp_path, capsys
) -> None:
    # Issue 19 changed this: offline, "quantum gravity" was refused with exit 2.
    args = ["propose", "--topic", "quantum gravity", "--offline", "--output-dir", str(tmp_path)]
    assert main(args) == 0
    assert "no component of the library implements it" in capsys.readouterr().out
    proposal = ResearchProposal.model_validate_json(saved(tmp_path, "proposal.json").read_text())
    assert proposal.components == [] and proposal.validation.experiment is None
    assert proposal.results.status == "not run" and "Closest library components" in proposal.summary


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["propose", "--topic", "x", "--pattern", "chaotic"], "invalid choice: 'chaotic'"),
        (["propose", "--topic", "   "], "error: the topic is empty"),
        (["propose", "--topic", "x", "--rounds", "0"], "must be a positive integer, got 0"),
        (["propose", "--topic", "x", "--pattern", "specialized"], "asks one agent"),
        (["ask", "--agent", "intern", "hello?"], "invalid choice: 'intern'"),
        (["ask", "--agent", "systems", " "], "error: the question is empty"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_starts_nothing(args, message, tmp_path, capsys) -> None:
    assert main([*args, "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_bad_input_through_main_py_has_no_traceback(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "propose", "--topic", ""],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "error: the topic is empty"
